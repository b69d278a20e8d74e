//! sea-orm entities, one module per table.

pub mod appointment;
pub mod calendar_connection;
pub mod event_link;
pub mod external_busy_block;
pub mod free_busy_state;
pub mod integration_audit;
pub mod integration_settings;
pub mod legacy_exchange_setting;
pub mod mailbox_slot;
pub mod outbox;
pub mod room_link;
pub mod session;
pub mod space;
pub mod space_booking;
pub mod space_hours;
pub mod staff_exception;
pub mod staff_hours;
pub mod staff_profile;
pub mod user;
