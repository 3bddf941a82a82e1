//! One event, start to finish: dedup, access, commands, then the model reply streamed to
//! the host and into the card.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Instant;

use futures_util::StreamExt;
use openclaw_skill_abi::{Chunk, OcFailureKind, Usage};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio_util::sync::CancellationToken;

use super::command::Command;
use super::outcome::{Delivery, ModelEnd, Outcome};
use super::Turn;
use crate::card::markdown::split_point;
use crate::card::{CardEnd, CardEvent, CardSync};
use crate::dingtalk::{with_retries, CallStats, Caller, CardSpace, Priority, ReplyTarget};
use crate::event::{BotMessage, Chat, Content};
use crate::gateway::{ChatRequest, GatewayError, GatewayEvent};
use crate::manifest::AccessPolicy;
use crate::skill::SkillInner;

/// Longest markdown message, in UTF-8 bytes (other DingTalk clients split at 3800
/// characters; bytes are the safe reading).
const MESSAGE_MAX_BYTES: usize = 3800;

const UNSUPPORTED: &str = "暂时只能处理文字和语音消息，请用文字描述你的问题。(I can only read text and voice messages for now — please type your question.)";
const NEW_SESSION: &str = "已开始新会话。(Started a new conversation.)";
const STOPPED: &str = "已停止当前回复。(Stopped the reply in progress.)";
const NOTHING_TO_STOP: &str = "当前没有进行中的回复。(There is no reply in progress.)";
const SHUTDOWN_NOTE: &str = "服务正在重启，回复中断，请稍后重新发送。(The service restarted; please send your question again.)";

/// What to do with an event, decided on the thread that received it (so duplicates and
/// the order of replies within a conversation follow arrival order).
pub enum Plan {
    /// A redelivery of a message already handled.
    Duplicate,
    /// The sender or group is not allowed.
    Refused,
    /// The sender is over its message rate, or the conversation's queue is full.
    Busy {
        /// Why, for the log line.
        reason: &'static str,
    },
    /// A message type that cannot be forwarded.
    Unsupported(String),
    /// `/new`: a fresh gateway session.
    NewSession(String),
    /// `/stop`: abort the conversation's replies.
    Stop(String),
    /// A model reply, queued in its conversation.
    Answer {
        /// Conversation key.
        conversation: String,
        /// The user's text.
        text: String,
        /// This reply's place in the queue.
        turn: Turn,
    },
}

/// Classifies an event and, for a model reply, queues it in its conversation.
pub fn plan(inner: &SkillInner, msg: &BotMessage) -> Plan {
    let dedup_key = format!("{}:{}", msg.robot_code.as_deref().unwrap_or(""), msg.msg_id);
    if !inner.dedup.first_time(&dedup_key) {
        return Plan::Duplicate;
    }
    if !allowed(inner, msg) {
        return Plan::Refused;
    }
    let command = match &msg.content {
        Content::Text(t) => Command::parse(t),
        Content::Unsupported { .. } => None,
    };
    // `/stop` always goes through: it is how a user ends a flood of their own.
    if command != Some(Command::Stop)
        && !inner
            .flood
            .sender_allows(msg.sender.staff_id.as_deref().unwrap_or(&msg.sender.id))
    {
        return Plan::Busy {
            reason: "sender over conversation.sender_messages_per_minute",
        };
    }
    let text = match &msg.content {
        Content::Text(t) => t.clone(),
        Content::Unsupported { msgtype } => return Plan::Unsupported(msgtype.clone()),
    };
    let conversation = inner.sessions.conversation_key(msg);
    match command {
        Some(Command::NewSession) => Plan::NewSession(conversation),
        Some(Command::Stop) => Plan::Stop(conversation),
        None => match inner
            .conversations
            .try_enter(&conversation, inner.flood.max_queued())
        {
            Some(turn) => Plan::Answer {
                conversation,
                text,
                turn,
            },
            None => Plan::Busy {
                reason: "conversation queue full (conversation.max_queued)",
            },
        },
    }
}

/// Carries out a plan; every path ends the stream with exactly one terminal chunk.
pub async fn run(inner: Arc<SkillInner>, msg: BotMessage, plan: Plan, tx: UnboundedSender<Chunk>) {
    #[cfg(feature = "test-hooks")]
    if let Content::Text(t) = &msg.content {
        crate::test_hooks::check(t, crate::test_hooks::Hook::ReplyTask);
    }
    match plan {
        Plan::Duplicate => {
            inner.counters.skipped.fetch_add(1, Relaxed);
            log::info!(
                "event msg={} conv={} outcome=duplicate",
                msg.msg_id,
                msg.conversation_id
            );
            let _ = tx.send(Chunk::Skipped(format!(
                "duplicate delivery of message {}",
                msg.msg_id
            )));
        }
        Plan::Refused => {
            let text = inner.manifest.conversation.access.refusal_message.clone();
            notice(&inner, &msg, &text, "refused", &tx).await;
        }
        Plan::Busy { reason } => {
            inner.counters.busy.fetch_add(1, Relaxed);
            log::info!(
                "event msg={} conv={} busy: {reason}",
                msg.msg_id,
                msg.conversation_id
            );
            let text = inner.manifest.conversation.busy_message.clone();
            notice(&inner, &msg, &text, "busy", &tx).await;
        }
        Plan::Unsupported(msgtype) => {
            log::info!(
                "event msg={} type {msgtype} cannot be forwarded",
                msg.msg_id
            );
            plain_reply(&inner, &msg, UNSUPPORTED, "unsupported", &tx).await;
        }
        Plan::NewSession(conversation) => {
            inner.sessions.renew(&conversation);
            plain_reply(&inner, &msg, NEW_SESSION, "new_session", &tx).await;
        }
        Plan::Stop(conversation) => {
            let stopped = inner.conversations.stop_all(&conversation);
            plain_reply(
                &inner,
                &msg,
                if stopped > 0 {
                    STOPPED
                } else {
                    NOTHING_TO_STOP
                },
                "stop",
                &tx,
            )
            .await;
        }
        Plan::Answer {
            conversation,
            text,
            turn,
        } => answer(&inner, &msg, &conversation, &text, turn, &tx).await,
    }
}

fn allowed(inner: &SkillInner, msg: &BotMessage) -> bool {
    let access = &inner.manifest.conversation.access;
    match access.policy {
        AccessPolicy::Open => true,
        AccessPolicy::Allowlist => match &msg.chat {
            Chat::Group { .. } => access
                .allowed_groups
                .iter()
                .any(|g| g == &msg.conversation_id),
            Chat::Direct => access
                .allowed_senders
                .iter()
                .any(|s| Some(s.as_str()) == msg.sender.staff_id.as_deref() || s == &msg.sender.id),
        },
    }
}

fn reply_target(msg: &BotMessage) -> ReplyTarget {
    ReplyTarget {
        webhook: msg.session_webhook.clone(),
        conversation_id: msg.conversation_id.clone(),
        group: msg.is_group(),
        staff_id: msg.sender.staff_id.clone(),
    }
}

/// A notice (refusal, busy) as a plain message, at most once per conversation every
/// [`NOTICE_PERIOD`](super::flood::NOTICE_PERIOD); otherwise nothing is sent and the stream
/// ends with `Skipped`.
async fn notice(
    inner: &SkillInner,
    msg: &BotMessage,
    text: &str,
    outcome: &str,
    tx: &UnboundedSender<Chunk>,
) {
    if inner.flood.notice_allowed(&msg.conversation_id) {
        plain_reply(inner, msg, text, outcome, tx).await;
    } else {
        inner.counters.skipped.fetch_add(1, Relaxed);
        log::info!(
            "event msg={} conv={} outcome={outcome} (notice already sent recently)",
            msg.msg_id,
            msg.conversation_id
        );
        let _ = tx.send(Chunk::Skipped(format!(
            "{outcome}: a notice was sent to this conversation less than 30 s ago"
        )));
    }
}

/// Sends `text` as a plain message and ends the stream with `Replied`.
async fn plain_reply(
    inner: &SkillInner,
    msg: &BotMessage,
    text: &str,
    outcome: &str,
    tx: &UnboundedSender<Chunk>,
) {
    let stats = CallStats::default();
    let caller = Caller {
        stats: &stats,
        priority: Priority::Create,
        conversation: &msg.conversation_id,
    };
    let delivered = match inner
        .dingtalk
        .send_markdown(&caller, &reply_target(msg), "OpenClaw", text)
        .await
    {
        Ok(()) => true,
        Err(e) => {
            log::warn!("event msg={}: plain reply failed: {e}", msg.msg_id);
            false
        }
    };
    inner.counters.replied.fetch_add(1, Relaxed);
    log::info!(
        "event msg={} conv={} outcome={outcome}{} {}",
        msg.msg_id,
        msg.conversation_id,
        if delivered { "" } else { " undelivered" },
        stats.summary()
    );
    let _ = tx.send(Chunk::Replied(text.to_owned()));
}

/// What the model is told about the message: who, where, what was quoted, then the text.
fn user_message(msg: &BotMessage, text: &str) -> String {
    let mut out = match &msg.chat {
        Chat::Group { title } => format!("[DingTalk group \"{title}\" | {}]\n", msg.sender.nick),
        Chat::Direct => format!("[DingTalk 1:1 | {}]\n", msg.sender.nick),
    };
    if let Some(quoted) = &msg.quoted {
        for line in quoted.lines() {
            out.push_str("> ");
            out.push_str(line);
            out.push('\n');
        }
        out.push('\n');
    }
    out.push_str(text);
    out
}

fn card_space(msg: &BotMessage) -> Option<CardSpace> {
    match &msg.chat {
        Chat::Group { .. } => Some(CardSpace::Group(msg.conversation_id.clone())),
        Chat::Direct => msg.sender.staff_id.clone().map(CardSpace::Direct),
    }
}

enum Ending {
    Done,
    Gateway(GatewayError),
    Stopped,
    Shutdown,
}

/// The chunks for the host: held back until the card exists (so `Started` comes first) or
/// its creation failed, while the model's answer already streams into card-sync.
struct HostChunks<'a> {
    tx: &'a UnboundedSender<Chunk>,
    held: Option<Vec<Chunk>>,
}

impl HostChunks<'_> {
    fn send(&mut self, chunk: Chunk) {
        match &mut self.held {
            Some(held) => held.push(chunk),
            None => {
                let _ = self.tx.send(chunk);
            }
        }
    }

    /// Sends `first` (if any), then everything held back; later chunks go straight out.
    fn release(&mut self, first: Option<Chunk>) {
        if let Some(first) = first {
            let _ = self.tx.send(first);
        }
        for chunk in self.held.take().unwrap_or_default() {
            let _ = self.tx.send(chunk);
        }
    }

    fn waiting_for_card(&self) -> bool {
        self.held.is_some()
    }
}

/// The card of a reply while it streams.
struct ReplyCard {
    sync: Option<CardSync>,
    events: Option<UnboundedReceiver<CardEvent>>,
}

impl ReplyCard {
    /// The next card event, `None` once when card-sync has ended; then pending forever.
    async fn next_event(&mut self) -> Option<CardEvent> {
        match self.events.as_mut() {
            Some(events) => {
                let event = events.recv().await;
                if event.is_none() {
                    self.events = None;
                }
                event
            }
            None => std::future::pending().await,
        }
    }

    /// Acts on a card event: the host learns of each card; a failed creation switches the
    /// reply to markdown messages.
    fn on_event(&mut self, event: Option<CardEvent>, out: &mut HostChunks<'_>, inner: &SkillInner) {
        match event {
            None if out.waiting_for_card() => {
                log::error!("card-sync ended before creating a card; replying with a markdown message instead");
                self.sync = None;
                out.release(None);
            }
            None => {}
            Some(CardEvent::Created(id)) => {
                if out.waiting_for_card() {
                    out.release(Some(Chunk::Started { card_id: id }));
                } else {
                    out.send(Chunk::Started { card_id: id });
                }
            }
            Some(CardEvent::CreateFailed(e)) => {
                let hint = if e.means_cards_unavailable() {
                    format!(" (template {}: publish it for this app, and grant Card.Instance.Write and Card.Streaming.Write)", inner.manifest.dingtalk.card_template_id)
                } else {
                    format!(
                        " (no card within streaming.card_create_timeout_ms = {} ms)",
                        inner.manifest.streaming.card_create_timeout_ms
                    )
                };
                log::warn!(
                    "AI Card creation failed: {e}{hint}; replying with a markdown message instead"
                );
                self.sync = None;
                self.events = None;
                out.release(None);
            }
        }
    }

    fn push_answer(&self, text: &str) {
        if let Some(sync) = &self.sync {
            sync.push_answer(text);
        }
    }

    fn push_reasoning(&self, text: &str) {
        if let Some(sync) = &self.sync {
            sync.push_reasoning(text);
        }
    }
}

/// The model reply: the card is created at once, while the reply waits for its turn in the
/// conversation and streams the gateway's answer; then the card is finalized.
async fn answer(
    inner: &Arc<SkillInner>,
    msg: &BotMessage,
    conversation: &str,
    text: &str,
    mut turn: Turn,
    tx: &UnboundedSender<Chunk>,
) {
    let started = Instant::now();
    let stats = Arc::new(CallStats::default());
    let stop = CancellationToken::new();
    let stop_id = turn.slot().register(stop.clone());
    let mut out = HostChunks { tx, held: None };
    let mut card = ReplyCard {
        sync: None,
        events: None,
    };
    if inner.manifest.streaming.enabled {
        match card_space(msg) {
            Some(space) => {
                let (sync, events) = CardSync::start(
                    inner.cards.clone(),
                    space,
                    conversation.to_owned(),
                    stats.clone(),
                );
                card = ReplyCard {
                    sync: Some(sync),
                    events: Some(events),
                };
                out.held = Some(Vec::new());
            }
            None => log::info!(
                "sender of msg {} has no staff id; replying with a markdown message",
                msg.msg_id
            ),
        }
    }

    let mut answer_text = String::new();
    let mut usage: Option<Usage> = None;
    let ending = {
        let wait = turn.wait();
        tokio::pin!(wait);
        let my_turn = loop {
            tokio::select! {
                biased;
                _ = stop.cancelled() => break false,
                _ = inner.shutdown.cancelled() => break false,
                event = card.next_event() => card.on_event(event, &mut out, inner),
                () = &mut wait => break true,
            }
        };
        match my_turn {
            false if inner.shutdown.is_cancelled() => Ending::Shutdown,
            false => Ending::Stopped,
            true => {
                let request = ChatRequest {
                    session_key: inner.sessions.session_key(conversation),
                    system: Some(inner.manifest.conversation.preamble.clone())
                        .filter(|p| !p.is_empty()),
                    user_message: user_message(msg, text),
                };
                let mut stream = std::pin::pin!(inner.gateway.stream_chat(request));
                loop {
                    tokio::select! {
                        biased;
                        _ = stop.cancelled() => break Ending::Stopped,
                        _ = inner.shutdown.cancelled() => break Ending::Shutdown,
                        event = card.next_event() => card.on_event(event, &mut out, inner),
                        item = stream.next() => match item {
                            None => break Ending::Done,
                            Some(Ok(GatewayEvent::Delta(t))) => {
                                card.push_answer(&t);
                                answer_text.push_str(&t);
                                out.send(Chunk::Delta(t));
                            }
                            Some(Ok(GatewayEvent::Reasoning(t))) => {
                                card.push_reasoning(&t);
                                out.send(Chunk::Reasoning(t));
                            }
                            Some(Ok(GatewayEvent::Usage(u))) => usage = Some(u),
                            Some(Ok(GatewayEvent::FinishReason(_))) => {}
                            Some(Err(e)) => break Ending::Gateway(e),
                        },
                    }
                }
            }
        }
    };
    turn.slot().unregister(stop_id);
    drop(turn);
    // The answer may have ended before card creation did: wait for it (card-sync gives up
    // after its creation deadline).
    while out.waiting_for_card() {
        let event = card.next_event().await;
        card.on_event(event, &mut out, inner);
    }

    let (card_end, model_end, model_failure) = match ending {
        Ending::Done => (CardEnd::Finished, ModelEnd::Done, None),
        Ending::Gateway(e) => (
            CardEnd::Failed(e.user_reason()),
            ModelEnd::Failed,
            Some((e.failure_kind(), e.to_string())),
        ),
        Ending::Stopped => (
            CardEnd::Stopped,
            ModelEnd::Stopped,
            Some((OcFailureKind::STOPPED, "stopped by the user".to_owned())),
        ),
        Ending::Shutdown => (
            CardEnd::Failed(SHUTDOWN_NOTE.into()),
            ModelEnd::Interrupted,
            Some((
                OcFailureKind::SHUTTING_DOWN,
                "the skill shut down before the reply finished".to_owned(),
            )),
        ),
    };
    let mut first_visible = None;
    let mut cards = 0;
    let delivery = match card.sync.take() {
        Some(sync) => {
            let report = sync.finish(card_end.clone()).await;
            // Follow-up cards created while the card was being finished are announced
            // before the terminal chunk.
            while let Some(event) = card.events.as_mut().and_then(|e| e.try_recv().ok()) {
                card.on_event(Some(event), &mut out, inner);
            }
            let messages = match report.unsent_from {
                Some(from) => {
                    send_as_messages(
                        inner,
                        msg,
                        &answer_text[from.min(answer_text.len())..],
                        &card_end,
                        &stats,
                    )
                    .await
                }
                None => None,
            };
            first_visible = report.first_visible;
            cards = report.cards.len();
            if !report.finalized {
                log::error!(
                    "msg {}: card(s) {:?} could not be finalized; they stay in the journal and the next start finalizes them",
                    msg.msg_id,
                    report.cards
                );
            }
            Delivery {
                card: !report.cards.is_empty(),
                cards_finalized: report.finalized,
                messages,
            }
        }
        None => Delivery {
            card: false,
            cards_finalized: true,
            messages: send_as_messages(inner, msg, &answer_text, &card_end, &stats).await,
        },
    };
    let outcome = Outcome::of(model_end, delivery);
    inner.counters.outcomes.record(outcome);
    let terminal = match model_failure {
        Some((kind, message)) => Chunk::Failed { kind, message },
        None if outcome.delivered_whole() => Chunk::Finished { usage },
        None => Chunk::Failed {
            kind: OcFailureKind::DING_TALK,
            message: match outcome {
                Outcome::Stuck => "DingTalk did not accept the card's final update; it is finalized at the next start".into(),
                Outcome::Incomplete => "part of the answer could not be sent to DingTalk".into(),
                _ => "the answer could not be delivered to DingTalk (no card, and the markdown reply failed)".into(),
            },
        },
    };
    log::info!(
        "reply msg={} conv={} outcome={}{} chars={} bytes={} cards={cards} {} elapsed_ms={} first_visible_ms={}",
        msg.msg_id,
        msg.conversation_id,
        outcome.name(),
        match &terminal {
            Chunk::Failed { kind, message } => format!(" failure={kind:?} reason=\"{message}\""),
            _ => String::new(),
        },
        answer_text.chars().count(),
        answer_text.len(),
        stats.summary(),
        started.elapsed().as_millis(),
        first_visible.map_or("-".to_owned(), |t: tokio::time::Instant| t
            .duration_since(started.into())
            .as_millis()
            .to_string()),
    );
    out.release(None);
    let _ = tx.send(terminal);
}

/// Without a card (or for the part no card shows): the answer as markdown message(s), split
/// at safe places. `None` when there was nothing to send, else whether all were accepted.
async fn send_as_messages(
    inner: &SkillInner,
    msg: &BotMessage,
    answer: &str,
    end: &CardEnd,
    stats: &CallStats,
) -> Option<bool> {
    let mut text = answer.to_owned();
    if let Some(note) = end.note() {
        text.push_str(&note);
    }
    if text.trim().is_empty() {
        return None;
    }
    let target = reply_target(msg);
    let caller = Caller {
        stats,
        priority: Priority::Final,
        conversation: &msg.conversation_id,
    };
    let mut rest = text.as_str();
    while !rest.is_empty() {
        let cut = split_point(rest, MESSAGE_MAX_BYTES).unwrap_or(rest.len());
        let result = with_retries("markdown reply", 4, || {
            inner
                .dingtalk
                .send_markdown(&caller, &target, "OpenClaw", &rest[..cut])
        })
        .await;
        if let Err(e) = result {
            log::error!("msg {}: markdown reply failed: {e}", msg.msg_id);
            return Some(false);
        }
        rest = &rest[cut..];
    }
    Some(true)
}
