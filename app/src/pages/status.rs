//! Pages for "not found" and "not allowed", with their HTTP status.

use leptos::prelude::*;
use leptos_meta::Title;

#[cfg(feature = "ssr")]
fn set_status(code: http::StatusCode) {
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(code);
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    set_status(http::StatusCode::NOT_FOUND);
    view! {
        <Title text="Page not found" />
        <section class="card">
            <h1>"Page not found"</h1>
            <p>"There is no page at this address. It may have moved, or the link may be mistyped."</p>
            <p><a href="/">"Go to the start page"</a></p>
        </section>
    }
}

#[component]
pub fn Forbidden() -> impl IntoView {
    #[cfg(feature = "ssr")]
    set_status(http::StatusCode::FORBIDDEN);
    view! {
        <Title text="No access" />
        <section class="card" data-testid="forbidden">
            <h1>"403 · No access"</h1>
            <p>"Your account does not have access to this page. If you need it, ask a Calbridge administrator."</p>
            <p><a href="/">"Go to the start page"</a></p>
        </section>
    }
}
