//! Plain axum routes beside the Leptos pages and server functions.

pub mod events;
pub mod health;
pub mod metrics;
pub mod oauth;
pub mod room_oauth;
pub mod server_fn_errors;
pub mod sync_events;
pub mod webhooks;
