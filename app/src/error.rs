//! The error every server function returns. Its text is what people see,
//! so each variant says what happened and what to do; internal details are
//! logged on the server and never sent.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("Please sign in to continue.")]
    SignInRequired,
    #[error("You do not have access to this page.")]
    Forbidden,
    #[error("Email or password is incorrect.")]
    InvalidCredentials,
    #[error("Too many failed sign-in attempts from your address. Try again in {0} seconds.")]
    TooManyAttempts(u64),
    #[error("{0}")]
    Invalid(String),
    /// Bad input in one form field: pages show `message` next to `field`
    /// (the form field's name).
    #[error("{message}")]
    Field { field: String, message: String },
    #[error(
        "Something went wrong on the server. Please try again; if it keeps happening, tell your administrator."
    )]
    Internal,
    /// Microsoft refused the credentials; says what to fix.
    #[error("{0}")]
    CredentialsRejected(String),
    /// Microsoft could not be reached; the admin may save anyway.
    #[error("{0}")]
    MicrosoftUnreachable(String),
    #[error("Could not reach Calbridge: {0}")]
    Communication(String),
}

impl AppError {
    /// The HTTP status a server function answers with for this error.
    pub fn status(&self) -> u16 {
        match self {
            AppError::SignInRequired | AppError::InvalidCredentials => 401,
            AppError::Forbidden => 403,
            AppError::TooManyAttempts(_) => 429,
            AppError::Invalid(_) | AppError::Field { .. } | AppError::CredentialsRejected(_) => 400,
            AppError::MicrosoftUnreachable(_) => 502,
            AppError::Internal | AppError::Communication(_) => 500,
        }
    }
}

impl AppError {
    /// A message for one form field; the first letter is capitalised and
    /// a full stop added, so backend wording reads as a sentence.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let mut chars = message.chars();
        let mut sentence: String = match chars.next() {
            Some(first) => first.to_uppercase().chain(chars).collect(),
            None => String::new(),
        };
        if !sentence.ends_with(['.', '!', '?']) {
            sentence.push('.');
        }
        AppError::Field {
            field: field.to_owned(),
            message: sentence,
        }
    }

    /// The message for `field`, if this error is about that field.
    pub fn field_message(&self, name: &str) -> Option<String> {
        match self {
            AppError::Field { field, message } if field == name => Some(message.clone()),
            _ => None,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            // The server could not read the call's fields (one missing, a
            // number that is not one): the caller's mistake, so a 400 that
            // says what was wrong, not a 500. Forms send every field, so
            // only hand-made requests get here.
            ServerFnErrorErr::Args(detail) | ServerFnErrorErr::MissingArg(detail) => {
                AppError::Invalid(format!("The request's fields could not be read: {detail}."))
            }
            other => AppError::Communication(other.to_string()),
        }
    }
}

#[cfg(feature = "ssr")]
mod server {
    use super::AppError;
    use backend::auth::AuthError;

    impl From<AuthError> for AppError {
        fn from(e: AuthError) -> Self {
            match e {
                AuthError::SignInRequired => AppError::SignInRequired,
                AuthError::Forbidden => AppError::Forbidden,
                AuthError::Internal(detail) => AppError::internal(detail),
            }
        }
    }

    impl From<backend::integration::SaveError> for AppError {
        fn from(e: backend::integration::SaveError) -> Self {
            use backend::integration::SaveError;
            match e {
                SaveError::Invalid(message) => AppError::Invalid(message),
                SaveError::Credentials(p) if p.is_unreachable() => {
                    AppError::MicrosoftUnreachable(p.to_string())
                }
                SaveError::Credentials(p) => AppError::CredentialsRejected(p.to_string()),
                SaveError::Store(e) => AppError::internal(e),
            }
        }
    }

    impl AppError {
        /// Logs what went wrong and returns the generic message.
        pub fn internal(detail: impl std::fmt::Display) -> Self {
            tracing::error!(%detail, "server function failed");
            AppError::Internal
        }
    }
}
