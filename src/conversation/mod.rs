//! Conversations: which messages share a gateway session, run one at a time, and can be
//! stopped. Different conversations run in parallel.

pub mod command;
pub mod dedup;
pub mod reply;
pub mod session;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

/// One conversation's turn lock and the stop tokens of its replies (running or queued).
#[derive(Default)]
pub struct ConversationSlot {
    /// Held by the reply that is talking to the gateway; FIFO-fair, so replies keep order.
    pub turn: tokio::sync::Mutex<()>,
    stops: Mutex<Vec<(u64, CancellationToken)>>,
    next_id: AtomicU64,
}

impl ConversationSlot {
    /// Registers a reply's stop token; returns the id to unregister it with.
    pub fn register(&self, token: CancellationToken) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.stops
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((id, token));
        id
    }

    /// Forgets a finished reply's token.
    pub fn unregister(&self, id: u64) {
        self.stops
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(i, _)| *i != id);
    }

    /// Stops every reply of this conversation; returns how many there were.
    pub fn stop_all(&self) -> usize {
        let stops = std::mem::take(&mut *self.stops.lock().unwrap_or_else(|e| e.into_inner()));
        for (_, t) in &stops {
            t.cancel();
        }
        stops.len()
    }
}

/// All conversations with replies in flight. Threads: any.
#[derive(Default)]
pub struct Conversations {
    slots: Mutex<HashMap<String, Arc<ConversationSlot>>>,
}

impl Conversations {
    /// The slot of `key`, created on first use.
    pub fn slot(&self, key: &str) -> Arc<ConversationSlot> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.entry(key.to_owned()).or_default().clone()
    }

    /// Drops the slot of `key` when nothing uses it any more.
    pub fn release(&self, key: &str, slot: Arc<ConversationSlot>) {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        drop(slot);
        if slots.get(key).is_some_and(|s| Arc::strong_count(s) == 1) {
            slots.remove(key);
        }
    }

    /// Conversations with replies in flight.
    pub fn active(&self) -> usize {
        self.slots.lock().map(|s| s.len()).unwrap_or(0)
    }
}
