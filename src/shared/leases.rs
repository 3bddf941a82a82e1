//! Entries a host is responsible for, shared with the other hosts under leases: the card
//! journal (each in-flight card and the text it last showed) and the inbox (each accepted
//! message no card shows yet). Each kind is a Redis hash per app plus one lease per entry,
//! which the host that holds the entry renews. When a host dies its leases lapse, and the
//! first other host to find such an entry takes it over (atomically: exactly one does): it
//! finalizes the card as interrupted with the text it showed, or answers the message.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::{scripts, SharedState, Unavailable};
use crate::card::{JournalEntry, JournalMirror};
use crate::runtime::runtime;

/// An entry kept under a lease.
pub(crate) trait Leased:
    Serialize + DeserializeOwned + Clone + Send + Sync + 'static
{
    /// The kind's name in Redis keys (`cards`, `inbox`).
    const KIND: &'static str;
    /// The entry's id (a card's `outTrackId`, a message's `msgId`).
    fn id(&self) -> &str;
}

impl Leased for JournalEntry {
    const KIND: &'static str = "cards";
    fn id(&self) -> &str {
        &self.card_id
    }
}

/// A message this host accepted and answers, until its card shows (then the card journal
/// holds the reply): another host answers it if this one dies first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct InboxEntry {
    /// The message's `msgId`.
    pub(crate) msg_id: String,
    /// The raw event, as DingTalk delivered it.
    pub(crate) event: String,
}

impl Leased for InboxEntry {
    const KIND: &'static str = "inbox";
    fn id(&self) -> &str {
        &self.msg_id
    }
}

/// The shared card journal of an app.
pub(crate) type SharedCards = SharedLeases<JournalEntry>;
/// The shared inbox of an app.
pub(crate) type SharedInbox = SharedLeases<InboxEntry>;

/// What the shared store knows of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Known {
    /// Held: by its host, or by whichever host takes it over once its lease lapsed.
    InFlight,
    /// A host was done with it (within the last day).
    Finalized,
    /// Not in the shared store.
    Unknown,
}

/// A change, applied in order by the store's worker task (so that an entry is never put back
/// after it was forgotten).
enum Op<T> {
    Keep(T),
    Forget(String),
    RenewAll,
}

impl JournalMirror for SharedCards {
    /// Records (or updates) a card this host streams, or is creating, in the background.
    fn put(&self, entry: &JournalEntry) {
        self.hold(entry);
    }

    /// Forgets a finalized card, in the background (unless another host took it over).
    fn remove(&self, card_id: &str) {
        self.release(card_id);
    }
}

/// One app's entries of one kind, shared with the other hosts. Threads: any.
pub(crate) struct SharedLeases<T: Leased> {
    state: Arc<SharedState>,
    app_key: String,
    /// The entries this host holds (their latest versions), kept and renewed.
    live: Mutex<HashMap<String, T>>,
    ops: mpsc::UnboundedSender<Op<T>>,
    /// Called with each entry once Redis holds it (in order with the other changes).
    after_keep: std::sync::OnceLock<AfterKeep<T>>,
}

/// What is done with an entry once Redis holds it.
type AfterKeep<T> = Box<dyn Fn(&T) + Send + Sync>;

impl<T: Leased> SharedLeases<T> {
    /// The store of the app `app_key`; its worker runs on the plugin runtime for as long as
    /// the store lives.
    pub(crate) fn new(state: Arc<SharedState>, app_key: &str) -> Arc<SharedLeases<T>> {
        let (ops, mut queue) = mpsc::unbounded_channel();
        let store = Arc::new(SharedLeases {
            state,
            app_key: app_key.to_owned(),
            live: Mutex::new(HashMap::new()),
            ops,
            after_keep: std::sync::OnceLock::new(),
        });
        let weak = Arc::downgrade(&store);
        runtime().spawn(async move {
            while let Some(op) = queue.recv().await {
                let Some(store) = weak.upgrade() else { return };
                match op {
                    Op::Keep(entry) => {
                        if let (Ok(true), Some(after)) =
                            (store.keep(&entry).await, store.after_keep.get())
                        {
                            after(&entry);
                        }
                    }
                    Op::Forget(id) => store.forget(id).await,
                    Op::RenewAll => {
                        let entries: Vec<T> = store.live().values().cloned().collect();
                        for entry in entries {
                            if store.keep(&entry).await.is_err() {
                                break;
                            }
                        }
                    }
                }
            }
        });
        store
    }

    /// Calls `after` with each entry once Redis holds it (set once).
    pub(crate) fn after_keep(&self, after: impl Fn(&T) + Send + Sync + 'static) {
        let _ = self.after_keep.set(Box::new(after));
    }

    /// How long a lease lasts without a renewal.
    pub(crate) fn lease(&self) -> Duration {
        Duration::from_millis(self.state.config().lease_ms)
    }

    fn hash(&self) -> String {
        self.state.key(&["app", &self.app_key, T::KIND])
    }

    fn lease_key(&self, id: &str) -> String {
        self.state
            .key(&["app", &self.app_key, T::KIND, "lease", id])
    }

    fn done_key(&self, id: &str) -> String {
        self.state.key(&["app", &self.app_key, T::KIND, "done", id])
    }

    fn live(&self) -> std::sync::MutexGuard<'_, HashMap<String, T>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Holds (or updates) an entry of this host, in the background.
    pub(crate) fn hold(&self, entry: &T) {
        self.live().insert(entry.id().to_owned(), entry.clone());
        let _ = self.ops.send(Op::Keep(entry.clone()));
    }

    /// Lets an entry go (done with it), in the background, unless another host took it
    /// over. Nothing happens for an entry this host does not hold.
    pub(crate) fn release(&self, id: &str) {
        if self.live().remove(id).is_some() {
            let _ = self.ops.send(Op::Forget(id.to_owned()));
        }
    }

    /// Renews the lease of every entry this host holds (and puts back what a restarted
    /// Redis lost), in the background.
    pub(crate) fn renew_all(&self) {
        let _ = self.ops.send(Op::RenewAll);
    }

    async fn forget(&self, id: String) {
        let (hash, lease, done) = (self.hash(), self.lease_key(&id), self.done_key(&id));
        let host = self.state.host().to_owned();
        let _ = self
            .state
            .run(|mut c| async move {
                scripts::FORGET
                    .key(hash)
                    .key(lease)
                    .key(done)
                    .arg(id)
                    .arg(host)
                    .invoke_async::<u64>(&mut c)
                    .await
            })
            .await;
    }

    /// Keeps one entry this host holds (lease renewed, entry current); `Ok(false)` when
    /// another host took it over (this host then lets it go).
    async fn keep(&self, entry: &T) -> Result<bool, Unavailable> {
        let (hash, lease) = (self.hash(), self.lease_key(entry.id()));
        let host = self.state.host().to_owned();
        let json = serde_json::to_string(entry).unwrap_or_default();
        let id = entry.id().to_owned();
        let ms = self.state.config().lease_ms;
        let kept = self
            .state
            .run(|mut c| async move {
                scripts::KEEP
                    .key(hash)
                    .key(lease)
                    .arg(id)
                    .arg(host)
                    .arg(ms)
                    .arg(json)
                    .invoke_async::<u64>(&mut c)
                    .await
            })
            .await?;
        if kept == 0 && self.live().remove(entry.id()).is_some() {
            log::warn!(
                "{} {}: another host took it over (this host's lease lapsed); it is theirs now",
                T::KIND,
                entry.id()
            );
        }
        Ok(kept == 1)
    }

    /// What the shared store knows of an entry found in this host's own state at start.
    pub(crate) async fn known(&self, id: &str) -> Result<Known, Unavailable> {
        let (hash, done) = (self.hash(), self.done_key(id));
        let id = id.to_owned();
        let (held, finished): (bool, bool) = self
            .state
            .run(|mut c| async move {
                redis::pipe()
                    .cmd("HEXISTS")
                    .arg(hash)
                    .arg(id)
                    .cmd("EXISTS")
                    .arg(done)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(if finished {
            Known::Finalized
        } else if held {
            Known::InFlight
        } else {
            Known::Unknown
        })
    }

    /// Every entry of the app in the shared store, whoever holds it.
    pub(crate) async fn all(&self) -> Result<Vec<T>, Unavailable> {
        let hash = self.hash();
        let values: Vec<String> = self
            .state
            .run(|mut c| async move { redis::cmd("HVALS").arg(hash).query_async(&mut c).await })
            .await?;
        Ok(values
            .iter()
            .filter_map(|json| serde_json::from_str(json).ok())
            .collect())
    }

    /// Takes over the entries of hosts that are gone (entries without a lease), each by
    /// exactly one host; returns the entries this host took (it holds them from now on).
    pub(crate) async fn take_orphans(&self) -> Vec<T> {
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
        for id in ids {
            if self.live().contains_key(&id) {
                continue;
            }
            let (hash, lease) = (self.hash(), self.lease_key(&id));
            let host = self.state.host().to_owned();
            let ms = self.state.config().lease_ms;
            let got = self
                .state
                .run(|mut c| async move {
                    scripts::TAKE_OVER
                        .key(hash)
                        .key(lease)
                        .arg(id)
                        .arg(host)
                        .arg(ms)
                        .invoke_async::<Option<String>>(&mut c)
                        .await
                })
                .await;
            match got {
                Ok(Some(json)) => match serde_json::from_str::<T>(&json) {
                    Ok(entry) => {
                        self.live().insert(entry.id().to_owned(), entry.clone());
                        taken.push(entry);
                    }
                    Err(e) => {
                        log::warn!("shared {}: an unreadable entry was skipped: {e}", T::KIND)
                    }
                },
                Ok(None) => {}
                Err(Unavailable) => break,
            }
        }
        taken
    }
}
