//! Every page as a lazy route: with `cargo leptos build --split` each
//! page's code is split out of the main wasm into its own file, fetched
//! when the page is first shown (the server names the files a page needs
//! in its HTML, so the browser fetches them alongside the main one).
//! Without `--split` they are ordinary routes.
//!
//! One `impl` per page, written out: `#[lazy_route]` names each split
//! after where it is written, so a macro generating them would give every
//! page the same name.

use leptos::prelude::*;
use leptos_router::{LazyRoute, lazy_route};

use super::*;

/// [`HomePage`], loaded on demand.
pub struct HomeRoute;

#[lazy_route]
impl LazyRoute for HomeRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <HomePage /> }.into_any()
    }
}

/// [`LoginPage`], loaded on demand.
pub struct LoginRoute;

#[lazy_route]
impl LazyRoute for LoginRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <LoginPage /> }.into_any()
    }
}

/// [`LogoutPage`], loaded on demand.
pub struct LogoutRoute;

#[lazy_route]
impl LazyRoute for LogoutRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <LogoutPage /> }.into_any()
    }
}

/// [`SpacesPage`], loaded on demand.
pub struct SpacesRoute;

#[lazy_route]
impl LazyRoute for SpacesRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <SpacesPage /> }.into_any()
    }
}

/// [`SpacePage`], loaded on demand.
pub struct SpaceRoute;

#[lazy_route]
impl LazyRoute for SpaceRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <SpacePage /> }.into_any()
    }
}

/// [`AppointmentsPage`], loaded on demand.
pub struct AppointmentsRoute;

#[lazy_route]
impl LazyRoute for AppointmentsRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <AppointmentsPage /> }.into_any()
    }
}

/// [`MyAppointmentsPage`], loaded on demand.
pub struct MyAppointmentsRoute;

#[lazy_route]
impl LazyRoute for MyAppointmentsRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <MyAppointmentsPage /> }.into_any()
    }
}

/// [`StaffAppointmentsPage`], loaded on demand.
pub struct StaffAppointmentsRoute;

#[lazy_route]
impl LazyRoute for StaffAppointmentsRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <StaffAppointmentsPage /> }.into_any()
    }
}

/// [`StaffSyncPage`], loaded on demand.
pub struct StaffSyncRoute;

#[lazy_route]
impl LazyRoute for StaffSyncRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <StaffSyncPage /> }.into_any()
    }
}

/// [`AdminStaffPage`], loaded on demand.
pub struct AdminStaffRoute;

#[lazy_route]
impl LazyRoute for AdminStaffRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <AdminStaffPage /> }.into_any()
    }
}

/// [`AdminStaffSyncPage`], loaded on demand.
pub struct AdminStaffSyncRoute;

#[lazy_route]
impl LazyRoute for AdminStaffSyncRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <AdminStaffSyncPage /> }.into_any()
    }
}

/// [`AdminSpaceSyncPage`], loaded on demand.
pub struct AdminSpaceSyncRoute;

#[lazy_route]
impl LazyRoute for AdminSpaceSyncRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <AdminSpaceSyncPage /> }.into_any()
    }
}

/// [`IntegrationsPage`], loaded on demand.
pub struct IntegrationsRoute;

#[lazy_route]
impl LazyRoute for IntegrationsRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <IntegrationsPage /> }.into_any()
    }
}

/// [`MyBookingsPage`], loaded on demand.
pub struct MyBookingsRoute;

#[lazy_route]
impl LazyRoute for MyBookingsRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <MyBookingsPage /> }.into_any()
    }
}

/// [`AdminSpacesPage`], loaded on demand.
pub struct AdminSpacesRoute;

#[lazy_route]
impl LazyRoute for AdminSpacesRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <AdminSpacesPage /> }.into_any()
    }
}

/// [`OutboxPage`], loaded on demand.
pub struct OutboxRoute;

#[lazy_route]
impl LazyRoute for OutboxRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <OutboxPage /> }.into_any()
    }
}

/// [`SyncDashboardPage`], loaded on demand.
pub struct SyncDashboardRoute;

#[lazy_route]
impl LazyRoute for SyncDashboardRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <SyncDashboardPage /> }.into_any()
    }
}
