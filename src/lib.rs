//! openclaw-dingtalk: an OpenClaw skill plugin that answers DingTalk robot messages with the
//! OpenClaw Gateway's streamed reply, rendered live in an AI Card.
#[doc(hidden)]
pub mod bench_support;
pub(crate) mod card;
pub(crate) mod conversation;
pub(crate) mod dingtalk;
pub(crate) mod durable;
pub(crate) mod event;
pub mod ffi;
pub(crate) mod gateway;
pub(crate) mod logging;
pub(crate) mod manifest;
pub(crate) mod net_error;
#[cfg(test)]
mod properties;
pub(crate) mod reply;
pub(crate) mod retry;
pub(crate) mod runtime;
pub(crate) mod secret;
pub(crate) mod skill;
#[cfg(feature = "test-hooks")]
pub(crate) mod test_hooks;
