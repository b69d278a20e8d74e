//! The browser entry point: hydrates the server-rendered page, once the
//! lazily loaded code of the page shown has arrived.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_lazy(app::App);
}
