//! What the gateway is told about a message: the conversation's session, the preamble, and
//! the message with who sent it, where, what it quoted, its text, then what its pictures and
//! files gave (file texts and notes in the text; pictures as image parts).

use super::deps::ReplySettings;
use crate::attachments::Prepared;
use crate::conversation::RouteChoice;
use crate::event::{BotMessage, Chat, Quote, ROBOT_SENDER};
use crate::gateway::{ChatRequest, UserMessage};

/// The gateway request for `text`, the user's message `msg` with its attachments
/// `prepared`, in the session `session_key`, to the agent and with the preamble of `route`.
pub(super) fn request(
    settings: &ReplySettings,
    route: &RouteChoice,
    session_key: String,
    msg: &BotMessage,
    text: &str,
    prepared: Prepared,
) -> ChatRequest {
    let preamble = route.preamble.as_ref().unwrap_or(&settings.preamble);
    ChatRequest {
        session_key,
        model: route.model.clone(),
        system: Some(preamble.clone()).filter(|p| !p.is_empty()),
        user_message: UserMessage {
            text: user_text(msg, text, &prepared.blocks),
            images: prepared.images,
        },
    }
}

/// What the model reads: who, where, what was quoted, the text, then one block per file
/// read or attachment not read.
fn user_text(msg: &BotMessage, text: &str, blocks: &[String]) -> String {
    let mut out = match &msg.chat {
        _ if msg.sender.id == ROBOT_SENDER => format!(
            "[DingTalk {} | the robot posts this on its own ({}); nobody asked in the chat]\n",
            if msg.is_group() { "group" } else { "1:1" },
            msg.sender.nick
        ),
        Chat::Group { title } => format!("[DingTalk group \"{title}\" | {}]\n", msg.sender.nick),
        Chat::Direct => format!("[DingTalk 1:1 | {}]\n", msg.sender.nick),
    };
    let quoted = match &msg.quoted {
        Some(Quote::Said { text, .. }) => Some(text.clone()),
        Some(Quote::Unavailable { what }) => Some(format!(
            "[引用的{what}：钉钉未提供其内容 (DingTalk did not include the quoted message)]"
        )),
        None => None,
    };
    if let Some(quoted) = quoted {
        for line in quoted.lines() {
            out.push_str("> ");
            out.push_str(line);
            out.push('\n');
        }
        out.push('\n');
    }
    out.push_str(text);
    for block in blocks {
        out.push_str("\n\n");
        out.push_str(block);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(extra: serde_json::Value) -> BotMessage {
        let mut v = json!({"msgId":"m1","conversationId":"cid1","conversationType":"2",
            "conversationTitle":"研发群","senderId":"u1","senderNick":"小张","msgtype":"text",
            "text":{"content":" 帮我看看"}});
        for (k, val) in extra.as_object().unwrap() {
            v[k] = val.clone();
        }
        BotMessage::parse(&v.to_string()).unwrap()
    }

    #[test]
    fn the_quote_comes_before_the_text_and_file_blocks_after_it() {
        let msg = message(
            json!({"text":{"content":" 这个报错什么意思？","isReplyMsg":true,
            "repliedMsg":{"msgType":"text","content":{"content":"部署失败了\n请看日志"}}}}),
        );
        let blocks = [
            "[文件 部署.log, 1.0 KB]\n```log\n错误：端口被占用\n```".to_owned(),
            "[图片: could not be fetched]".to_owned(),
        ];
        assert_eq!(
            user_text(&msg, "这个报错什么意思？", &blocks),
            "[DingTalk group \"研发群\" | 小张]\n> 部署失败了\n> 请看日志\n\n这个报错什么意思？\n\n[文件 部署.log, 1.0 KB]\n```log\n错误：端口被占用\n```\n\n[图片: could not be fetched]"
        );
    }

    #[test]
    fn a_quote_without_content_is_named_to_the_model() {
        let msg = message(json!({"originalMsgId":"msgOld",
            "text":{"content":" 总结一下","isReplyMsg":true,
                "repliedMsg":{"msgType":"unknownMsgType","msgId":"msgOld","createdAt":1}}}));
        assert_eq!(
            user_text(&msg, "总结一下", &[]),
            "[DingTalk group \"研发群\" | 小张]\n> [引用的消息：钉钉未提供其内容 (DingTalk did not include the quoted message)]\n\n总结一下"
        );
    }
}
