//! Wraps a page that needs a role. Visitors who are not signed in are sent
//! to the login page (and back afterwards); signed-in users without the
//! role get the 403 page. The server functions behind the page check the
//! role again on their own: this only decides what to render.
//!
//! Make a guarded page's resources and actions in the page component, not
//! in these children: Leptos may build the children more than once while
//! rendering on the server, and a resource made there fetches again for
//! each discarded copy, after the response, without the request's context.
//! (The server fns check the role, so fetching before the check is safe.)

use leptos::prelude::*;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_location;

use crate::api::auth::authorize_page;
use crate::error::AppError;
use crate::models::Role;
use crate::pages::Forbidden;
use crate::wire::Resource;

#[component]
pub fn RequireRole(role: Role, children: ChildrenFn) -> impl IntoView {
    // Blocking (`true`): the page's HTML waits for the answer.
    let access = Resource::new_with_options(|| (), move |_| authorize_page(role), true);
    let location = use_location();
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Checking access…"</p> }>
            {move || {
                let children = children.clone();
                Suspend::new(async move {
                    match access.await {
                        Ok(_) => children().into_any(),
                        Err(AppError::SignInRequired) => {
                            let here = location.pathname.get_untracked();
                            let path = format!("/login?next={}", urlencoding::encode(&here));
                            view! { <Redirect path /> }.into_any()
                        }
                        Err(AppError::Forbidden) => view! { <Forbidden /> }.into_any(),
                        Err(other) => view! {
                            <p class="error" role="alert">{other.to_string()}</p>
                        }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}
