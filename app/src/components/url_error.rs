//! Progressive enhancement for server-function errors. Without
//! JavaScript, a form post whose server function fails is redirected back
//! to the page with the error in the query (`__path`, `__err`: server_fn's
//! `ServerFnUrlError`); Leptos 0.8 does not read it back by itself, so a
//! page that wants to show the error without JavaScript uses this.

use leptos::prelude::*;
use leptos::server_fn::error::ServerFnUrlError;
use leptos_router::hooks::use_query_map;

use crate::error::AppError;

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
