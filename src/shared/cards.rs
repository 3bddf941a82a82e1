//! The card journal across hosts: each in-flight card's entry (its last text) in a Redis hash
//! per app, and a lease the host streaming it renews. When a host dies its leases lapse, and
//! the first other host to find such a card takes it over (atomically: exactly one does) and
//! finalizes it as interrupted with the text it showed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;

use super::{scripts, SharedState, Unavailable};
use crate::card::{JournalEntry, JournalMirror};
use crate::runtime::runtime;

/// What the shared journal knows of a card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Known {
    /// In flight: its host streams it, or a host takes it over once its lease lapsed.
    InFlight,
    /// A host finalized it (within the last day).
    Finalized,
    /// Not in the shared journal.
    Unknown,
}

/// A change of the shared journal, applied in order by the app's worker task (so that a
/// card's entry is never put back after it was forgotten).
enum Op {
    Keep(JournalEntry),
    Forget(String),
    RenewAll,
}

impl JournalMirror for SharedCards {
    /// Records (or updates) a card this host streams, in the background.
    fn put(&self, entry: &JournalEntry) {
        self.live().insert(entry.card_id.clone(), entry.clone());
        let _ = self.ops.send(Op::Keep(entry.clone()));
    }

    /// Forgets a finalized card, in the background (unless another host took it over).
    fn remove(&self, card_id: &str) {
        self.live().remove(card_id);
        let _ = self.ops.send(Op::Forget(card_id.to_owned()));
    }
}

/// One app's cards in the shared journal. Threads: any.
pub(crate) struct SharedCards {
    state: Arc<SharedState>,
    app_key: String,
    /// The cards this host streams (their latest entries), kept and renewed.
    live: Mutex<HashMap<String, JournalEntry>>,
    ops: mpsc::UnboundedSender<Op>,
}

impl SharedCards {
    /// The shared journal of the app `app_key`; its worker runs on the plugin runtime for as
    /// long as the journal lives.
    pub(crate) fn new(state: Arc<SharedState>, app_key: &str) -> Arc<SharedCards> {
        let (ops, mut queue) = mpsc::unbounded_channel();
        let cards = Arc::new(SharedCards {
            state,
            app_key: app_key.to_owned(),
            live: Mutex::new(HashMap::new()),
            ops,
        });
        let weak = Arc::downgrade(&cards);
        runtime().spawn(async move {
            while let Some(op) = queue.recv().await {
                let Some(cards) = weak.upgrade() else { return };
                match op {
                    Op::Keep(entry) => {
                        let _ = cards.keep(&entry).await;
                    }
                    Op::Forget(card_id) => cards.forget(card_id).await,
                    Op::RenewAll => {
                        let entries: Vec<JournalEntry> = cards.live().values().cloned().collect();
                        for entry in entries {
                            if cards.keep(&entry).await.is_err() {
                                break;
                            }
                        }
                    }
                }
            }
        });
        cards
    }

    /// How long a lease lasts without a renewal.
    pub(crate) fn lease(&self) -> Duration {
        Duration::from_millis(self.state.config().lease_ms)
    }

    fn hash(&self) -> String {
        self.state.key(&["app", &self.app_key, "cards"])
    }

    fn lease_key(&self, card_id: &str) -> String {
        self.state.key(&["app", &self.app_key, "lease", card_id])
    }

    fn finalized_key(&self, card_id: &str) -> String {
        self.state
            .key(&["app", &self.app_key, "finalized", card_id])
    }

    fn live(&self) -> std::sync::MutexGuard<'_, HashMap<String, JournalEntry>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Renews the lease of every card this host streams (and puts back what a restarted
    /// Redis lost), in the background.
    pub(crate) fn renew_all(&self) {
        let _ = self.ops.send(Op::RenewAll);
    }

    async fn forget(&self, card_id: String) {
        let (hash, lease) = (self.hash(), self.lease_key(&card_id));
        let finalized = self.finalized_key(&card_id);
        let host = self.state.host().to_owned();
        let _ = self
            .state
            .run(|mut c| async move {
                scripts::FORGET
                    .key(hash)
                    .key(lease)
                    .key(finalized)
                    .arg(card_id)
                    .arg(host)
                    .invoke_async::<u64>(&mut c)
                    .await
            })
            .await;
    }

    /// Keeps one card this host streams (lease renewed, entry current); `Ok(false)` when
    /// another host took it over (this host then lets it go).
    async fn keep(&self, entry: &JournalEntry) -> Result<bool, Unavailable> {
        let (hash, lease) = (self.hash(), self.lease_key(&entry.card_id));
        let host = self.state.host().to_owned();
        let json = serde_json::to_string(entry).unwrap_or_default();
        let card_id = entry.card_id.clone();
        let ms = self.state.config().lease_ms;
        let kept = self
            .state
            .run(|mut c| async move {
                scripts::KEEP
                    .key(hash)
                    .key(lease)
                    .arg(card_id)
                    .arg(host)
                    .arg(ms)
                    .arg(json)
                    .invoke_async::<u64>(&mut c)
                    .await
            })
            .await?;
        if kept == 0 && self.live().remove(&entry.card_id).is_some() {
            log::warn!(
                "card {}: another host took it over (this host's lease lapsed); it is theirs to finalize",
                entry.card_id
            );
        }
        Ok(kept == 1)
    }

    /// What the shared journal knows of a card found in this host's journal at start.
    pub(crate) async fn known(&self, card_id: &str) -> Result<Known, Unavailable> {
        let (hash, finalized) = (self.hash(), self.finalized_key(card_id));
        let card_id = card_id.to_owned();
        let (in_flight, done): (bool, bool) = self
            .state
            .run(|mut c| async move {
                redis::pipe()
                    .cmd("HEXISTS")
                    .arg(hash)
                    .arg(card_id)
                    .cmd("EXISTS")
                    .arg(finalized)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(if done {
            Known::Finalized
        } else if in_flight {
            Known::InFlight
        } else {
            Known::Unknown
        })
    }

    /// Takes over the cards of hosts that are gone (entries without a lease), each by exactly
    /// one host; returns the entries this host took, to finalize.
    pub(crate) async fn take_orphans(&self) -> Vec<JournalEntry> {
        let hash = self.hash();
        let Ok(ids) = self
            .state
            .run(|mut c| async move {
                redis::cmd("HKEYS")
                    .arg(hash)
                    .query_async::<Vec<String>>(&mut c)
                    .await
            })
            .await
        else {
            return Vec::new();
        };
        let mut taken = Vec::new();
        for card_id in ids {
            if self.live().contains_key(&card_id) {
                continue;
            }
            let (hash, lease) = (self.hash(), self.lease_key(&card_id));
            let host = self.state.host().to_owned();
            let ms = self.state.config().lease_ms;
            let got = self
                .state
                .run(|mut c| async move {
                    scripts::TAKE_OVER
                        .key(hash)
                        .key(lease)
                        .arg(card_id)
                        .arg(host)
                        .arg(ms)
                        .invoke_async::<Option<String>>(&mut c)
                        .await
                })
                .await;
            match got {
                Ok(Some(json)) => match serde_json::from_str::<JournalEntry>(&json) {
                    Ok(entry) => taken.push(entry),
                    Err(e) => {
                        log::warn!("shared card journal: an unreadable entry was skipped: {e}")
                    }
                },
                Ok(None) => {}
                Err(Unavailable) => break,
            }
        }
        taken
    }
}
