//! openclaw-dingtalk: an OpenClaw skill plugin that answers DingTalk robot messages with the
//! OpenClaw Gateway's streamed reply, rendered live in an AI Card.
//!
//! The flow, one module each: [`ingress`] (what hosts ask about DingTalk's delivery) →
//! [`event`] (the robot message) → [`conversation`] (queues, sessions, stop) → the reply
//! pipeline → [`gateway`] (the OpenClaw SSE stream) → [`card`] (card-sync) → [`dingtalk`]
//! (the OpenAPI client and its budgets). [`skill`] wires them; [`hosted`] is what a host's
//! handle holds; `ffi` is the C boundary, the only module allowed `unsafe` code.
#![deny(unsafe_code, unsafe_op_in_unsafe_fn)]
pub mod card;
pub mod conversation;
pub mod dingtalk;
pub mod durable;
pub mod event;
mod ffi;
pub mod gateway;
pub(crate) mod hosted;
pub(crate) mod ingress;
pub(crate) mod logging;
pub mod manifest;
pub mod net_error;
pub(crate) mod network;
pub mod runtime;
pub mod secret;
pub mod skill;
#[cfg(feature = "test-hooks")]
pub mod test_hooks;
