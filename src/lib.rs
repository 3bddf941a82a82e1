//! openclaw-dingtalk: an OpenClaw skill plugin that answers DingTalk robot messages with the
//! OpenClaw Gateway's streamed reply, rendered live in an AI Card.
//!
//! The flow, one module each: [`ingress`] (what hosts ask about DingTalk's delivery) →
//! [`event`] (the robot message) → [`conversation`] (queues, sessions, stop) → [`reply`] (the
//! reply pipeline, which has [`attachments`] fetch and read the message's pictures and files)
//! → [`gateway`] (the OpenClaw SSE stream) → [`card`] (card-sync) → [`dingtalk`] (the
//! OpenAPI client and its budgets). [`skill`] wires them, with one [`app`] (client, budget, card
//! context) per DingTalk app of the manifest; [`hosted`] is what a host's handle holds; `ffi` is
//! the C boundary, the only module allowed `unsafe` code.
#![deny(unsafe_code, unsafe_op_in_unsafe_fn)]
pub(crate) mod app;
pub(crate) mod attachments;
#[doc(hidden)]
pub mod bench_support;
pub(crate) mod card;
pub(crate) mod conversation;
pub(crate) mod dingtalk;
pub(crate) mod durable;
pub(crate) mod event;
mod ffi;
pub(crate) mod gateway;
pub(crate) mod hosted;
pub(crate) mod ingress;
pub(crate) mod logging;
pub(crate) mod manifest;
pub(crate) mod net_error;
pub(crate) mod network;
#[cfg(test)]
mod properties;
pub(crate) mod reply;
pub(crate) mod retry;
pub(crate) mod runtime;
pub(crate) mod schedule;
pub(crate) mod secret;
pub(crate) mod shared;
pub(crate) mod skill;
#[cfg(feature = "test-hooks")]
pub(crate) mod test_hooks;
