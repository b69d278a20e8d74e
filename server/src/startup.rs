//! Builds the application from settings: database, sessions, router.

use std::net::SocketAddr;

use app::{App, shell};
use axum::Router;
use axum::extract::FromRef;
use axum::routing::{get, post};
use backend::Backend;
use backend::config::Settings;
use backend::sessions::DbSessionStore;
use backend::vault::Vault;
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::session_store::ExpiredDeletion;
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::routes;

pub const SESSION_COOKIE: &str = "calbridge_session";

#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub backend: Backend,
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("database: {0}")]
    Db(#[from] sea_orm::DbErr),
    #[error("seeding demo accounts: {0}")]
    Seed(#[from] backend::accounts::AccountError),
    #[error(transparent)]
    MasterKey(#[from] backend::master_key::MasterKeyError),
    #[error("binding {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

pub struct Application {
    listener: TcpListener,
    router: Router,
    backend: Backend,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let db = backend::db::connect(&settings.database_url).await?;
        backend::db::migrate(&db).await?;
        // Fail at start, not at the first secret, when the keyring is unusable.
        let vault = Vault::load(&settings)?;
        if settings.seed_demo && backend::seed::seed_demo_accounts(&db).await? {
            print_demo_accounts();
        }

        let listener = TcpListener::bind(settings.bind_address)
            .await
            .map_err(|source| StartupError::Bind {
                addr: settings.bind_address,
                source,
            })?;
        let leptos_options = leptos_options(&settings, listener.local_addr().ok());
        let backend = Backend::new(db, settings, vault);
        let router = router(AppState {
            leptos_options,
            backend: backend.clone(),
        });
        Ok(Self {
            listener,
            router,
            backend,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let store = DbSessionStore::new(self.backend.db.clone());
        let sweeper = tokio::spawn(sweep_expired_sessions(store));
        // The sync workers (when `sync.enabled`): two per process, so a
        // slow job never holds back the claiming of the next ones.
        if self.backend.settings.sync.enabled
            && let Err(e) = backend::sync::recover_after_restart(&self.backend).await
        {
            tracing::warn!(error = %e, "could not release sync jobs left by a stopped process");
        }
        let workers = backend::sync::spawn_workers(&self.backend, 2);
        // Live status changes made by other instances (PostgreSQL only).
        let relay = self.backend.sync.changes.spawn_relay(&self.backend.db);
        tracing::info!(address = %self.listener.local_addr()?, "Calbridge is listening");
        let served = axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown({
            // Open event streams never end by themselves: close them, or
            // the graceful shutdown would wait for them forever.
            let events = self.backend.integration_events.clone();
            async move {
                shutdown_signal().await;
                events.close();
            }
        })
        .await;
        sweeper.abort();
        for w in workers.into_iter().chain(relay) {
            w.abort();
        }
        served
    }
}

/// cargo-leptos passes the site's location in `LEPTOS_*` variables when it
/// runs us; otherwise the settings say where the built site is.
fn leptos_options(settings: &Settings, bound: Option<SocketAddr>) -> LeptosOptions {
    let site_root = std::env::var("LEPTOS_SITE_ROOT")
        .unwrap_or_else(|_| settings.site_root.to_string_lossy().into_owned());
    LeptosOptions::builder()
        .output_name("calbridge")
        .site_root(site_root)
        .site_pkg_dir("pkg")
        .site_addr(bound.unwrap_or(settings.bind_address))
        .build()
}

fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let sessions = SessionManagerLayer::new(DbSessionStore::new(state.backend.db.clone()))
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        // Lax, not Strict: the OAuth callback arrives as a cross-site
        // top-level redirect and must see the session.
        .with_same_site(SameSite::Lax)
        .with_secure(state.backend.settings.serves_https())
        .with_expiry(Expiry::OnInactivity(time::Duration::days(7)));

    let context = {
        let backend = state.backend.clone();
        move || provide_context(backend.clone())
    };
    let app_shell = {
        let options = state.leptos_options.clone();
        move || shell(options.clone())
    };

    Router::new()
        .route("/healthz", get(routes::health::healthz))
        .route("/metrics", get(routes::metrics::metrics))
        .route(
            backend::integration::OAUTH_CALLBACK_PATH,
            get(routes::oauth::callback),
        )
        .route(routes::oauth::CONNECT_PATH, post(routes::oauth::connect))
        .route(
            routes::room_oauth::CONNECT_PATH,
            post(routes::room_oauth::connect),
        )
        .route(
            routes::webhooks::PATH,
            post(routes::webhooks::graph).layer(axum::extract::DefaultBodyLimit::max(
                routes::webhooks::MAX_BODY_BYTES,
            )),
        )
        .route(
            routes::webhooks::LIFECYCLE_PATH,
            post(routes::webhooks::graph).layer(axum::extract::DefaultBodyLimit::max(
                routes::webhooks::MAX_BODY_BYTES,
            )),
        )
        .route(
            app::models::INTEGRATION_EVENTS_PATH,
            get(routes::events::integration),
        )
        .route(
            "/events/spaces/{space_id}/sync",
            get(routes::sync_events::space),
        )
        .route(
            app::models::MY_SYNC_EVENTS_PATH,
            get(routes::sync_events::mine),
        )
        .route(
            app::models::ALL_SYNC_EVENTS_PATH,
            get(routes::sync_events::everything),
        )
        .leptos_routes_with_context(&state, routes, context.clone(), app_shell)
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(context, shell))
        .layer(axum::middleware::from_fn(
            routes::server_fn_errors::status_from_app_error,
        ))
        .layer(sessions)
        .layer(axum::middleware::from_fn(routes::metrics::count_requests))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Expired sessions are never loaded, but their rows would pile up.
async fn sweep_expired_sessions(store: DbSessionStore) {
    let mut every_hour = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        every_hour.tick().await;
        if let Err(e) = store.delete_expired().await {
            tracing::warn!(error = %e, "could not delete expired sessions");
        }
    }
}

fn print_demo_accounts() {
    println!("Created demo accounts (change or remove them before real use):");
    for a in &backend::seed::DEMO_ACCOUNTS {
        println!(
            "  {:<8} {:<24} password: {}",
            a.role.as_str(),
            a.email,
            a.password
        );
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}
