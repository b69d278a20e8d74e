pub mod errors;
pub mod expiry_banner;
pub mod nav;
pub mod require_role;
pub mod session;
