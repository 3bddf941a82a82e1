//! Change notification for the record lists, so callers can wait for a condition without polling.

use std::time::Duration;
use tokio::sync::watch;

/// Bumps a version number every time a record list changes.
#[derive(Debug)]
pub(crate) struct ChangeFeed {
    tx: watch::Sender<u64>,
}

impl ChangeFeed {
    pub(crate) fn new() -> Self {
        Self {
            tx: watch::channel(0).0,
        }
    }

    /// A receiver of the version number (its current value counts as seen).
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.tx.subscribe()
    }

    /// Signals that the records changed.
    pub(crate) fn bump(&self) {
        self.tx.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// Waits until `check()` is true or `timeout` passes; re-checks after every change.
    pub(crate) async fn wait_until(
        &self,
        mut check: impl FnMut() -> bool,
        timeout: Duration,
    ) -> bool {
        let mut rx = self.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            rx.borrow_and_update();
            if check() {
                return true;
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                // Timed out, or the sender is gone (cannot happen while `self` lives): one last look.
                Ok(Err(_)) | Err(_) => return check(),
            }
        }
    }
}
