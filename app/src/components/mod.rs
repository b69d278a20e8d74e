pub mod errors;
pub mod expiry_banner;
pub mod field_error;
pub mod live;
pub mod nav;
pub mod require_role;
pub mod session;
pub mod url_error;
