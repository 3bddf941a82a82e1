//! Where a reply goes in DingTalk: the card space of an AI Card, or the target of a plain
//! markdown message, both read from the event.

use crate::dingtalk::{CardSpace, ReplyTarget};
use crate::event::{BotMessage, Chat};

/// Where plain (markdown) replies to `msg` go.
pub(super) fn reply_target(msg: &BotMessage) -> ReplyTarget {
    ReplyTarget {
        webhook: msg.session_webhook.clone(),
        conversation_id: msg.conversation_id.clone(),
        group: msg.is_group(),
        staff_id: msg.sender.staff_id.clone(),
    }
}

/// Where the AI Card answering `msg` goes; `None` for a 1:1 sender without a staff id (no
/// card can reach them).
pub(super) fn card_space(msg: &BotMessage) -> Option<CardSpace> {
    match &msg.chat {
        Chat::Group { .. } => Some(CardSpace::Group(msg.conversation_id.clone())),
        Chat::Direct => msg.sender.staff_id.clone().map(CardSpace::Direct),
    }
}
