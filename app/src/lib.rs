//! Calbridge's user interface. Pages call server functions (grouped by
//! domain in [`api`]); with the `ssr` feature those call into `backend`.
//! [`models`] holds what crosses the wire, and nothing secret.

#![recursion_limit = "256"]

pub mod api;
pub mod components;
pub mod error;
pub mod models;
pub mod pages;
pub mod wire;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{Lazy, SsrMode, path};

use crate::components::live::LiveIntegration;
use crate::components::nav::Nav;
use crate::components::session::SessionActions;
use crate::pages::NotFound;
use crate::pages::routes::*;

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    SessionActions::provide();
    LiveIntegration::provide();
    mark_hydrated();

    view! {
        <Stylesheet id="leptos" href="/pkg/calbridge.css" />
        <Title formatter=|page: String| {
            if page.is_empty() { "Calbridge".to_owned() } else { format!("{page} · Calbridge") }
        } />
        <Router>
            <Nav />
            <main class="page">
                <ErrorBoundary fallback=components::errors::error_list>
                    <Routes fallback=NotFound>
                        // In order, not out of order: the signed-in part
                        // of the navigation must be in the HTML itself,
                        // not swapped in by a script, or pages without
                        // JavaScript never show who is signed in.
                        <Route path=path!("/") view={Lazy::<HomeRoute>::new()} ssr=SsrMode::InOrder />
                        <Route path=path!("/login") view={Lazy::<LoginRoute>::new()} ssr=SsrMode::InOrder />
                        <Route path=path!("/logout") view={Lazy::<LogoutRoute>::new()} ssr=SsrMode::InOrder />
                        <Route path=path!("/spaces") view={Lazy::<SpacesRoute>::new()} ssr=SsrMode::InOrder />
                        // The grid, the booking form and the staff list
                        // are all in the HTML, for browsers without
                        // JavaScript.
                        <Route path=path!("/spaces/:id") view={Lazy::<SpaceRoute>::new()} ssr=SsrMode::Async />
                        <Route
                            path=path!("/appointments")
                            view={Lazy::<AppointmentsRoute>::new()}
                            ssr=SsrMode::InOrder
                        />
                        // Guarded pages render only after the role check
                        // has finished, so the response can carry its
                        // 302 (sign in) or 403 status.
                        <Route
                            path=path!("/appointments/mine")
                            view={Lazy::<MyAppointmentsRoute>::new()}
                            ssr=SsrMode::Async
                        />
                        <Route
                            path=path!("/staff/appointments")
                            view={Lazy::<StaffAppointmentsRoute>::new()}
                            ssr=SsrMode::Async
                        />
                        <Route
                            path=path!("/staff/sync")
                            view={Lazy::<StaffSyncRoute>::new()}
                            ssr=SsrMode::Async
                        />
                        <Route
                            path=path!("/admin/staff")
                            view={Lazy::<AdminStaffRoute>::new()}
                            ssr=SsrMode::Async
                        />
                        <Route
                            path=path!("/admin/staff/:id/sync")
                            view={Lazy::<AdminStaffSyncRoute>::new()}
                            ssr=SsrMode::Async
                        />
                        <Route
                            path=path!("/admin/spaces/:id/sync")
                            view={Lazy::<AdminSpaceSyncRoute>::new()}
                            ssr=SsrMode::Async
                        />
                        <Route
                            path=path!("/admin/integrations")
                            view={Lazy::<IntegrationsRoute>::new()}
                            ssr=SsrMode::Async
                        />
                        <Route path=path!("/bookings") view={Lazy::<MyBookingsRoute>::new()} ssr=SsrMode::Async />
                        <Route
                            path=path!("/admin/spaces")
                            view={Lazy::<AdminSpacesRoute>::new()}
                            ssr=SsrMode::Async
                        />
                        <Route path=path!("/admin/outbox") view={Lazy::<OutboxRoute>::new()} ssr=SsrMode::Async />
                        <Route
                            path=path!("/admin/sync")
                            view={Lazy::<SyncDashboardRoute>::new()}
                            ssr=SsrMode::Async
                        />
                    </Routes>
                </ErrorBoundary>
            </main>
        </Router>
    }
}

/// Sets `data-hydrated` on `<body>` once the wasm has taken over, so
/// browser tests know when the page reacts to clicks. Effects run only in
/// the browser, after hydration.
fn mark_hydrated() {
    Effect::new(|_| {
        #[cfg(feature = "hydrate")]
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "");
        }
    });
}
