//! What a plain form post did. Forms outside the islands (and every form
//! without JavaScript) post to their server function and are redirected
//! back to the page: when it fails, with the error in the query (`__path`,
//! `__err`: server_fn's `ServerFnUrlError`), which Leptos 0.8 does not read
//! back by itself; when it succeeds, with `done` if the server function
//! says what happened (`api::guard::back_with`).

use leptos::prelude::*;
use leptos::server_fn::error::ServerFnUrlError;
use leptos_router::hooks::use_query_map;

use crate::error::AppError;
use crate::models::Done;

/// The error the server function at `path` (its `ServerFn::PATH`) left in
/// the URL, if any.
pub fn url_error(path: &'static str) -> Memo<Option<AppError>> {
    let query = use_query_map();
    Memo::new(move |_| {
        let q = query.read();
        (q.get_str("__path") == Some(path))
            .then(|| {
                q.get_str("__err")
                    .map(ServerFnUrlError::<AppError>::decode_err)
            })
            .flatten()
    })
}

/// The outcome a successful plain form post left in the URL (`?done=`,
/// see `api::guard::back_with`), if it is one of `expected`.
pub fn url_done(expected: &[Done]) -> Option<Done> {
    let done = use_query_map().read_untracked().get("done")?;
    Done::from_key(&done).filter(|d| expected.contains(d))
}

/// What the last plain post of the form whose server function is at
/// `path` did: its error (not one about a field: those show next to the
/// field), or one of the outcomes `done`.
#[component]
pub fn PostOutcome(path: &'static str, done: &'static [Done]) -> impl IntoView {
    let error = url_error(path)
        .get_untracked()
        .filter(|e| !matches!(e, AppError::Field { .. }));
    match (error, url_done(done)) {
        (Some(e), _) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
        (None, Some(d)) => view! { <p class="success" role="status">{d.message()}</p> }.into_any(),
        (None, None) => ().into_any(),
    }
}
