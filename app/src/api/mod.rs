//! Server functions, one module per domain. Each is a public HTTP
//! endpoint: it checks the caller with [`guard`] first, validates, calls
//! `backend`, and maps the result to a model from [`crate::models`].

pub mod appointments;
pub mod auth;
pub mod bookings;
#[cfg(feature = "ssr")]
pub mod guard;
pub mod integrations;
pub mod legacy;
pub mod outbox;
pub mod outlook;
pub mod rooms;
pub mod spaces;
pub mod staff;
pub mod sync_status;
