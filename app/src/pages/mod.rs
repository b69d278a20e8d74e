//! One module per page.

mod admin_spaces;
mod admin_staff;
mod admin_sync;
mod appointments;
mod bookings;
mod home;
mod integrations;
mod login;
mod logout;
mod outbox;
mod spaces;
mod staff_appointments;
mod staff_sync;
mod status;
mod sync_dashboard;

pub use admin_spaces::AdminSpacesPage;
pub use admin_staff::AdminStaffPage;
pub use admin_sync::{AdminSpaceSyncPage, AdminStaffSyncPage};
pub use appointments::{AppointmentsPage, MyAppointmentsPage};
pub use bookings::MyBookingsPage;
pub use home::HomePage;
pub use integrations::IntegrationsPage;
pub use login::LoginPage;
pub use logout::LogoutPage;
pub use outbox::OutboxPage;
pub use spaces::{SpacePage, SpacesPage};
pub use staff_appointments::StaffAppointmentsPage;
pub use staff_sync::StaffSyncPage;
pub use status::{Forbidden, NotFound};
pub use sync_dashboard::SyncDashboardPage;
