//! The integration's live status, shared by every page through context.
//! In the browser an `EventSource` on `/events/integration` updates it
//! the moment an admin anywhere activates, deactivates, saves or
//! disconnects; the Integrations page's status and every "Connect with
//! Microsoft" control read it, so they change without a reload.

use leptos::prelude::*;

use crate::components::session::SessionActions;
use crate::models::IntegrationStatus;

#[derive(Clone, Copy)]
pub struct LiveIntegration(RwSignal<Option<IntegrationStatus>>);

impl LiveIntegration {
    /// Provides the context; in the browser, opens the event stream once
    /// someone is signed in (the endpoint refuses anonymous visitors).
    pub fn provide() {
        let status = RwSignal::new(None);
        provide_context(LiveIntegration(status));
        let session = SessionActions::get();
        let listening = StoredValue::new(false);
        // Effects run only in the browser, after hydration, so the server
        // render and the hydrated page start from the same `None`.
        Effect::new(move |_| {
            let signed_in = matches!(session.user.get(), Some(Ok(Some(_))));
            if signed_in && !listening.get_value() {
                listening.set_value(true);
                listen(status);
            }
        });
    }

    pub fn get() -> Self {
        expect_context()
    }

    /// The last status pushed since the page loaded, if any.
    pub fn status(self) -> Option<IntegrationStatus> {
        self.0.get()
    }

    /// Active? `rendered` is what the page loaded with, until a push.
    pub fn active_or(self, rendered: bool) -> bool {
        self.status().map_or(rendered, |s| s.active)
    }

    /// May "Connect with Microsoft" be offered? For every such control.
    pub fn connections_allowed_or(self, rendered: bool) -> bool {
        self.status().map_or(rendered, |s| s.connections_allowed)
    }
}

#[cfg(feature = "hydrate")]
fn listen(status: RwSignal<Option<IntegrationStatus>>) {
    use crate::models::{INTEGRATION_EVENT, INTEGRATION_EVENTS_PATH};
    use futures::StreamExt;
    use gloo_net::eventsource::futures::EventSource;

    let Ok(mut source) = EventSource::new(INTEGRATION_EVENTS_PATH) else {
        return;
    };
    let Ok(mut events) = source.subscribe(INTEGRATION_EVENT) else {
        return;
    };
    leptos::task::spawn_local(async move {
        // Dropping the source would close the connection. After network
        // errors the browser reconnects by itself and the server sends the
        // current status first, so nothing is missed.
        let _source = source;
        while let Some(next) = events.next().await {
            if let Ok((_, message)) = next
                && let Some(data) = message.data().as_string()
                && let Ok(pushed) = crate::wire::from_json::<IntegrationStatus>(&data)
            {
                status.set(Some(pushed));
            }
        }
    });
}

#[cfg(not(feature = "hydrate"))]
fn listen(_status: RwSignal<Option<IntegrationStatus>>) {}
