//! DingTalk emulator behaviour, through HTTP as a client sees it.

mod common;

#[path = "dingtalk/card_callbacks.rs"]
mod card_callbacks;
#[path = "dingtalk/cards.rs"]
mod cards;
#[path = "dingtalk/control.rs"]
mod control;
#[path = "dingtalk/events.rs"]
mod events;
#[path = "dingtalk/files.rs"]
mod files;
#[path = "dingtalk/limits.rs"]
mod limits;
#[path = "dingtalk/media.rs"]
mod media;
#[path = "dingtalk/real_limits.rs"]
mod real_limits;
#[path = "dingtalk/record_limit.rs"]
mod record_limit;
#[path = "dingtalk/robot.rs"]
mod robot;
#[path = "dingtalk/stream.rs"]
mod stream;
#[path = "dingtalk/tokens.rs"]
mod tokens;
