//! The emulator's shared state: configuration, clock, and everything recorded so far.

use std::{
    collections::VecDeque,
    sync::{Mutex, MutexGuard, OnceLock},
};

use super::{
    card_callbacks::{CardCallbackRoute, CardPress},
    cards::CardStore,
    fault::FaultQueue,
    files::FileStore,
    media::MediaStore,
    qps::QpsLimiter,
    quota::MonthlyCalls,
    stream::StreamState,
    tokens::TokenStore,
    webhooks::WebhookStore,
    Call, EmulatorConfig, SentMessage,
};
use crate::{bounded, clock::Clock, notify::ChangeFeed};

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

/// Mutable state, behind one lock (handlers never await while holding it). The record lists and stores
/// are bounded by [`EmulatorConfig::record_limit`].
#[derive(Debug)]
pub(crate) struct Inner {
    /// [`EmulatorConfig::record_limit`].
    limit: Option<usize>,
    next_seq: u64,
    /// Kept sorted by `seq`.
    pub(crate) calls: VecDeque<Call>,
    pub(crate) cards: CardStore,
    pub(crate) messages: VecDeque<SentMessage>,
    pub(crate) tokens: TokenStore,
    pub(crate) webhooks: WebhookStore,
    pub(crate) faults: FaultQueue,
    pub(crate) qps: QpsLimiter,
    pub(crate) stream: StreamState,
    /// Metered calls per app and month (see `quota`).
    pub(crate) monthly: MonthlyCalls,
    /// Files users sent, by `downloadCode` (see `files`).
    pub(crate) files: FileStore,
    /// Media uploaded with `POST /media/upload` (see `media`).
    pub(crate) media: MediaStore,
    /// HTTP card-callback routes by `callbackRouteKey` (app configuration: not bounded).
    pub(crate) card_routes: std::collections::BTreeMap<String, CardCallbackRoute>,
    /// Card presses, oldest first.
    pub(crate) presses: VecDeque<CardPress>,
    /// The `seq` of the newest press.
    pub(crate) next_press: u64,
    /// Card calls that reached their handler, for `applied_timeout_every`.
    pub(crate) card_calls: u64,
    /// `seq` of every call that was applied and then answered 504, in arrival order.
    pub(crate) applied_timeouts: VecDeque<u64>,
    /// The groups the robot is a member of (see [`DingTalkEmulator::add_robot_to_group`]).
    pub(crate) robot_groups: std::collections::BTreeSet<String>,
}

impl Inner {
    fn new(limit: Option<usize>) -> Self {
        Self {
            limit,
            next_seq: 0,
            calls: VecDeque::new(),
            cards: CardStore::new(limit),
            messages: VecDeque::new(),
            tokens: TokenStore::default(),
            webhooks: WebhookStore::new(limit),
            faults: FaultQueue::default(),
            qps: QpsLimiter::default(),
            stream: StreamState::new(limit),
            monthly: MonthlyCalls::default(),
            files: FileStore::new(limit),
            media: MediaStore::new(limit),
            card_routes: std::collections::BTreeMap::new(),
            presses: VecDeque::new(),
            next_press: 0,
            card_calls: 0,
            applied_timeouts: VecDeque::new(),
            robot_groups: std::collections::BTreeSet::new(),
        }
    }

    /// [`EmulatorConfig::record_limit`].
    pub(crate) fn limit(&self) -> Option<usize> {
        self.limit
    }

    /// Records an accepted message (the oldest beyond the limit go).
    pub(crate) fn push_message(&mut self, message: SentMessage) {
        bounded::push(&mut self.messages, message, self.limit);
    }

    /// Notes that call `seq` was applied and then answered 504.
    pub(crate) fn push_applied_timeout(&mut self, seq: u64) {
        bounded::push(&mut self.applied_timeouts, seq, self.limit);
    }
}

impl Shared {
    pub(crate) fn new(config: EmulatorConfig) -> Self {
        Self {
            inner: Mutex::new(Inner::new(config.record_limit)),
            config,
            clock: Clock::start(),
            base_url: OnceLock::new(),
            runtime: OnceLock::new(),
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

    /// Stores a finished call (kept in arrival order; the oldest beyond the limit go) and wakes waiters.
    pub(crate) fn record(&self, call: Call) {
        {
            let mut inner = self.lock();
            let at = inner.calls.partition_point(|c| c.seq < call.seq);
            inner.calls.insert(at, call);
            let limit = bounded::effective(inner.limit);
            bounded::trim_front(&mut inner.calls, limit);
        }
        self.feed.bump();
    }

    /// The recorded calls, in arrival order.
    pub(crate) fn calls(&self) -> Vec<Call> {
        self.lock().calls.iter().cloned().collect()
    }

    /// The accepted plain messages, in order.
    pub(crate) fn sent_messages(&self) -> Vec<SentMessage> {
        self.lock().messages.iter().cloned().collect()
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
    /// The robot is a member of group `conversation_id` (it got a message there).
    pub(crate) fn note_robot_group(&self, conversation_id: &str) {
        self.lock().robot_groups.insert(conversation_id.to_owned());
    }

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
        self.lock().applied_timeouts.iter().copied().collect()
    }

    /// Queues a fault.
    pub(crate) fn inject(&self, fault: super::Fault) {
        self.lock().faults.push(fault);
    }
}
