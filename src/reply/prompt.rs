//! What the gateway is told about a message: the conversation's session, the preamble, and
//! the message with who sent it, where, and what it quoted.

use super::deps::ReplySettings;
use crate::event::{BotMessage, Chat};
use crate::gateway::ChatRequest;

/// The gateway request for `text`, the user's message `msg`, in the session `session_key`.
pub(super) fn request(
    settings: &ReplySettings,
    session_key: String,
    msg: &BotMessage,
    text: &str,
) -> ChatRequest {
    ChatRequest {
        session_key,
        system: Some(settings.preamble.clone()).filter(|p| !p.is_empty()),
        user_message: user_message(msg, text),
    }
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
