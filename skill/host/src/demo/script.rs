//! The demo's scripted conversation: one DingTalk group, one message at a time.
//!
//! Against the built-in fake gateway the messages carry its trigger words (`LONG:<chars>`,
//! `PACE:<ms>`, `REASON`, `ZH:<bytes>`; see the emulator's `gateway::script`), so every run
//! shows the same things: a long markdown answer streamed token by token, the session's
//! history, `/new`, reasoning shown above an answer, a picture the gateway describes, and a
//! long answer its asker stops with the card's stop button. Against a real gateway the same
//! steps are plain questions.

use std::time::Duration;

use openclaw_dingtalk_emulator::event::{Chat, Content, MessageSpec, RichPart, Sender};

/// The demo group's `openConversationId`.
pub const GROUP_ID: &str = "cidOpenClawDemoGroup==";
/// The demo group's title.
pub const GROUP_TITLE: &str = "OpenClaw 演示群";
/// The demo user's nick.
pub const USER_NICK: &str = "Alice";
/// The demo user's `senderStaffId` (the user id a press of a card button reports).
pub const USER_STAFF_ID: &str = "016650123456789";
/// The file name of the picture the demo sends.
pub const PICTURE_NAME: &str = "销售图表.png";

/// What a step does besides writing its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A text message.
    Ask,
    /// A picture (the fake gateway's chart) with the text, as rich text.
    Picture,
    /// A text message; once its card shows streamed text and the stop button, the asker
    /// presses the button.
    StopMidway,
}

/// One message of the script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// What the user writes (after @-mentioning the robot).
    pub text: &'static str,
    /// What the step shows, in a few words.
    pub caption: &'static str,
    /// What else happens.
    pub action: Action,
}

impl Step {
    /// A text message.
    const fn ask(text: &'static str, caption: &'static str) -> Step {
        Step {
            text,
            caption,
            action: Action::Ask,
        }
    }
}

/// The script for the built-in fake gateway (about 9 s of answers).
pub const FAKE_GATEWAY: [Step; 6] = [
    // 394 characters: exactly two of the fake's markdown sections.
    Step::ask(
        "用 markdown 介绍一下你自己 (an answer in markdown, please) LONG:394 PACE:20",
        "a long markdown answer streamed token by token: Chinese, a list, a table, code",
    ),
    Step::ask(
        "还记得我刚才问了什么吗？ Do you remember what I asked? PACE:40",
        "a follow-up in the same session: the gateway keeps the history, so Turn 2",
    ),
    Step::ask(
        "/new",
        "a chat command the plugin handles itself: a fresh gateway session",
    ),
    Step::ask(
        "Why is the sky blue? REASON PACE:60",
        "reasoning shown above the answer, in the fresh session: Turn 1 again",
    ),
    Step {
        text: "这张图里画的是什么？",
        caption: "a picture: the plugin downloads it and sends it as an image; the fake gateway says what it saw",
        action: Action::Picture,
    },
    // 2,700 bytes of Chinese, 3 characters a token 25 ms apart: about 7 s if nobody stops it.
    Step {
        text: "请写一篇长文，介绍钉钉的 AI 卡片 ZH:2700 PACE:25",
        caption: "a long answer; its asker presses the card's stop button while it streams",
        action: Action::StopMidway,
    },
];

/// The script for a real OpenClaw gateway (`--gateway`): the same steps as plain questions.
pub const REAL_GATEWAY: [Step; 6] = [
    Step::ask(
        "请用三句话介绍一下你自己，再用 markdown 列出你能帮我做的三件事。",
        "a markdown answer streamed into the card",
    ),
    Step::ask(
        "我刚才问了你什么？请用一句话回答。(What did I just ask you? One sentence.)",
        "a follow-up in the same session: the gateway keeps the history",
    ),
    Step::ask(
        "/new",
        "a chat command the plugin handles itself: a fresh gateway session",
    ),
    Step::ask(
        "Why is the sky blue? Answer in two sentences.",
        "a question in the fresh session",
    ),
    Step {
        text: "这张图里画的是什么？请用一句话描述。",
        caption: "a picture: the plugin downloads it and sends it to the gateway as an image",
        action: Action::Picture,
    },
    Step {
        text: "请写一篇至少两千字的文章，详细介绍钉钉机器人和 AI 卡片。",
        caption: "a long answer; its asker presses the card's stop button while it streams",
        action: Action::StopMidway,
    },
];

/// How long one step may take before the demo gives up: the fake answers in seconds, a real
/// model may think for a while.
pub fn step_limit(real_gateway: bool) -> Duration {
    if real_gateway {
        Duration::from_secs(180)
    } else {
        Duration::from_secs(30)
    }
}

/// The robot message of `step`: an @-mention of the robot in the demo group by the demo user;
/// with `picture` (the `downloadCode` of the picture a [`Action::Picture`] step sends) rich
/// text: the words, then the picture.
pub fn message(step: &Step, picture: Option<String>) -> MessageSpec {
    let content = match picture {
        Some(code) => Content::RichText(vec![
            RichPart::Text(step.text.into()),
            RichPart::PictureCode(code),
        ]),
        None => Content::Text(step.text.into()),
    };
    MessageSpec {
        chat: Chat::Group {
            conversation_id: GROUP_ID.into(),
            title: GROUP_TITLE.into(),
        },
        sender: Sender {
            staff_id: USER_STAFF_ID.into(),
            nick: USER_NICK.into(),
        },
        content,
        ..MessageSpec::group_text(GROUP_ID, step.text)
    }
}
