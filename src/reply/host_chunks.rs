//! The chunks for the host while a model answer streams: held back until the card exists
//! (so `Started` comes first) or its creation failed, while the answer already streams into
//! card-sync.

use openclaw_skill_abi::Chunk;
use tokio::sync::mpsc::UnboundedSender;

/// The host's side of one reply. Owned by the reply task.
pub(super) struct HostChunks<'a> {
    tx: &'a UnboundedSender<Chunk>,
    held: Option<Vec<Chunk>>,
}

impl<'a> HostChunks<'a> {
    /// Chunks to `tx`, sent at once until [`HostChunks::hold`] is called.
    pub(super) fn new(tx: &'a UnboundedSender<Chunk>) -> HostChunks<'a> {
        HostChunks { tx, held: None }
    }

    /// Holds chunks back until [`HostChunks::release`] (a card is being created).
    pub(super) fn hold(&mut self) {
        self.held = Some(Vec::new());
    }

    /// Sends `chunk`, or holds it back while waiting for the card.
    pub(super) fn send(&mut self, chunk: Chunk) {
        match &mut self.held {
            Some(held) => held.push(chunk),
            None => {
                let _ = self.tx.send(chunk);
            }
        }
    }

    /// Sends `first` (if any), then everything held back; later chunks go straight out.
    pub(super) fn release(&mut self, first: Option<Chunk>) {
        if let Some(first) = first {
            let _ = self.tx.send(first);
        }
        for chunk in self.held.take().unwrap_or_default() {
            let _ = self.tx.send(chunk);
        }
    }

    /// Whether chunks are held back for the card.
    pub(super) fn waiting_for_card(&self) -> bool {
        self.held.is_some()
    }
}
