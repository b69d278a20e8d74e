//! One module per page.

mod appointments;
mod home;
mod integrations;
mod login;
mod logout;
mod spaces;
mod staff_sync;
mod status;

pub use appointments::AppointmentsPage;
pub use home::HomePage;
pub use integrations::IntegrationsPage;
pub use login::LoginPage;
pub use logout::LogoutPage;
pub use spaces::SpacesPage;
pub use staff_sync::StaffSyncPage;
pub use status::{Forbidden, NotFound};
