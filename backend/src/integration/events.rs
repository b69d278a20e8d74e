//! Live integration status for every open page: whenever an admin saves,
//! activates, deactivates or disconnects, the new status is broadcast to
//! the server-sent-event streams of all signed-in browsers.
//!
//! In-process only: a `tokio::sync::broadcast` channel reaches the pages
//! connected to *this* instance. Several instances behind a load balancer
//! need a shared channel — PostgreSQL `LISTEN/NOTIFY`, which a later issue
//! adds — so that a toggle on one instance reaches pages held by another.

use sea_orm::ConnectionTrait;
use tokio::sync::{broadcast, watch};

use super::{StoreError, store};

/// What every page needs to know about the integration: whether it is on,
/// and whether "Connect with Microsoft" may be offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntegrationStatus {
    pub active: bool,
    /// Active, set up with a secret, and not disconnected.
    pub connections_allowed: bool,
    pub disconnected: bool,
}

impl IntegrationStatus {
    pub async fn current(db: &impl ConnectionTrait) -> Result<Self, StoreError> {
        let s = store::load(db).await?;
        Ok(Self {
            active: s.active,
            connections_allowed: s.active && s.is_set_up() && s.disconnected_at.is_none(),
            disconnected: s.disconnected_at.is_some(),
        })
    }
}

/// A slow page may miss intermediate statuses (it then gets the latest
/// from the database); 16 is plenty for a setting admins flip by hand.
const CAPACITY: usize = 16;

/// The broadcast hub, cloned into every request through `Backend`.
#[derive(Clone)]
pub struct IntegrationEvents {
    sender: broadcast::Sender<IntegrationStatus>,
    /// Flips to `true` at shutdown, so open streams end and the graceful
    /// shutdown does not wait for them forever.
    closing: watch::Sender<bool>,
}

impl Default for IntegrationEvents {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(CAPACITY).0,
            closing: watch::channel(false).0,
        }
    }
}

impl IntegrationEvents {
    pub fn subscribe(&self) -> Subscription {
        Subscription {
            statuses: self.sender.subscribe(),
            closing: self.closing.subscribe(),
        }
    }

    /// Sends `status` to every open stream. Nobody listening is fine.
    pub fn publish(&self, status: IntegrationStatus) {
        let _ = self.sender.send(status);
    }

    /// Ends every open stream (server shutdown).
    pub fn close(&self) {
        self.closing.send_replace(true);
    }
}

/// One page's view of the hub.
pub struct Subscription {
    statuses: broadcast::Receiver<IntegrationStatus>,
    closing: watch::Receiver<bool>,
}

/// What a stream should do next.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    Status(IntegrationStatus),
    /// Statuses were dropped for this slow reader: reload the current one.
    Missed,
    Closed,
}

impl Subscription {
    pub async fn next(&mut self) -> Next {
        if *self.closing.borrow() {
            return Next::Closed;
        }
        tokio::select! {
            received = self.statuses.recv() => match received {
                Ok(status) => Next::Status(status),
                Err(broadcast::error::RecvError::Lagged(_)) => Next::Missed,
                Err(broadcast::error::RecvError::Closed) => Next::Closed,
            },
            _ = self.closing.changed() => Next::Closed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ON: IntegrationStatus = IntegrationStatus {
        active: true,
        connections_allowed: true,
        disconnected: false,
    };

    #[tokio::test]
    async fn every_subscriber_gets_each_status_then_closes() {
        let events = IntegrationEvents::default();
        let mut a = events.subscribe();
        let mut b = events.subscribe();
        events.publish(ON);
        assert_eq!(a.next().await, Next::Status(ON));
        assert_eq!(b.next().await, Next::Status(ON));
        events.close();
        assert_eq!(a.next().await, Next::Closed);
    }

    #[tokio::test]
    async fn a_slow_subscriber_is_told_it_missed_statuses() {
        let events = IntegrationEvents::default();
        let mut slow = events.subscribe();
        for _ in 0..=CAPACITY {
            events.publish(ON);
        }
        assert_eq!(slow.next().await, Next::Missed);
    }
}
