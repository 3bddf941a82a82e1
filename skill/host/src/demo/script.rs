//! The demo's scripted conversation: one DingTalk group, one message at a time.
//!
//! Against the built-in fake gateway the messages carry its trigger words (`LONG:<chars>`,
//! `PACE:<ms>`, `REASON`, `ZH:<bytes>`; see the emulator's `gateway::script`), so every run
//! shows the same things: a long markdown answer streamed token by token, the session's
//! history, `/new`, reasoning shown above an answer, a picture the gateway describes, and a
//! long answer its asker stops with the card's stop button. Against a real gateway the same
//! steps are plain questions.
//!
//! Both scripts end with the stand-up ([`super::standup`]): three colleagues post messages
//! tagged `#standup`, which the robot collects and only acknowledges; the schedule's next tick
//! then posts one summary card of them.

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
/// The demo user, who asks the questions.
pub const ALICE: Person = Person {
    nick: USER_NICK,
    staff_id: USER_STAFF_ID,
};
/// The colleagues who post their stand-up.
pub const ZHANG_SAN: Person = Person {
    nick: "张三",
    staff_id: "016650100000011",
};
/// See [`ZHANG_SAN`].
pub const LI_SI: Person = Person {
    nick: "李四",
    staff_id: "016650100000012",
};
/// See [`ZHANG_SAN`].
pub const WANG_WU: Person = Person {
    nick: "王五",
    staff_id: "016650100000013",
};

/// Someone in the demo group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Person {
    /// `senderNick`.
    pub nick: &'static str,
    /// `senderStaffId`.
    pub staff_id: &'static str,
}
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
    /// A text message with the stand-up tag: the robot collects it for the schedule's summary
    /// and only acknowledges it (a plain message, no card).
    Collect,
    /// Not a message: the stand-up schedule's tick, which posts the summary card on its own.
    Tick,
}

/// One message of the script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// Who writes it.
    pub who: Person,
    /// What they write (after @-mentioning the robot).
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
            who: ALICE,
            text,
            caption,
            action: Action::Ask,
        }
    }

    /// A colleague's stand-up message (the same against either gateway).
    const fn standup(who: Person, text: &'static str, caption: &'static str) -> Step {
        Step {
            who,
            text,
            caption,
            action: Action::Collect,
        }
    }
}

/// The stand-up messages: plain Chinese, the tag first or last.
const STANDUP: [Step; 3] = [
    Step::standup(
        ZHANG_SAN,
        "#standup 昨天：修复登录超时；今天：联调支付",
        "stand-up: a message with the tag #standup is collected for the schedule; the robot only acknowledges it",
    ),
    Step::standup(
        LI_SI,
        "#standup 昨天：写完周报；今天：评审接口文档；阻碍：测试环境不稳定",
        "stand-up: collected too (no card, no model)",
    ),
    Step::standup(
        WANG_WU,
        "昨天请假，今天补写单元测试 #standup",
        "stand-up: the third one; the schedule's next tick summarizes all three",
    ),
];

/// The script for the built-in fake gateway (about 9 s of answers, then the stand-up).
pub const FAKE_GATEWAY: [Step; 9] = [
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
        who: ALICE,
        text: "这张图里画的是什么？",
        caption: "a picture: the plugin downloads it and sends it as an image; the fake gateway says what it saw",
        action: Action::Picture,
    },
    // 2,700 bytes of Chinese, 3 characters a token 25 ms apart: about 7 s if nobody stops it.
    Step {
        who: ALICE,
        text: "请写一篇长文，介绍钉钉的 AI 卡片 ZH:2700 PACE:25",
        caption: "a long answer; its asker presses the card's stop button while it streams",
        action: Action::StopMidway,
    },
    STANDUP[0],
    STANDUP[1],
    STANDUP[2],
];

/// The script for a real OpenClaw gateway (`--gateway`): the same steps as plain questions.
pub const REAL_GATEWAY: [Step; 9] = [
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
        who: ALICE,
        text: "这张图里画的是什么？请用一句话描述。",
        caption: "a picture: the plugin downloads it and sends it to the gateway as an image",
        action: Action::Picture,
    },
    Step {
        who: ALICE,
        text: "请写一篇至少两千字的文章，详细介绍钉钉机器人和 AI 卡片。",
        caption: "a long answer; its asker presses the card's stop button while it streams",
        action: Action::StopMidway,
    },
    STANDUP[0],
    STANDUP[1],
    STANDUP[2],
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

/// The robot message of `step`: an @-mention of the robot in the demo group by its writer;
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
            staff_id: step.who.staff_id.into(),
            nick: step.who.nick.into(),
        },
        content,
        ..MessageSpec::group_text(GROUP_ID, step.text)
    }
}
