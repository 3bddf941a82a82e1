//! openclaw-dingtalk: an OpenClaw skill plugin that answers DingTalk robot messages with the
//! OpenClaw Gateway's streamed reply, rendered live in an AI Card.
pub mod card;
pub mod conversation;
pub mod dingtalk;
pub mod durable;
pub mod event;
pub mod ffi;
pub mod gateway;
pub mod logging;
pub mod manifest;
pub mod net_error;
pub mod reply;
pub(crate) mod retry;
pub mod runtime;
pub mod secret;
pub mod skill;
#[cfg(feature = "test-hooks")]
pub mod test_hooks;
