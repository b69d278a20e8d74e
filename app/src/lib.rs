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
use leptos_router::{SsrMode, path};

use crate::components::nav::Nav;
use crate::components::session::SessionActions;
use crate::pages::*;

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <AutoReload options=options.clone() />
                <HydrationScripts options islands=true />
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
                        <Route path=path!("/") view=HomePage ssr=SsrMode::InOrder />
                        <Route path=path!("/login") view=LoginPage ssr=SsrMode::InOrder />
                        <Route path=path!("/logout") view=LogoutPage ssr=SsrMode::InOrder />
                        <Route path=path!("/spaces") view=SpacesPage ssr=SsrMode::InOrder />
                        // The grid, the booking form and the staff list
                        // are all in the HTML, for browsers without
                        // JavaScript.
                        <Route path=path!("/spaces/:id") view=SpacePage ssr=SsrMode::Async />
                        <Route
                            path=path!("/appointments")
                            view=AppointmentsPage
                            ssr=SsrMode::InOrder
                        />
                        // Guarded pages render only after the role check
                        // has finished, so the response can carry its
                        // 302 (sign in) or 403 status.
                        <Route
                            path=path!("/appointments/mine")
                            view=MyAppointmentsPage
                            ssr=SsrMode::Async
                        />
                        <Route
                            path=path!("/staff/appointments")
                            view=StaffAppointmentsPage
                            ssr=SsrMode::Async
                        />
                        <Route
                            path=path!("/staff/sync")
                            view=StaffSyncPage
                            ssr=SsrMode::Async
                        />
                        <Route
                            path=path!("/admin/staff")
                            view=AdminStaffPage
                            ssr=SsrMode::Async
                        />
                        <Route
                            path=path!("/admin/staff/:id/sync")
                            view=AdminStaffSyncPage
                            ssr=SsrMode::Async
                        />
                        <Route
                            path=path!("/admin/spaces/:id/sync")
                            view=AdminSpaceSyncPage
                            ssr=SsrMode::Async
                        />
                        <Route
                            path=path!("/admin/integrations")
                            view=IntegrationsPage
                            ssr=SsrMode::Async
                        />
                        <Route path=path!("/bookings") view=MyBookingsPage ssr=SsrMode::Async />
                        <Route
                            path=path!("/admin/spaces")
                            view=AdminSpacesPage
                            ssr=SsrMode::Async
                        />
                        <Route path=path!("/admin/outbox") view=OutboxPage ssr=SsrMode::Async />
                        <Route
                            path=path!("/admin/sync")
                            view=SyncDashboardPage
                            ssr=SsrMode::Async
                        />
                    </Routes>
                </ErrorBoundary>
            </main>
        </Router>
    }
}
