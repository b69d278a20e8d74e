//! The browser entry point. Calbridge renders every page on the server
//! (Leptos "islands"): only the parts that change in place — live sync
//! statuses, the integration box — are hydrated, each from the props the
//! server rendered it with, and each island's code is its own wasm file,
//! fetched only by the pages that show it (`--split`). Everything else is
//! HTML and plain forms, which work the same with JavaScript off.

// The islands' hydration functions are exported from `app`; nothing here
// calls them by name, so the crate is linked explicitly.
extern crate app;

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
    // Leptos' loader hydrates the islands after this returns.
    app::components::hydrated::count_islands();
}
