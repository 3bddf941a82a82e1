//! Conversation queues: the replies of one conversation run one at a time, in arrival
//! order, and can be stopped; different conversations run in parallel.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

type SlotMap = Arc<Mutex<HashMap<String, Arc<ConversationSlot>>>>;

/// A reply's place in its conversation's queue: it may talk to the gateway once the reply
/// before it has finished (or was dropped). Dropping a `Turn` (also by a panic) lets the next
/// reply go and forgets the conversation when it was its last reply.
pub struct Turn {
    previous: Option<oneshot::Receiver<()>>,
    _done: oneshot::Sender<()>,
    key: String,
    slot: Arc<ConversationSlot>,
    slots: SlotMap,
}

impl Drop for Turn {
    fn drop(&mut self) {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if self.slot.pending.fetch_sub(1, Ordering::SeqCst) == 1 {
            slots.remove(&self.key);
        }
    }
}

impl Turn {
    /// The conversation's slot (stop tokens).
    pub fn slot(&self) -> &ConversationSlot {
        &self.slot
    }

    /// Waits until every earlier reply of the conversation has finished.
    pub async fn wait(&mut self) {
        if let Some(previous) = self.previous.take() {
            let _ = previous.await;
        }
    }
}

/// One conversation: the tail of its reply queue and the stop tokens of its replies.
#[derive(Default)]
pub struct ConversationSlot {
    tail: Mutex<Option<oneshot::Receiver<()>>>,
    pending: AtomicUsize,
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

    /// Stops every reply of this conversation (running or queued); returns how many.
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
    slots: SlotMap,
}

impl Conversations {
    /// The slot of `key` (created on first use), without queueing.
    pub fn slot(&self, key: &str) -> Arc<ConversationSlot> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.entry(key.to_owned()).or_default().clone()
    }

    /// Queues a reply in conversation `key`, in call order, unless `max_waiting` replies
    /// already wait behind the running one: then `None` (the caller tells the user it is
    /// busy). Call from the thread that received the event, so the queue order is the
    /// arrival order.
    pub fn try_enter(&self, key: &str, max_waiting: usize) -> Option<Turn> {
        let slot = self.slot(key);
        let admitted = slot
            .pending
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |pending| {
                (pending <= max_waiting).then_some(pending + 1)
            });
        if admitted.is_err() {
            return None;
        }
        let (done, next) = oneshot::channel();
        let previous = slot
            .tail
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .replace(next);
        Some(Turn {
            previous,
            _done: done,
            key: key.to_owned(),
            slot,
            slots: self.slots.clone(),
        })
    }

    /// Stops every reply of conversation `key`; returns how many there were.
    pub fn stop_all(&self, key: &str) -> usize {
        let slot = self
            .slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned();
        slot.map_or(0, |s| s.stop_all())
    }
}
