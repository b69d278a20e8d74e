//! Sign-in state shared by the whole page: the login and logout actions
//! (their forms post and redirect, like every form outside the islands),
//! and the current user, read once per page.

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
        // Blocking: the navigation shows who is signed in, in the HTML
        // itself.
        let user = Resource::new_with_options(|| (), |_| current_user(), true);
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
