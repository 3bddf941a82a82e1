//! What the reply pipeline depends on: the few manifest settings it reads and the shared
//! parts of the skill it uses. [`crate::skill`] builds one [`ReplyDeps`] at `init` and hands
//! every reply task an `Arc` of it.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::counters::ReplyCounters;
use crate::app::{App, Apps};
use crate::conversation::{Conversations, Dedup, FloodControl, Routes, Sessions, StoppableCards};
use crate::event::BotMessage;
use crate::gateway::GatewayClient;
use crate::manifest::AccessConfig;
use crate::schedule::Schedules;
use crate::shared::SharedState;

/// The manifest settings the pipeline reads (copied from the manifest at `init`).
#[derive(Debug, Clone)]
pub(crate) struct ReplySettings {
    /// `conversation.access`: who may talk to the robot, and what a refused user is told.
    pub(crate) access: AccessConfig,
    /// `conversation.busy_message`.
    pub(crate) busy_message: String,
    /// `conversation.preamble`, sent as the system text with every message.
    pub(crate) preamble: String,
    /// `streaming.enabled`: stream into an AI Card (else one markdown reply at the end).
    pub(crate) cards: bool,
    /// `streaming.card_create_timeout_ms`, named when card creation gives up.
    pub(crate) card_create_timeout_ms: u64,
    /// `attachments.images`: pictures go to the model.
    pub(crate) images: bool,
    /// `attachments.files`: files are read.
    pub(crate) files: bool,
    /// `streaming.upload_images`: the answer's data images are uploaded and shown by media id.
    pub(crate) upload_images: bool,
}

/// Everything a reply task uses. Shared by all reply tasks (`Arc`); threads: any.
pub(crate) struct ReplyDeps {
    /// The manifest settings the pipeline reads.
    pub(crate) settings: ReplySettings,
    /// Session keys (which gateway session a conversation talks to).
    pub(crate) sessions: Sessions,
    /// Which agent (and preamble) answers a message.
    pub(crate) routes: Routes,
    /// The schedules (their collecting ones take tagged messages).
    pub(crate) schedules: Arc<Schedules>,
    /// Conversation queues and stop tokens.
    pub(crate) conversations: Conversations,
    /// The cards of replies in flight, for their stop buttons.
    pub(crate) stoppable: StoppableCards,
    /// Per-sender rates, per-conversation queue bound, notice rate.
    pub(crate) flood: FloodControl,
    /// Redelivery filter.
    pub(crate) dedup: Dedup,
    /// The OpenClaw Gateway client.
    pub(crate) gateway: GatewayClient,
    /// The DingTalk apps: each one's client (plain replies, markdown fallbacks), card
    /// context and attachments client.
    pub(crate) apps: Apps,
    /// The state shared with other hosts (`shared_state:`): dedup and sessions across hosts.
    pub(crate) shared: Option<Arc<SharedState>>,
    /// What the pipeline counts, for `info`.
    pub(crate) counters: ReplyCounters,
    /// Cancelled by `shutdown` near its deadline: replies still running finalize as
    /// interrupted.
    pub(crate) shutdown: CancellationToken,
}

impl ReplyDeps {
    /// The app `msg` is for.
    pub(crate) fn app(&self, msg: &BotMessage) -> &Arc<App> {
        self.apps.get(msg.app)
    }
}
