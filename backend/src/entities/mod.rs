//! sea-orm entities, one module per table.

pub mod appointment;
pub mod external_busy_block;
pub mod integration_audit;
pub mod integration_settings;
pub mod legacy_exchange_setting;
pub mod outbox;
pub mod session;
pub mod space;
pub mod space_booking;
pub mod space_hours;
pub mod staff_exception;
pub mod staff_hours;
pub mod staff_profile;
pub mod user;
