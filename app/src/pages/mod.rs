//! One module per page.

mod admin_staff;
mod admin_sync;
mod appointments;
mod home;
mod integrations;
mod login;
mod logout;
mod spaces;
mod staff_appointments;
mod staff_sync;
mod status;

pub use admin_staff::AdminStaffPage;
pub use admin_sync::{AdminSpaceSyncPage, AdminStaffSyncPage};
pub use appointments::{AppointmentsPage, MyAppointmentsPage};
pub use home::HomePage;
pub use integrations::IntegrationsPage;
pub use login::LoginPage;
pub use logout::LogoutPage;
pub use spaces::SpacesPage;
pub use staff_appointments::StaffAppointmentsPage;
pub use staff_sync::StaffSyncPage;
pub use status::{Forbidden, NotFound};
