//! The markdown-message fallback: the answer (or the part no card shows) as markdown
//! messages, when there is no card or a follow-up card could not be created.

use crate::card::markdown::split_point;
use crate::card::CardEnd;
use crate::dingtalk::{CallStats, Caller, Priority, Retry};
use crate::event::BotMessage;
use crate::retry::MARKDOWN_REPLY_ATTEMPTS;

use super::deps::ReplyDeps;
use super::target::reply_target;

/// Longest markdown message, in UTF-8 bytes (other DingTalk clients split at 3800
/// characters; bytes are the safe reading).
const MESSAGE_MAX_BYTES: usize = 3800;

/// Sends `answer` and the note of `end` as markdown message(s), split at safe places.
/// `None` when there was nothing to send, else whether all were accepted.
pub(super) async fn send_as_messages(
    deps: &ReplyDeps,
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
        let result = Retry::attempts("markdown reply", MARKDOWN_REPLY_ATTEMPTS)
            .run(|| {
                deps.app(msg)
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
