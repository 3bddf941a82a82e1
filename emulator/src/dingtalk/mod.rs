//! DingTalk OpenAPI emulator.
//!
//! One HTTP server answers both hosts the bridge talks to: `api.dingtalk.com` paths (`/v1.0/…`) and
//! `oapi.dingtalk.com` paths (`/gettoken`, `/robot/sendBySession`). Behaviour follows docs/dingtalk.md and
//! docs/dingtalk-events.md ("Access tokens", "Card calls", "Reply bodies"): token issuing and checking, AI
//! Card create/deliver/stream/update with the documented validation errors, robot replies, flow control
//! (HTTP 403 `…QpsLimit…`), and the `{"code","requestid","message"}` error shape. Where the reference is
//! silent the strict choice is taken and documented at the handler.
//!
//! Pipeline per call (see `dispatch`): unknown API → 404 `InvalidAction.NotFound`; a queued [`Fault`];
//! token check; monthly quota; flow control; permission scope; parameter validation; apply. Every call is
//! recorded ([`DingTalkEmulator::calls`]), including rejected ones; a rejected or faulted call is not
//! applied, except an applied timeout (see [`DingTalkEmulator::applied_timeouts`]). The records keep
//! everything unless [`EmulatorConfig::record_limit`] bounds them for a long session; observers can follow
//! them with [`DingTalkEmulator::subscribe_changes`].
//!
//! Files users send to the robot (`add_file` → `downloadCode` → `POST /v1.0/robot/messageFiles/download` →
//! a temporary OSS-style URL on the same server) are described in `files`; media the app uploads
//! (`POST /media/upload`, oapi) in `media`; presses of card buttons ([`DingTalkEmulator::press_card`],
//! Stream and HTTP callbacks, `POST /v1.0/card/callbacks/register`) in `card_callbacks`.
//!
//! Stream mode (docs/dingtalk-events.md, "Stream mode") lives on the same server:
//! `POST /v1.0/gateway/connections/open` and the WebSocket `/connect?ticket=…`; see
//! [`DingTalkEmulator::push_bot_message`], [`DingTalkEmulator::disconnect_all`] and
//! [`DingTalkEmulator::stream_frames`].

mod card_callbacks;
mod card_create;
mod card_update;
mod cards;
mod config;
mod control;
mod dispatch;
mod fault;
mod files;
mod media;
mod model;
mod params;
mod qps;
mod quota;
mod reply;
mod robot;
mod route;
pub(crate) mod state;
mod stream;
mod tokens;
mod webhooks;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::Router;

pub use card_callbacks::{
    CallbackMode, CardCallbackRoute, CardPress, PressError, PressReceipt, PressStatus,
};
pub use config::{EmulatorConfig, MediaConfig, QpsScope, Template, DEFAULT_TEMPLATE_ID};
pub use fault::{Fault, FaultResponse};
pub use media::Media;
pub use model::{
    ApiKind, Call, Card, CardButton, CardState, CardUpdate, SentMessage, STOP_BUTTON_ID,
};
pub use robot::SESSION_INVALID_ERRCODE;
pub use stream::{
    Closer, FrameDirection, FrameKind, PushOptions, PushReceipt, StreamConfig, StreamConnection,
    StreamFrame, Subscription, BOT_MESSAGE_TOPIC, CARD_CALLBACK_TOPIC,
};

use crate::http::HttpServer;
use state::Shared;

/// A running emulator. Cheap to clone; the server stops when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct DingTalkEmulator {
    pub(crate) shared: Arc<Shared>,
    server: Arc<HttpServer>,
}

impl DingTalkEmulator {
    /// Starts on `127.0.0.1` with an ephemeral port.
    pub async fn start(config: EmulatorConfig) -> std::io::Result<Self> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), config).await
    }

    /// Starts on `addr`, which must be a loopback address (anything else is `InvalidInput`).
    pub async fn start_on(addr: SocketAddr, config: EmulatorConfig) -> std::io::Result<Self> {
        let shared = Arc::new(Shared::new(config));
        let _ = shared.runtime.set(tokio::runtime::Handle::current());
        let router = Router::new()
            .fallback(dispatch::handle)
            .with_state(shared.clone());
        let server = HttpServer::bind(addr, router).await?;
        let _ = shared.base_url.set(server.base_url());
        Ok(Self {
            shared,
            server: Arc::new(server),
        })
    }

    /// `http://127.0.0.1:PORT`, the base for both api.dingtalk.com and oapi.dingtalk.com paths.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// The instant the record clock started: every `at_ms` in the records counts from it.
    pub fn started_at(&self) -> std::time::Instant {
        self.shared.clock.started_at()
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &EmulatorConfig {
        &self.shared.config
    }

    /// Every DingTalk call so far (the newest [`record_limit`](EmulatorConfig::record_limit) ones), in
    /// arrival order (control calls excluded).
    pub fn calls(&self) -> Vec<Call> {
        self.shared.calls()
    }

    /// Every card instance (at most [`record_limit`](EmulatorConfig::record_limit)), in creation order.
    pub fn cards(&self) -> Vec<Card> {
        self.shared.lock().cards.all()
    }

    /// One card by `outTrackId`.
    pub fn card(&self, out_track_id: &str) -> Option<Card> {
        self.shared.lock().cards.get(out_track_id).cloned()
    }

    /// Makes the robot a member of group `conversation_id` (as adding it in the group's settings
    /// does). The robot is also a member of every group a robot message was built or pushed
    /// for. Cards delivered (and robot messages sent) to any other group are refused: the card's
    /// `deliverResults` entry is `success: false`, `errorMsg: "robot is not in the group"`; a
    /// group send is HTTP 400 `invalidParameter.openConversationId.invalid`.
    pub fn add_robot_to_group(&self, conversation_id: &str) {
        self.shared.note_robot_group(conversation_id);
    }

    /// The groups the robot is a member of.
    pub fn robot_groups(&self) -> Vec<String> {
        self.shared.lock().robot_groups.iter().cloned().collect()
    }

    /// Plain messages accepted so far (the newest [`record_limit`](EmulatorConfig::record_limit) ones):
    /// session-webhook posts and robot-API sends.
    pub fn sent_messages(&self) -> Vec<SentMessage> {
        self.shared.sent_messages()
    }

    /// The configured app's metered calls this month (Beijing calendar month), as counted for
    /// [`EmulatorConfig::monthly_call_quota`] (counted whether or not a quota is set; see the `quota`
    /// module for what counts).
    pub fn monthly_calls(&self) -> u64 {
        self.shared.monthly_calls()
    }

    /// The `seq` of every call that was handled and applied but answered HTTP 504 (an
    /// [`FaultResponse::AppliedGatewayTimeout`] fault or [`EmulatorConfig::applied_timeout_every`]), in
    /// arrival order. Such calls are recorded in [`calls`](Self::calls) with status 504 like any timeout;
    /// a 504 whose `seq` is not listed here was not applied. With a [`record_limit`](EmulatorConfig::record_limit)
    /// the newest ones are kept, which covers every applied call still in [`calls`](Self::calls).
    pub fn applied_timeouts(&self) -> Vec<u64> {
        self.shared.applied_timeouts()
    }

    /// Queues a fault for the next matching calls.
    pub fn inject(&self, fault: Fault) {
        self.shared.inject(fault);
    }

    /// Invalidates every issued token: the next call with one gets HTTP 400 `InvalidAuthentication`.
    pub fn revoke_tokens(&self) {
        self.shared.revoke_tokens();
    }

    /// Issues a `sessionWebhook` URL for a conversation, valid for `session_webhook_ttl`:
    /// `(url, expiry in epoch ms)`.
    pub fn new_session_webhook(&self, conversation_id: &str) -> (String, i64) {
        self.shared.new_session_webhook(conversation_id)
    }

    /// Expires every issued session webhook (posts then get errcode [`SESSION_INVALID_ERRCODE`]).
    pub fn expire_session_webhooks(&self) {
        self.shared.expire_session_webhooks();
    }

    /// A change feed for observers (e.g. a web page pushing live updates): the value is a version number
    /// that is bumped after every change to the records, so `changed().await` wakes on new calls (and with
    /// them changed cards, sent messages and applied timeouts, which only change inside a call), Stream
    /// frames and connections. Several changes may show as one (the channel keeps only the latest value);
    /// read the records after waking. `changed()` fails once the emulator is gone. Any thread or task.
    pub fn subscribe_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.shared.feed.subscribe()
    }

    /// Waits until `pred(calls)` holds, re-checking after every recorded call; false on timeout.
    pub async fn wait_for(&self, pred: impl Fn(&[Call]) -> bool, timeout: Duration) -> bool {
        self.shared
            .feed
            .wait_until(|| pred(&self.calls()), timeout)
            .await
    }
}
