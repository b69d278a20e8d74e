//! Admin › Outbox: sync work not yet done, oldest first. Nothing consumes
//! it yet; the page lets admins see what will be sent to Outlook.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::outbox::outbox_records;
use crate::components::require_role::RequireRole;
use crate::models::{OutboxRecordView, Role};

#[component]
pub fn OutboxPage() -> impl IntoView {
    view! {
        <Title text="Admin › Outbox" />
        <RequireRole role=Role::Admin>
            <h1>"Admin › Outbox"</h1>
            <OutboxList />
        </RequireRole>
    }
}

#[component]
fn OutboxList() -> impl IntoView {
    let records = Resource::new(|| (), |_| outbox_records());
    view! {
        <section class="card">
            <p class="muted">"Sync work still to do (pending, failed or paused), oldest first; then the latest finished work, newest first."</p>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match records.await {
                        Ok(list) if list.is_empty() => view! { <p class="muted">"No sync work yet."</p> }.into_any(),
                        Ok(list) => view! { <OutboxTable records=list /> }.into_any(),
                        Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

/// "space_booking.created" reads "Space booking #12".
fn record_label(r: &OutboxRecordView) -> String {
    let subject = r
        .kind
        .split('.')
        .next()
        .unwrap_or_default()
        .replace('_', " ");
    let mut chars = subject.chars();
    let subject: String = match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => "Record".to_owned(),
    };
    format!("{subject} #{}", r.aggregate_id)
}

#[component]
fn OutboxTable(records: Vec<OutboxRecordView>) -> impl IntoView {
    view! {
        <table class="outbox" data-testid="outbox">
            <thead>
                <tr>
                    <th scope="col">"#"</th>
                    <th scope="col">"Kind"</th>
                    <th scope="col">"Record"</th>
                    <th scope="col">"Status"</th>
                    <th scope="col">"Attempts"</th>
                    <th scope="col">"Run after"</th>
                    <th scope="col">"Last error"</th>
                </tr>
            </thead>
            <tbody>
                {records.into_iter().map(|r| view! {
                    <tr data-kind=r.kind.clone() data-record=r.aggregate_id.to_string()>
                        <td>{r.id}</td>
                        <td><code>{r.kind.clone()}</code></td>
                        <td>{record_label(&r)}</td>
                        <td>{r.status.clone()}</td>
                        <td>{r.attempts}</td>
                        <td><time datetime=r.run_after.clone()>{r.run_after.clone()}</time></td>
                        <td>{r.last_error.clone().unwrap_or_default()}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}
