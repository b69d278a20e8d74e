//! Admin › Outbox: the sync work still to do and what just went through,
//! with "Retry" on a job that failed for good or was paused, once the
//! admin has fixed the cause.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;

use crate::api::outbox::{RetryOutboxJob, outbox_records};
use crate::components::require_role::RequireRole;
use crate::components::url_error::PostOutcome;
use crate::models::{Done, OutboxRecordView, Role};
use crate::wire::{Resource, resource};

#[component]
pub fn OutboxPage() -> impl IntoView {
    // Made here, outside RequireRole, whose children are built more than
    // once on the server (see components/require_role.rs).
    let retry = ServerAction::<RetryOutboxJob>::new();
    let records = resource(move || retry.version().get(), |_| outbox_records());
    view! {
        <Title text="Admin › Outbox" />
        <RequireRole role=Role::Admin>
            <h1>"Admin › Outbox"</h1>
            <OutboxList records retry />
        </RequireRole>
    }
}

#[component]
fn OutboxList(
    records: Resource<Result<Vec<OutboxRecordView>, crate::error::AppError>>,
    retry: ServerAction<RetryOutboxJob>,
) -> impl IntoView {
    let retry_outcome =
        view! { <PostOutcome path=RetryOutboxJob::PATH done=&[Done::JobRetried] /> };
    view! {
        <section class="card">
            <p class="muted">"Sync work still to do (pending, failed or paused), oldest first; then the latest finished work, newest first."</p>
            {retry_outcome}
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match records.await {
                        Ok(list) if list.is_empty() => view! { <p class="muted">"No sync work yet."</p> }.into_any(),
                        Ok(list) => view! { <OutboxTable records=list retry /> }.into_any(),
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

/// A job stops for good when it failed without a next try, or was paused
/// (its connection needs its owner); only those get "Retry".
fn retryable(r: &OutboxRecordView) -> bool {
    matches!(r.status.as_str(), "failed" | "paused")
}

#[component]
fn OutboxTable(
    records: Vec<OutboxRecordView>,
    retry: ServerAction<RetryOutboxJob>,
) -> impl IntoView {
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
                    <th scope="col"><span class="visually-hidden">"Action"</span></th>
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
                        <td>{retryable(&r).then(|| view! {
                            <ActionForm action=retry>
                                <input type="hidden" name="job_id" value=r.id.to_string() />
                                <button type="submit" aria-label=format!("Retry job {}", r.id)>"Retry"</button>
                            </ActionForm>
                        })}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}
