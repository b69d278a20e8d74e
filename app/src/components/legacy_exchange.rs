//! The "Exchange (password authentication)" section of a staff member's or
//! a space's sync settings, marked Legacy, with Microsoft's reason. Admins
//! enter, replace or clear the settings here; the password is never shown
//! back, only "password saved". Plain forms: works without JavaScript.

use leptos::prelude::*;

use crate::api::legacy::{ClearLegacyExchange, SaveLegacyExchange, legacy_exchange};
use crate::components::field_error::{FieldError, FormError, form_error};
use crate::models::LegacyExchangeView;
use crate::wire::resource;

/// `owner_kind` is "staff" or "space"; `owner_id` 0 means the signed-in
/// staff member.
#[component]
pub fn LegacyExchangeSection(owner_kind: &'static str, owner_id: Signal<i64>) -> impl IntoView {
    let save = ServerAction::<SaveLegacyExchange>::new();
    let clear = ServerAction::<ClearLegacyExchange>::new();
    let settings = resource(
        move || (owner_id.get(), save.version().get(), clear.version().get()),
        move |(id, _, _)| legacy_exchange(owner_kind.to_owned(), id),
    );
    view! {
        <section class="card legacy" aria-labelledby="legacy-exchange" data-testid="legacy-exchange">
            <h2 id="legacy-exchange">
                "Exchange (password authentication) "
                <span class="badge legacy-badge">"Legacy"</span>
            </h2>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match settings.await {
                        Ok(v) => view! { <LegacyBody view=v save clear /> }.into_any(),
                        Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn LegacyBody(
    view: LegacyExchangeView,
    save: ServerAction<SaveLegacyExchange>,
    clear: ServerAction<ClearLegacyExchange>,
) -> impl IntoView {
    let saved = view.settings.clone();
    let error = form_error(save);
    let clear_error = form_error(clear);
    let (kind, id) = (view.owner_kind.clone(), view.owner_id.to_string());
    view! {
        <p class="banner warning" data-testid="legacy-note">{view.note.clone()}</p>
        {match saved.clone() {
            Some(s) => view! {
                <dl class="legacy-settings">
                    <dt>"Server URL"</dt><dd data-testid="legacy-server-url">{s.server_url}</dd>
                    <dt>"Account"</dt><dd data-testid="legacy-account">{s.account}</dd>
                    <dt>"Password"</dt>
                    <dd data-testid="legacy-password">{if s.password_saved { "password saved" } else { "none" }}</dd>
                    <dt>"Last changed"</dt><dd>{s.updated_at}</dd>
                </dl>
            }.into_any(),
            None => view! { <p class="muted" data-testid="legacy-none">"No legacy password settings."</p> }.into_any(),
        }}
        {view.editable.then(|| {
            let (kind2, id2) = (kind.clone(), id.clone());
            let has_saved = saved.is_some();
            let url = saved.as_ref().map(|s| s.server_url.clone()).unwrap_or_default();
            let account = saved.as_ref().map(|s| s.account.clone()).unwrap_or_default();
            view! {
                <ActionForm action=save attr:class="legacy-form">
                    <input type="hidden" name="owner_kind" value=kind.clone() />
                    <input type="hidden" name="owner_id" value=id.clone() />
                    <label>
                        "Server URL"
                        <input type="text" name="server_url" value=url />
                    </label>
                    <FieldError error field="server_url" />
                    <label>
                        "Account"
                        <input type="text" name="account" value=account />
                    </label>
                    <FieldError error field="account" />
                    <label>
                        "Password"
                        // Write-only: never filled in from the server.
                        <input type="password" name="password" autocomplete="new-password" />
                        {has_saved.then_some(view! { <span class="muted">"Leave empty to keep the saved password."</span> })}
                    </label>
                    <FieldError error field="password" />
                    <FormError error />
                    <button type="submit" class="primary">
                        {if has_saved { "Replace legacy settings" } else { "Save legacy settings" }}
                    </button>
                </ActionForm>
                {has_saved.then(|| view! {
                    <ActionForm action=clear attr:class="inline">
                        <input type="hidden" name="owner_kind" value=kind2 />
                        <input type="hidden" name="owner_id" value=id2 />
                        <button type="submit" class="danger">"Clear legacy settings"</button>
                    </ActionForm>
                    <FormError error=clear_error />
                })}
            }
        })}
    }
}
