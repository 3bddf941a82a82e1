//! The emulator's shared state: configuration, clock, and everything recorded so far.

use std::sync::{Mutex, MutexGuard, OnceLock};

use super::{
    cards::CardStore, fault::FaultQueue, qps::QpsLimiter, quota::MonthlyCalls, stream::StreamState,
    tokens::TokenStore, webhooks::WebhookStore, Call, EmulatorConfig, SentMessage,
};
use crate::{clock::Clock, notify::ChangeFeed};

/// State shared by the handle and the request handlers.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: EmulatorConfig,
    pub(crate) clock: Clock,
    /// `http://127.0.0.1:PORT`, set once the listener is bound.
    pub(crate) base_url: OnceLock<String>,
    /// The runtime the server runs on (Stream-mode timers and connections are spawned there).
    pub(crate) runtime: OnceLock<tokio::runtime::Handle>,
    inner: Mutex<Inner>,
    pub(crate) feed: ChangeFeed,
}

/// Mutable state, behind one lock (handlers never await while holding it).
#[derive(Debug, Default)]
pub(crate) struct Inner {
    next_seq: u64,
    pub(crate) calls: Vec<Call>,
    pub(crate) cards: CardStore,
    pub(crate) messages: Vec<SentMessage>,
    pub(crate) tokens: TokenStore,
    pub(crate) webhooks: WebhookStore,
    pub(crate) faults: FaultQueue,
    pub(crate) qps: QpsLimiter,
    pub(crate) stream: StreamState,
    /// Metered calls per app and month (see `quota`).
    pub(crate) monthly: MonthlyCalls,
    /// Card calls that reached their handler, for `applied_timeout_every`.
    pub(crate) card_calls: u64,
    /// `seq` of every call that was applied and then answered 504, in arrival order.
    pub(crate) applied_timeouts: Vec<u64>,
}

impl Shared {
    pub(crate) fn new(config: EmulatorConfig) -> Self {
        Self {
            config,
            clock: Clock::start(),
            base_url: OnceLock::new(),
            runtime: OnceLock::new(),
            inner: Mutex::new(Inner::default()),
            feed: ChangeFeed::new(),
        }
    }

    /// Locks the state (a panicked handler does not poison the emulator).
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The next call sequence number (from 1).
    pub(crate) fn next_seq(&self) -> u64 {
        let mut inner = self.lock();
        inner.next_seq += 1;
        inner.next_seq
    }

    /// Stores a finished call (kept in arrival order) and wakes waiters.
    pub(crate) fn record(&self, call: Call) {
        {
            let mut inner = self.lock();
            let at = inner.calls.partition_point(|c| c.seq < call.seq);
            inner.calls.insert(at, call);
        }
        self.feed.bump();
    }

    /// The base URL (empty before the listener is bound).
    pub(crate) fn base_url(&self) -> &str {
        self.base_url.get().map(String::as_str).unwrap_or_default()
    }
}

/// Operations shared by the handle API and the control API.
impl Shared {
    /// Issues a session webhook for a conversation: `(url, expiry epoch ms)`.
    pub(crate) fn new_session_webhook(&self, conversation_id: &str) -> (String, i64) {
        let ttl_ms = i64::try_from(self.config.session_webhook_ttl.as_millis()).unwrap_or(i64::MAX);
        let expires_at = self.clock.epoch_now().saturating_add(ttl_ms);
        (
            self.session_webhook_until(conversation_id, expires_at),
            expires_at,
        )
    }

    /// Issues a session webhook URL for a conversation, valid until `expires_at` (epoch ms).
    pub(crate) fn session_webhook_until(&self, conversation_id: &str, expires_at: i64) -> String {
        let id = self.lock().webhooks.create(conversation_id, expires_at);
        format!("{}/robot/sendBySession?session={id}", self.base_url())
    }

    /// Expires every issued session webhook.
    pub(crate) fn expire_session_webhooks(&self) {
        self.lock().webhooks.expire_all();
    }

    /// Invalidates every issued token.
    pub(crate) fn revoke_tokens(&self) {
        self.lock().tokens.revoke_all();
    }

    /// The configured app's metered calls in the current month.
    pub(crate) fn monthly_calls(&self) -> u64 {
        let now = self.clock.epoch_now();
        self.lock().monthly.get(&self.config.app_key, now)
    }

    /// `seq`s of the calls that were applied and then answered 504.
    pub(crate) fn applied_timeouts(&self) -> Vec<u64> {
        self.lock().applied_timeouts.clone()
    }

    /// Queues a fault.
    pub(crate) fn inject(&self, fault: super::Fault) {
        self.lock().faults.push(fault);
    }
}
