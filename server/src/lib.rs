//! The Calbridge server: wiring configuration, database, sessions and the
//! Leptos app into one axum router. `main.rs` is only the CLI around it;
//! integration tests start the same [`startup::Application`].

pub mod cli;
pub mod routes;
pub mod startup;
pub mod telemetry;
