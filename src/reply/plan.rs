//! Planning: what to do with an event, decided on the thread that received it (so
//! duplicates and the order of replies within a conversation follow arrival order). The
//! first step of the reply pipeline.

use std::sync::Arc;

use super::deps::{ReplyDeps, ReplySettings};
use crate::conversation::{Command, RouteChoice, Turn};
use crate::event::{Attachment, BotMessage, Chat, Content, Quote};
use crate::manifest::{AccessConfig, AccessPolicy};
use crate::schedule::Schedule;

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
    /// A message with a collecting schedule's tag: stored for the schedule's summary.
    Collect(Arc<Schedule>),
    /// A model reply, queued in its conversation.
    Answer(Queued),
}

/// A model reply with its place in its conversation's queue.
pub(crate) struct Queued {
    /// Conversation key.
    pub(crate) conversation: String,
    /// Which agent answers.
    pub(crate) route: RouteChoice,
    /// What the user asks.
    pub(crate) question: Question,
    /// This reply's place in the queue.
    pub(crate) turn: Turn,
    /// The card gets a stop button (or the `/stop` line): false for a card of `openclaw-skill
    /// send`, whose process has no ingress to hear a press or `/stop`.
    pub(crate) stoppable: bool,
}

/// What the user asks: the text for the model, and the pictures and files (the message's,
/// then the quote's) that `attachments:` lets through, to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Question {
    /// The text, with a `[label]` placeholder per picture or file.
    pub(crate) text: String,
    /// The attachments to fetch, in order.
    pub(crate) attachments: Vec<Attachment>,
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
        Content::Media { .. } | Content::Unsupported { .. } => None,
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
    let question = match question(&deps.settings, msg) {
        Ok(question) => question,
        Err(msgtype) => return Plan::Unsupported(msgtype),
    };
    let conversation = deps.sessions.conversation_key(msg);
    match command {
        Some(Command::NewSession) => Plan::NewSession(conversation),
        Some(Command::Stop) => Plan::Stop(conversation),
        None => match deps.schedules.collector(msg) {
            Some(schedule) => Plan::Collect(schedule),
            None => answer_plan(deps, msg, conversation, question),
        },
    }
}

/// A model reply to `msg`, queued in its conversation (or busy when the queue is full).
fn answer_plan(
    deps: &ReplyDeps,
    msg: &BotMessage,
    conversation: String,
    question: Question,
) -> Plan {
    match deps
        .conversations
        .try_enter(&conversation, deps.flood.max_queued())
    {
        Some(turn) => {
            let (route, text) = deps.routes.choose(msg, &question.text);
            Plan::Answer(Queued {
                conversation,
                route,
                question: Question { text, ..question },
                turn,
                stoppable: true,
            })
        }
        None => Plan::Busy {
            reason: "conversation queue full (conversation.max_queued)",
        },
    }
}

/// The question of `msg`, keeping the pictures (`attachments.images`) and files
/// (`attachments.files`) that are read. A picture or file alone that is not read leaves
/// nothing to forward: `Err` with what it was.
fn question(settings: &ReplySettings, msg: &BotMessage) -> Result<Question, String> {
    let read = |a: &&Attachment| {
        if a.is_picture() {
            settings.images
        } else {
            settings.files
        }
    };
    let (text, mut attachments) = match &msg.content {
        Content::Text(text) => (text.clone(), Vec::new()),
        Content::Media { text, attachments } => {
            let kept: Vec<Attachment> = attachments.iter().filter(read).cloned().collect();
            let words = attachments.iter().fold(text.clone(), |t, a| {
                t.replace(&format!("[{}]", a.label), "")
            });
            if kept.is_empty() && words.trim().is_empty() {
                let what = match attachments.first() {
                    Some(a) if !a.is_picture() => "file",
                    _ => "picture",
                };
                return Err(what.to_owned());
            }
            (text.clone(), kept)
        }
        Content::Unsupported { msgtype } => return Err(msgtype.clone()),
    };
    if let Some(Quote::Said {
        attachments: quoted,
        ..
    }) = &msg.quoted
    {
        attachments.extend(quoted.iter().filter(read).cloned());
    }
    Ok(Question { text, attachments })
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings(images: bool, files: bool) -> ReplySettings {
        ReplySettings {
            access: AccessConfig::default(),
            busy_message: String::new(),
            preamble: String::new(),
            cards: true,
            card_create_timeout_ms: 1_000,
            images,
            files,
            upload_images: true,
        }
    }

    fn message(extra: serde_json::Value) -> BotMessage {
        let mut v = json!({"msgId":"m1","conversationId":"cid1","conversationType":"1",
            "senderId":"u1","senderStaffId":"s1","senderNick":"小张","msgtype":"text",
            "text":{"content":"你好"}});
        for (k, val) in extra.as_object().unwrap() {
            v[k] = val.clone();
        }
        BotMessage::parse(&v.to_string()).unwrap()
    }

    fn codes(q: &Question) -> Vec<&str> {
        q.attachments
            .iter()
            .map(|a| a.download_code.0.as_str())
            .collect()
    }

    #[test]
    fn a_lone_picture_for_a_text_only_model_is_not_forwarded() {
        let picture = message(json!({"msgtype":"picture","content":{"downloadCode":"p"}}));
        assert_eq!(
            question(&settings(false, true), &picture),
            Err("picture".into())
        );
        let q = question(&settings(true, false), &picture).unwrap();
        assert_eq!((q.text.as_str(), codes(&q)), ("[图片]", vec!["p"]));
        let file =
            message(json!({"msgtype":"file","content":{"downloadCode":"f","fileName":"日志.txt"}}));
        assert_eq!(question(&settings(true, false), &file), Err("file".into()));
    }

    #[test]
    fn words_with_pictures_go_on_without_the_pictures_a_text_only_model_cannot_see() {
        let rich = message(json!({"msgtype":"richText","content":{"richText":[
            {"text":"这个界面哪里不对？"},{"type":"picture","downloadCode":"p"}]}}));
        let q = question(&settings(false, true), &rich).unwrap();
        assert_eq!(q.text, "这个界面哪里不对？[图片]");
        assert!(q.attachments.is_empty());
    }

    #[test]
    fn a_reply_fetches_what_the_quote_carries_as_far_as_it_is_read() {
        let reply = message(
            json!({"text":{"content":"两张截图有什么区别？","isReplyMsg":true,
            "repliedMsg":{"msgType":"richText","content":{"richText":[
                {"msgType":"text","content":"改版前"},{"msgType":"picture","downloadCode":"before"},
                {"msgType":"text","content":"改版后"},{"msgType":"picture","downloadCode":"after"}]}}}}),
        );
        let q = question(&settings(true, true), &reply).unwrap();
        assert_eq!(q.text, "两张截图有什么区别？");
        assert_eq!(codes(&q), ["before", "after"]);
        assert_eq!(q.attachments[1].label, "引用的图片2");
        assert!(question(&settings(false, true), &reply)
            .unwrap()
            .attachments
            .is_empty());
    }
}
