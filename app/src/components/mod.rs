pub mod errors;
pub mod expiry_banner;
pub mod live;
pub mod nav;
pub mod outlook_connection;
pub mod require_role;
pub mod session;
pub mod url_error;
