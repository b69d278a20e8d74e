//! Sign-in state shared by the whole app: the login and logout actions,
//! and the current user, refetched whenever either action completes.

use leptos::prelude::*;

use crate::api::auth::{Login, Logout, current_user};
use crate::error::AppError;
use crate::models::UserView;
use crate::wire::Resource;

#[derive(Clone, Copy)]
pub struct SessionActions {
    pub login: ServerAction<Login>,
    pub logout: ServerAction<Logout>,
    pub user: Resource<Result<Option<UserView>, AppError>>,
}

impl SessionActions {
    pub fn provide() {
        let login = ServerAction::<Login>::new();
        let logout = ServerAction::<Logout>::new();
        // Blocking: the navigation shows who is signed in, and must do so
        // in the HTML itself for browsers without JavaScript.
        let user = Resource::new_with_options(
            move || (login.version().get(), logout.version().get()),
            |_| current_user(),
            true,
        );
        provide_context(SessionActions {
            login,
            logout,
            user,
        });
    }

    pub fn get() -> Self {
        expect_context::<SessionActions>()
    }
}
