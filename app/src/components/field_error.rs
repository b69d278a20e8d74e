//! Errors next to the form field they are about. A server function's
//! error reaches the page either as the action's value (a form inside an
//! island, with JavaScript) or in the URL after the form post's redirect
//! (every other form, see `url_error`); [`form_error`] reads both.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use crate::components::url_error::url_error;
use crate::error::AppError;

/// The latest error of `action`, or the one its plain form post left in
/// the URL.
pub fn form_error<S>(action: ServerAction<S>) -> Signal<Option<AppError>>
where
    S: ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + 'static,
{
    let from_url = url_error(S::PATH);
    Signal::derive(move || match action.value().get() {
        Some(Err(e)) => Some(e),
        Some(Ok(_)) => None,
        None => from_url.get(),
    })
}

/// The message for the field named `field`, if the error is about it.
#[component]
pub fn FieldError(error: Signal<Option<AppError>>, field: &'static str) -> impl IntoView {
    move || {
        error.get().and_then(|e| e.field_message(field)).map(|m| {
            view! {
                <p class="error field-error" role="alert" data-field=field>{m}</p>
            }
        })
    }
}

/// An error that is not about one field (sign in, access, the server).
#[component]
pub fn FormError(error: Signal<Option<AppError>>) -> impl IntoView {
    move || {
        error
            .get()
            .filter(|e| !matches!(e, AppError::Field { .. }))
            .map(|e| view! { <p class="error" role="alert">{e.to_string()}</p> })
    }
}
