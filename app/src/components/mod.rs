pub mod errors;
pub mod nav;
pub mod require_role;
pub mod session;
