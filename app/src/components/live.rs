//! The integration's live status, through context inside the Integrations
//! page's island: in the browser an `EventSource` on `/events/integration`
//! updates it the moment an admin anywhere activates, deactivates, saves
//! or disconnects, so the status and the Save form's Active choice change
//! without a reload.

use leptos::prelude::*;

use crate::models::IntegrationStatus;

#[derive(Clone, Copy)]
pub struct LiveIntegration(RwSignal<Option<IntegrationStatus>>);

impl LiveIntegration {
    /// Provides the context inside the island and, in the browser, follows
    /// the stream (the page is an admin's: the endpoint refuses anonymous
    /// visitors). On the server it holds no push, so the island renders
    /// the status the page loaded.
    pub fn provide() -> Self {
        let live = LiveIntegration(RwSignal::new(None));
        provide_context(live);
        listen(live.0);
        live
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
