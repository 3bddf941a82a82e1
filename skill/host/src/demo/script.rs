//! The demo's scripted conversation: one DingTalk group, one message at a time.
//!
//! Against the built-in fake gateway the messages carry its trigger words (`LONG:<chars>`,
//! `PACE:<ms>`, `REASON`; see the emulator's `gateway::script`), so every run shows the same
//! things: a long markdown answer streamed token by token, the session's history, `/new`, and
//! reasoning shown above an answer. Against a real gateway the same steps are plain questions.

use std::time::Duration;

use openclaw_dingtalk_emulator::event::{Chat, Content, MessageSpec, Sender};

/// The demo group's `openConversationId`.
pub const GROUP_ID: &str = "cidOpenClawDemoGroup==";
/// The demo group's title.
pub const GROUP_TITLE: &str = "OpenClaw 演示群";
/// The demo user's nick.
pub const USER_NICK: &str = "Alice";

/// One message of the script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// What the user writes (after @-mentioning the robot).
    pub text: &'static str,
    /// What the step shows, in a few words.
    pub caption: &'static str,
}

/// The script for the built-in fake gateway (about 5 s of answers).
pub const FAKE_GATEWAY: [Step; 4] = [
    Step {
        // 394 characters: exactly two of the fake's markdown sections.
        text: "用 markdown 介绍一下你自己 (an answer in markdown, please) LONG:394 PACE:20",
        caption: "a long markdown answer streamed token by token: Chinese, a list, a table, code",
    },
    Step {
        text: "还记得我刚才问了什么吗？ Do you remember what I asked? PACE:40",
        caption: "a follow-up in the same session: the gateway keeps the history, so Turn 2",
    },
    Step {
        text: "/new",
        caption: "a chat command the plugin handles itself: a fresh gateway session",
    },
    Step {
        text: "Why is the sky blue? REASON PACE:60",
        caption: "reasoning shown above the answer, in the fresh session: Turn 1 again",
    },
];

/// The script for a real OpenClaw gateway (`--gateway`): the same steps as plain questions.
pub const REAL_GATEWAY: [Step; 4] = [
    Step {
        text: "请用三句话介绍一下你自己，再用 markdown 列出你能帮我做的三件事。",
        caption: "a markdown answer streamed into the card",
    },
    Step {
        text: "我刚才问了你什么？请用一句话回答。(What did I just ask you? One sentence.)",
        caption: "a follow-up in the same session: the gateway keeps the history",
    },
    Step {
        text: "/new",
        caption: "a chat command the plugin handles itself: a fresh gateway session",
    },
    Step {
        text: "Why is the sky blue? Answer in two sentences.",
        caption: "a question in the fresh session",
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

/// The robot message for `text`: an @-mention of the robot in the demo group.
pub fn message(text: &str) -> MessageSpec {
    MessageSpec {
        chat: Chat::Group {
            conversation_id: GROUP_ID.into(),
            title: GROUP_TITLE.into(),
        },
        sender: Sender {
            nick: USER_NICK.into(),
            ..Sender::default()
        },
        content: Content::Text(text.into()),
        ..MessageSpec::group_text(GROUP_ID, text)
    }
}
