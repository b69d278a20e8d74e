//! sea-orm entities, one module per table.

pub mod integration_audit;
pub mod integration_settings;
pub mod session;
pub mod user;
