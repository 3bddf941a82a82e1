//! Where DingTalk puts what the plugin sends: the space an AI Card is delivered to, and the
//! target of a plain (markdown) message. The reply pipeline builds them from the event.

use crate::event::SessionWebhook;

/// Where a card goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardSpace {
    /// A group, by `openConversationId`.
    Group(String),
    /// The robot's 1:1 chat with a staff member, by `senderStaffId`.
    Direct(String),
}

/// Where a plain (non-card) reply goes.
#[derive(Debug, Clone)]
pub struct ReplyTarget {
    /// The event's session webhook, preferred while it is valid.
    pub webhook: Option<SessionWebhook>,
    /// The conversation (`cid…`), for the group send API.
    pub conversation_id: String,
    /// Group or 1:1.
    pub group: bool,
    /// The sender's staff id, for the 1:1 send API.
    pub staff_id: Option<String>,
}
