//! One module per page.

mod admin_spaces;
mod appointments;
mod bookings;
mod home;
mod integrations;
mod login;
mod logout;
mod outbox;
mod spaces;
mod status;

pub use admin_spaces::AdminSpacesPage;
pub use appointments::AppointmentsPage;
pub use bookings::MyBookingsPage;
pub use home::HomePage;
pub use integrations::IntegrationsPage;
pub use login::LoginPage;
pub use logout::LogoutPage;
pub use outbox::OutboxPage;
pub use spaces::{SpacePage, SpacesPage};
pub use status::{Forbidden, NotFound};
