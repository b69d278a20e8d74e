use leptos::prelude::*;

/// The fallback of the app's error boundary: every error in words.
pub fn error_list(errors: ArcRwSignal<Errors>) -> impl IntoView {
    view! {
        <section class="error-page" role="alert">
            <h1>"Something went wrong"</h1>
            <ul>
                {move || {
                    errors
                        .get()
                        .into_iter()
                        .map(|(_, e)| view! { <li>{e.to_string()}</li> })
                        .collect_view()
                }}
            </ul>
            <p><a href="/">"Back to the start page"</a></p>
        </section>
    }
}
