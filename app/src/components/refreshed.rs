//! Keeping an island's data fresh. An island is rendered on the server
//! from the data the page already loaded, and gets that data as props;
//! in the browser it fetches it again (through the same server function)
//! each time something it watches changes — one of its actions completes,
//! or a live push arrives. Resources would do the same but carry their
//! own serialization into the page; the props already carry the data.

use leptos::prelude::*;

use crate::error::AppError;

/// A signal that starts as `initial` and, in the browser, takes the
/// result of `fetch` each time `changes` gives a new value. A failed
/// fetch keeps the last value: the page keeps what it showed.
pub fn refreshed<T, K, Fut>(
    initial: T,
    changes: impl Fn() -> K + 'static,
    fetch: impl Fn() -> Fut + Clone + 'static,
) -> ReadSignal<T>
where
    T: Send + Sync + 'static,
    K: 'static,
    Fut: Future<Output = Result<T, AppError>> + 'static,
{
    let (value, set_value) = signal(initial);
    // Two fetches may overlap and answer out of order: only the newest
    // one's answer is kept.
    let newest = StoredValue::new(0_u64);
    // Effects run only in the browser, so the server renders `initial`.
    // Not `immediate`: the first run only records what `changes` starts
    // from.
    Effect::watch(
        changes,
        move |_, _, _| {
            let fetch = fetch.clone();
            newest.update_value(|n| *n += 1);
            let this = newest.get_value();
            leptos::task::spawn_local(async move {
                if let Ok(fresh) = fetch().await
                    && newest.try_get_value() == Some(this)
                {
                    set_value.set(fresh);
                }
            });
        },
        false,
    );
    value
}
