//! One event, start to finish: dedup, access, commands, then the model reply streamed to
//! the host and into the card.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Instant;

use futures_util::StreamExt;
use openclaw_skill_abi::{Chunk, OcFailureKind, Usage};
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use super::command::Command;
use super::Turn;
use crate::card::{CardEnd, CardEvent, CardSync};
use crate::dingtalk::{CallStats, CardSpace, ReplyTarget};
use crate::event::{BotMessage, Chat, Content};
use crate::gateway::{ChatRequest, GatewayError, GatewayEvent};
use crate::manifest::AccessPolicy;
use crate::skill::SkillInner;

/// Longest markdown message sent through the session webhook (DingTalk clients split at 3800).
const MESSAGE_MAX_CHARS: usize = 3800;

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
    let text = match &msg.content {
        Content::Text(t) => t.clone(),
        Content::Unsupported { msgtype } => return Plan::Unsupported(msgtype.clone()),
    };
    let conversation = inner.sessions.conversation_key(msg);
    match Command::parse(&text) {
        Some(Command::NewSession) => Plan::NewSession(conversation),
        Some(Command::Stop) => Plan::Stop(conversation),
        None => {
            let turn = inner.conversations.enter(&conversation);
            Plan::Answer {
                conversation,
                text,
                turn,
            }
        }
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
            plain_reply(&inner, &msg, &text, "refused", &tx).await;
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

/// Sends `text` as a plain message and ends the stream with `Replied`.
async fn plain_reply(
    inner: &SkillInner,
    msg: &BotMessage,
    text: &str,
    outcome: &str,
    tx: &UnboundedSender<Chunk>,
) {
    let stats = CallStats::default();
    if let Err(e) = inner
        .dingtalk
        .send_markdown(&reply_target(msg), "OpenClaw", text, &stats)
        .await
    {
        log::warn!("event msg={}: plain reply failed: {e}", msg.msg_id);
    }
    inner.counters.replied.fetch_add(1, Relaxed);
    log::info!(
        "event msg={} conv={} outcome={outcome} {}",
        msg.msg_id,
        msg.conversation_id,
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

/// The model reply: card at once, wait for the conversation's turn, stream, finalize.
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

    // The card first, so the user sees the robot working at once.
    let mut card = None;
    let mut card_events = None;
    if inner.manifest.streaming.enabled {
        match card_space(msg) {
            Some(space) => {
                let (sync, mut events) = CardSync::start(inner.cards.clone(), space, stats.clone());
                match events.recv().await {
                    Some(CardEvent::Created(id)) => {
                        let _ = tx.send(Chunk::Started { card_id: id });
                        card = Some(sync);
                        card_events = Some(events);
                    }
                    Some(CardEvent::CreateFailed(e)) => {
                        let hint = if e.means_cards_unavailable() {
                            format!(" (template {}: publish it for this app, and grant Card.Instance.Write and Card.Streaming.Write)", inner.manifest.dingtalk.card_template_id)
                        } else {
                            String::new()
                        };
                        log::warn!("AI Card creation refused: {e}{hint}; replying with a markdown message instead");
                    }
                    None => log::error!("card-sync ended before creating a card; replying with a markdown message instead"),
                }
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
        let my_turn = tokio::select! {
            () = turn.wait() => true,
            _ = stop.cancelled() => false,
            _ = inner.shutdown.cancelled() => false,
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
                        Some(event) = async { match card_events.as_mut() { Some(ev) => ev.recv().await, None => None } } => {
                            if let CardEvent::Created(id) = event {
                                let _ = tx.send(Chunk::Started { card_id: id });
                            }
                        }
                        item = stream.next() => match item {
                            None => break Ending::Done,
                            Some(Ok(GatewayEvent::Delta(t))) => {
                                if let Some(c) = &card { c.push_answer(&t); }
                                answer_text.push_str(&t);
                                let _ = tx.send(Chunk::Delta(t));
                            }
                            Some(Ok(GatewayEvent::Reasoning(t))) => {
                                if let Some(c) = &card { c.push_reasoning(&t); }
                                let _ = tx.send(Chunk::Reasoning(t));
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

    let (card_end, terminal, outcome) = match ending {
        Ending::Done => (CardEnd::Finished, Chunk::Finished { usage }, "finished"),
        Ending::Gateway(e) => (
            CardEnd::Failed(e.user_reason()),
            Chunk::Failed {
                kind: e.failure_kind(),
                message: e.to_string(),
            },
            "failed",
        ),
        Ending::Stopped => (
            CardEnd::Stopped,
            Chunk::Failed {
                kind: OcFailureKind::Stopped,
                message: "stopped by the user".into(),
            },
            "stopped",
        ),
        Ending::Shutdown => (
            CardEnd::Failed(SHUTDOWN_NOTE.into()),
            Chunk::Failed {
                kind: OcFailureKind::ShuttingDown,
                message: "the skill shut down before the reply finished".into(),
            },
            "interrupted",
        ),
    };
    let mut first_visible = None;
    match card {
        Some(card) => {
            let report = card.finish(card_end.clone()).await;
            // Follow-up cards created while the card was being finished (the last text pushed
            // it over the size limit) are announced before the terminal chunk.
            if let Some(events) = card_events.as_mut() {
                while let Ok(event) = events.try_recv() {
                    if let CardEvent::Created(id) = event {
                        let _ = tx.send(Chunk::Started { card_id: id });
                    }
                }
            }
            if let Some(from) = report.unsent_from {
                send_as_messages(inner, msg, &answer_text[from..], &card_end, &stats).await;
            }
            first_visible = report.first_visible;
            if !report.finalized {
                log::error!(
                    "msg {}: card {:?} could not be finalized",
                    msg.msg_id,
                    report.cards
                );
            }
        }
        None => send_as_messages(inner, msg, &answer_text, &card_end, &stats).await,
    }
    match terminal {
        Chunk::Finished { .. } => inner.counters.finished.fetch_add(1, Relaxed),
        _ => inner.counters.failed.fetch_add(1, Relaxed),
    };
    log::info!(
        "reply msg={} conv={} outcome={outcome}{} chars={} {} elapsed_ms={} first_visible_ms={}",
        msg.msg_id,
        msg.conversation_id,
        match &terminal {
            Chunk::Failed { kind, message } => format!(" failure={kind:?} reason=\"{message}\""),
            _ => String::new(),
        },
        answer_text.chars().count(),
        stats.summary(),
        started.elapsed().as_millis(),
        first_visible.map_or("-".to_owned(), |t: tokio::time::Instant| t
            .duration_since(started.into())
            .as_millis()
            .to_string()),
    );
    let _ = tx.send(terminal);
}

/// Without a card: the whole answer as markdown message(s), split at safe places.
async fn send_as_messages(
    inner: &SkillInner,
    msg: &BotMessage,
    answer: &str,
    end: &CardEnd,
    stats: &CallStats,
) {
    let mut text = answer.to_owned();
    match end {
        CardEnd::Finished => {}
        CardEnd::Failed(note) => text.push_str(&format!("\n\n> ⚠️ {note}")),
        CardEnd::Stopped => text.push_str("\n\n> ⏹ 已停止 (stopped)"),
    }
    if text.trim().is_empty() {
        return;
    }
    let target = reply_target(msg);
    let mut rest = text.as_str();
    while !rest.is_empty() {
        let cut = crate::card::markdown::split_point(rest, MESSAGE_MAX_CHARS).unwrap_or(rest.len());
        let result = crate::dingtalk::with_retries(4, "markdown reply", || {
            inner
                .dingtalk
                .send_markdown(&target, "OpenClaw", &rest[..cut], stats)
        })
        .await;
        if let Err(e) = result {
            log::error!("msg {}: markdown reply failed: {e}", msg.msg_id);
            return;
        }
        rest = &rest[cut..];
    }
}
