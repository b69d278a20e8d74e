//! `<body data-hydrated>`: set once every island on the page has been
//! hydrated (at once when there is none), so browser tests — and anyone
//! curious — know when the page reacts to clicks. Islands are loaded
//! lazily, each when the page has one, so the entry point counts them and
//! each island counts itself down once it is built.

use leptos::prelude::*;

#[cfg(feature = "hydrate")]
thread_local! {
    static WAITING: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Called by the entry point before the islands hydrate.
#[cfg(feature = "hydrate")]
pub fn count_islands() {
    let islands = document()
        .query_selector_all("leptos-island")
        .map(|list| list.length())
        .unwrap_or(0);
    WAITING.with(|w| w.set(islands));
    if islands == 0 {
        mark_hydrated();
    }
}

/// Called first thing by every island.
pub fn island_hydrated() {
    // Effects run only in the browser, after the island is built.
    Effect::new(|_| {
        #[cfg(feature = "hydrate")]
        WAITING.with(|w| {
            let left = w.get().saturating_sub(1);
            w.set(left);
            if left == 0 {
                mark_hydrated();
            }
        });
    });
}

#[cfg(feature = "hydrate")]
fn mark_hydrated() {
    if let Some(body) = document().body() {
        let _ = body.set_attribute("data-hydrated", "");
    }
}
