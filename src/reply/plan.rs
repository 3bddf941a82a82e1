//! Planning: what to do with an event, decided on the thread that received it (so
//! duplicates and the order of replies within a conversation follow arrival order). The
//! first step of the reply pipeline.

use super::deps::ReplyDeps;
use crate::conversation::{Command, Turn};
use crate::event::{BotMessage, Chat, Content};
use crate::manifest::{AccessConfig, AccessPolicy};

/// What to do with an event.
pub(crate) enum Plan {
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
pub(crate) fn plan(deps: &ReplyDeps, msg: &BotMessage) -> Plan {
    let dedup_key = format!("{}:{}", msg.robot_code.as_deref().unwrap_or(""), msg.msg_id);
    if !deps.dedup.first_time(&dedup_key) {
        return Plan::Duplicate;
    }
    if !allowed(&deps.settings.access, msg) {
        return Plan::Refused;
    }
    let command = match &msg.content {
        Content::Text(t) => Command::parse(t),
        Content::Unsupported { .. } => None,
    };
    // `/stop` always goes through: it is how a user ends a flood of their own.
    if command != Some(Command::Stop)
        && !deps
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
    let conversation = deps.sessions.conversation_key(msg);
    match command {
        Some(Command::NewSession) => Plan::NewSession(conversation),
        Some(Command::Stop) => Plan::Stop(conversation),
        None => match deps
            .conversations
            .try_enter(&conversation, deps.flood.max_queued())
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

/// Whether `conversation.access` lets the sender (1:1) or the group in.
fn allowed(access: &AccessConfig, msg: &BotMessage) -> bool {
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
