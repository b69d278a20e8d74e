use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::auth::Login;
use crate::components::session::SessionActions;
use crate::components::url_error::url_error;

#[component]
pub fn LoginPage() -> impl IntoView {
    let session = SessionActions::get();
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_else(|| "/".to_owned());
    // The page is rendered on the server; a failed sign-in is redirected
    // back here with its error in the URL.
    let error = move || url_error(Login::PATH).get().map(|e| e.to_string());
    view! {
        <Title text="Sign in" />
        <section class="card narrow">
            <h1>"Sign in"</h1>
            <ActionForm action=session.login>
                <input type="hidden" name="next" value=next />
                <label>
                    "Email"
                    <input type="email" name="email" autocomplete="username" required />
                </label>
                <label>
                    "Password"
                    <input type="password" name="password" autocomplete="current-password" required />
                </label>
                {move || error().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                <button type="submit" class="primary">"Sign in"</button>
            </ActionForm>
        </section>
    }
}
