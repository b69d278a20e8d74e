//! Everything Calbridge does on the server that is not HTTP plumbing:
//! configuration, the database, accounts, sessions and (later) the
//! Microsoft integration and sync engine. The UI crate calls into this one
//! from its server functions; nothing here is compiled to wasm.

pub mod accounts;
pub mod appointments;
pub mod auth;
pub mod availability;
pub mod bookings;
pub mod config;
pub mod connections;
pub mod db;
pub mod entities;
pub mod integration;
pub mod legacy;
pub mod master_key;
pub mod microsoft;
pub mod outbox;
pub mod rooms;
pub mod rotation;
pub mod seed;
pub mod sessions;
pub mod spaces;
pub mod staff;
pub mod sync;
pub mod telemetry;
pub mod throttle;
pub mod vault;

use std::sync::Arc;

use sea_orm::DatabaseConnection;

/// The handles every request needs, cloned cheaply into server functions
/// and routes through Leptos context or axum state.
#[derive(Clone)]
pub struct Backend {
    pub db: DatabaseConnection,
    pub settings: Arc<config::Settings>,
    pub login_throttle: Arc<throttle::LoginThrottle>,
    /// Seals and opens secrets at rest.
    pub vault: Arc<vault::Vault>,
    /// Microsoft's identity platform, at `settings.microsoft_login_url`.
    pub identity: microsoft::IdentityClient,
    /// Microsoft Graph, at `settings.microsoft_graph_url`.
    pub graph: microsoft::GraphClient,
    /// This process's share of the sync engine's limits (the database
    /// holds the part shared across processes).
    pub sync: sync::SyncState,
    /// Room sync in this process: the app-only token cache (application
    /// mode) and the room poller's wake-up call.
    pub rooms: rooms::app::RoomState,
    /// Live integration status for open pages (in-process; see
    /// [`integration::events`] for several instances).
    pub integration_events: integration::IntegrationEvents,
}

impl Backend {
    pub fn new(db: DatabaseConnection, settings: config::Settings, vault: vault::Vault) -> Self {
        let identity = microsoft::IdentityClient::new(&settings.microsoft_login_url);
        let graph = microsoft::GraphClient::new(&settings.microsoft_graph_url);
        Self {
            db,
            settings: Arc::new(settings),
            login_throttle: Arc::new(throttle::LoginThrottle::default()),
            vault: Arc::new(vault),
            identity,
            graph,
            sync: sync::SyncState::default(),
            rooms: rooms::app::RoomState::default(),
            integration_events: integration::IntegrationEvents::default(),
        }
    }

    /// Tells every open page the integration's current status. Called
    /// after each change (save, activate, deactivate, disconnect).
    pub async fn announce_integration_status(&self) -> Result<(), integration::StoreError> {
        let status = integration::IntegrationStatus::current(&self.db).await?;
        self.integration_events.publish(status);
        Ok(())
    }
}
