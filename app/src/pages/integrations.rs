//! Admin › Integrations: the "OAuth2 Outlook/Exchange Calendar Sync" box.
//! Every form is a plain HTML form (ActionForm), so the page works without
//! JavaScript (errors come back in the URL, see `url_error`). The box is
//! an island: with JavaScript it updates in place after each action, and
//! the activation status follows changes made elsewhere
//! (`LiveIntegration`).

use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

use crate::api::integrations::{
    DisconnectIntegration, SaveIntegrationSettings, SetIntegrationActive, integration_audit_log,
    integration_settings,
};
use crate::components::expiry_banner::{SecretExpiryBanner, expiry_banner};
use crate::components::hydrated::island_hydrated;
use crate::components::live::LiveIntegration;
use crate::components::refreshed::refreshed;
use crate::components::require_role::RequireRole;
use crate::components::url_error::url_error;
use crate::error::AppError;
use crate::models::{AccountType, AuditEntryView, IntegrationSettingsView, Role, is_guid};
use crate::wire::{Prop, resource};

const GUID_PATTERN: &str =
    "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";

#[component]
pub fn IntegrationsPage() -> impl IntoView {
    // Made here, outside `RequireRole`: see the note in require_role.rs.
    let settings = resource(|| (), |_| integration_settings());
    let audit = resource(|| (), |_| integration_audit_log());
    let banner = expiry_banner();
    let errors = StoredValue::new(UrlErrors::read());
    view! {
        <Title text="Admin › Integrations" />
        <RequireRole role=Role::Admin>
            <h1>"Admin › Integrations"</h1>
            <SecretExpiryBanner banner />
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match (settings.await, audit.await) {
                        (Ok(settings), Ok(audit)) => {
                            let (settings, audit) = (Prop(settings), Prop(audit));
                            let errors = Prop(errors.get_value());
                            view! { <OutlookSync settings audit errors /> }.into_any()
                        }
                        (Err(e), _) | (_, Err(e)) => {
                            view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any()
                        }
                    }
                })}
            </Suspense>
        </RequireRole>
    }
}

/// The errors a plain form post (JavaScript off) left in the URL, read on
/// the server and handed to the island: it has no router of its own.
#[derive(Clone, Default, Serialize, Deserialize)]
struct UrlErrors {
    toggle: Option<AppError>,
    save: Option<AppError>,
    disconnect: Option<AppError>,
}

impl UrlErrors {
    fn read() -> Self {
        Self {
            toggle: url_error(SetIntegrationActive::PATH).get_untracked(),
            save: url_error(SaveIntegrationSettings::PATH).get_untracked(),
            disconnect: url_error(DisconnectIntegration::PATH).get_untracked(),
        }
    }
}

/// The page's three actions; each change refreshes what the page shows.
#[derive(Clone, Copy)]
struct SyncActions {
    save: ServerAction<SaveIntegrationSettings>,
    toggle: ServerAction<SetIntegrationActive>,
    disconnect: ServerAction<DisconnectIntegration>,
}

impl SyncActions {
    fn new() -> Self {
        Self {
            save: ServerAction::new(),
            toggle: ServerAction::new(),
            disconnect: ServerAction::new(),
        }
    }

    fn changes(self) -> impl Fn() -> (usize, usize, usize) + Copy {
        move || {
            (
                self.save.version().get(),
                self.toggle.version().get(),
                self.disconnect.version().get(),
            )
        }
    }
}

/// The "OAuth2 Outlook/Exchange Calendar Sync" box and its audit log: an
/// island, so with JavaScript every action updates the box in place and
/// the status follows changes made in other windows.
#[island(lazy)]
fn OutlookSync(
    settings: Prop<IntegrationSettingsView>,
    audit: Prop<Vec<AuditEntryView>>,
    errors: Prop<UrlErrors>,
) -> impl IntoView {
    island_hydrated();
    let (settings, audit, Prop(errors)) = (settings.0, audit.0, errors);
    LiveIntegration::provide();
    let actions = SyncActions::new();
    let settings = refreshed(settings, actions.changes(), integration_settings);
    let audit = refreshed(audit, actions.changes(), integration_audit_log);
    let SyncActions {
        save,
        toggle,
        disconnect,
    } = actions;
    view! {
        <section class="card" aria-labelledby="outlook-sync">
            <h2 id="outlook-sync">"OAuth2 Outlook/Exchange Calendar Sync"</h2>
            {move || {
                let s = settings.get();
                let errors = errors.clone();
                view! {
                    <RedirectUrl url=s.redirect_url.clone() />
                    <ActivationStatus settings=s.clone() toggle from_url=errors.toggle />
                    <SettingsForm settings=s save from_url=errors.save />
                    <DisconnectForm disconnect from_url=errors.disconnect />
                }
            }}
        </section>
        <AuditLog audit />
    }
}

#[component]
fn RedirectUrl(url: String) -> impl IntoView {
    let copied = RwSignal::new(false);
    let to_copy = url.clone();
    let copy = move |_| {
        copy_to_clipboard(&to_copy);
        copied.set(true);
    };
    view! {
        <div class="field">
            <label for="redirect-url">"Redirect URL"</label>
            <div class="copy-row">
                <input id="redirect-url" type="text" readonly value=url data-testid="redirect-url" />
                <button type="button" on:click=copy>"Copy"</button>
                <span class="muted" aria-live="polite">{move || copied.get().then_some("Copied")}</span>
            </div>
            <p class="muted">
                "Register this exact URL as a Web redirect URI of the app in Azure (App registrations)."
            </p>
        </div>
    }
}

#[cfg(feature = "hydrate")]
fn copy_to_clipboard(text: &str) {
    if let Some(window) = web_sys::window() {
        // The promise settles on its own; a refused copy leaves the
        // read-only field for the admin to copy by hand.
        let _ = window.navigator().clipboard().write_text(text);
    }
}

#[cfg(not(feature = "hydrate"))]
fn copy_to_clipboard(_text: &str) {}

#[component]
fn ActivationStatus(
    settings: IntegrationSettingsView,
    toggle: ServerAction<SetIntegrationActive>,
    from_url: Option<AppError>,
) -> impl IntoView {
    // Another admin's change arrives through the live status.
    let live = LiveIntegration::get();
    let (rendered_active, rendered_disconnected) = (settings.active, settings.disconnected);
    let active = move || live.active_or(rendered_active);
    let disconnected = move || {
        live.status()
            .map_or(rendered_disconnected, |s| s.disconnected)
    };
    let error = move || {
        toggle
            .value()
            .get()
            .and_then(Result::err)
            .or_else(|| from_url.clone())
            .map(|e| e.to_string())
    };
    view! {
        <ActionForm action=toggle attr:class="activation">
            <p data-testid="activation-status">
                "Activate Calendar Sync with Azure AD OAuth 2: "
                <strong>{move || if active() { "Active" } else { "Inactive" }}</strong>
                {move || disconnected().then_some(" (disconnected for all users and spaces)")}
            </p>
            <input type="hidden" name="active" value=move || (!active()).to_string() />
            <button type="submit">{move || if active() { "Set Inactive" } else { "Set Active" }}</button>
            {move || error().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        </ActionForm>
    }
}

#[component]
fn SettingsForm(
    settings: IntegrationSettingsView,
    save: ServerAction<SaveIntegrationSettings>,
    from_url: Option<AppError>,
) -> impl IntoView {
    let app_id = RwSignal::new(settings.application_id.clone());
    let account_type = RwSignal::new(settings.account_type);
    let app_id_problem = move || {
        let id = app_id.get();
        (!id.trim().is_empty() && !is_guid(&id))
            .then_some("The Application ID is a GUID like 00000000-0000-0000-0000-000000000000.")
    };
    let outcome = move || save.value().get().or_else(|| from_url.clone().map(Err));
    // Follows toggles made elsewhere, so a later Save does not undo them.
    let live = LiveIntegration::get();
    let rendered_active = settings.active;
    let active = move || live.active_or(rendered_active);
    view! {
        <ActionForm action=save attr:class="oauth-settings">
            <label>
                "Application ID"
                <input
                    type="text"
                    name="application_id"
                    required
                    pattern=GUID_PATTERN
                    autocomplete="off"
                    spellcheck="false"
                    // The attribute for the server-rendered page (without
                    // JavaScript too), the property for live typing.
                    value=settings.application_id.clone()
                    prop:value=move || app_id.get()
                    on:input=move |ev| app_id.set(event_target_value(&ev))
                    aria-invalid=move || app_id_problem().is_some().to_string()
                />
            </label>
            {move || app_id_problem().map(|p| view! { <p class="error" data-testid="app-id-problem">{p}</p> })}
            <SecretField settings=settings.clone() />
            <label>
                "Supported Account Type"
                <select
                    name="account_type"
                    on:change=move |ev| {
                        if let Some(t) = AccountType::from_value(&event_target_value(&ev)) {
                            account_type.set(t);
                        }
                    }
                >
                    {AccountType::ALL
                        .into_iter()
                        .map(|t| view! {
                            <option value=t.value() selected=move || account_type.get() == t>{t.label()}</option>
                        })
                        .collect_view()}
                </select>
            </label>
            // Hidden by CSS unless the single-tenant choice is selected, so
            // it also follows the choice without JavaScript.
            <label class="tenant-field">
                "Tenant ID"
                <input
                    type="text"
                    name="tenant_id"
                    value=settings.tenant_id.clone()
                    autocomplete="off"
                    spellcheck="false"
                    prop:required=move || account_type.get().needs_tenant()
                />
                <span class="muted">
                    "The Directory (tenant) ID from the app's Overview page, or a verified domain. Only for \"Accounts in this organizational directory only\"."
                </span>
            </label>
            <label>
                "Client secret expires on"
                <input type="date" name="secret_expires_on" value=settings.secret_expires_on.clone().unwrap_or_default() />
                <span class="muted">"Optional. Admin pages warn from 30 days before."</span>
            </label>
            <fieldset>
                <legend>"Activate Calendar Sync with Azure AD OAuth 2"</legend>
                <label class="inline">
                    <input type="radio" name="active" value="true" checked=active />
                    "Active"
                </label>
                <label class="inline">
                    <input type="radio" name="active" value="false" checked=move || !active() />
                    "Inactive"
                </label>
            </fieldset>
            <label class="inline">
                <input type="checkbox" name="save_anyway" value="true" />
                "If Microsoft cannot be reached, save anyway without checking the credentials"
            </label>
            {move || outcome().map(|r| match r {
                Ok(ok) => view! { <p class="success" role="status" data-testid="save-outcome">{ok.message}</p> }.into_any(),
                Err(e) => save_error(e).into_any(),
            })}
            <button type="submit" class="primary">"Save Settings"</button>
        </ActionForm>
    }
}

fn save_error(e: AppError) -> impl IntoView {
    let unreachable = matches!(e, AppError::MicrosoftUnreachable(_));
    view! {
        <div class="error" role="alert" data-testid="save-outcome">
            <p>{e.to_string()}</p>
            {unreachable.then_some(view! {
                <p>"Nothing was saved. Tick \"save anyway\" and save again to store the settings unchecked."</p>
            })}
        </div>
    }
}

/// Write-only: the saved secret never comes back, only its hint.
#[component]
fn SecretField(settings: IntegrationSettingsView) -> impl IntoView {
    let input = || {
        view! {
            <label>
                "Client Secret: Value"
                <input type="password" name="client_secret" autocomplete="new-password" spellcheck="false" />
                <span class="muted">"The secret's Value (not its Secret ID), from Certificates & secrets."</span>
            </label>
        }
    };
    if !settings.secret_saved {
        return input().into_any();
    }
    let hint = settings.secret_hint.clone().unwrap_or_default();
    let expiry = settings
        .secret_expires_on
        .clone()
        .map(|d| format!(", expires on {d}"))
        .unwrap_or_default();
    view! {
        <div class="field">
            <p data-testid="secret-saved">
                {format!("A client secret is saved (starts with {hint}…{expiry}). ")}
            </p>
            <details>
                <summary>"Replace"</summary>
                {input()}
                <p class="muted">"Leave empty to keep the saved secret."</p>
            </details>
        </div>
    }
    .into_any()
}

#[component]
fn DisconnectForm(
    disconnect: ServerAction<DisconnectIntegration>,
    from_url: Option<AppError>,
) -> impl IntoView {
    let outcome = move || {
        disconnect
            .value()
            .get()
            .or_else(|| from_url.clone().map(Err))
    };
    view! {
        <ActionForm action=disconnect attr:class="danger-zone">
            <h3>"Disconnect for all users and spaces"</h3>
            <label class="inline">
                <input type="checkbox" name="confirm" value="true" required />
                "I understand: every staff member's and space's Outlook connection is revoked and its tokens erased, all sync stops, and nobody can connect until these settings are saved again with a client secret. Events already in Outlook calendars stay there; legacy password settings are not touched."
            </label>
            {move || outcome().map(|r| match r {
                Ok(message) => view! { <p class="success" role="status">{message}</p> }.into_any(),
                Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
            })}
            <button type="submit" class="danger">"Disconnect for all users and spaces"</button>
        </ActionForm>
    }
}

#[component]
fn AuditLog(audit: ReadSignal<Vec<AuditEntryView>>) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="integration-audit">
            <h2 id="integration-audit">"Changes to this integration"</h2>
            {move || {
                let entries = audit.get();
                if entries.is_empty() {
                    return view! { <p class="muted">"No changes yet."</p> }.into_any();
                }
                view! {
                    <ul class="audit-log" data-testid="audit-log">
                        {entries.into_iter().map(|e| view! {
                            <li>
                                <time datetime=e.at.clone()>{e.at.clone()}</time>" · "
                                {e.actor}" · "<strong>{e.action}</strong>": "{e.detail}
                            </li>
                        }).collect_view()}
                    </ul>
                }
                .into_any()
            }}
        </section>
    }
}
