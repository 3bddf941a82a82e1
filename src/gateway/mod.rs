//! The OpenClaw Gateway side of the flow
//! `event → conversation → reply → gateway stream → card-sync → DingTalk client`: the
//! streaming chat client ([`client`]), the user message it sends ([`message`]: text and
//! pictures), the parsing of its SSE events ([`events`]) and its typed failures ([`error`]).

mod client;
mod error;
mod events;
mod message;
#[cfg(test)]
mod replay_tests;

pub(crate) use client::{ChatRequest, GatewayClient};
pub(crate) use error::GatewayError;
pub(crate) use message::{ImagePart, UserMessage};
// `pub` (in this crate-private module) so that `bench_support` can re-export them.
pub use events::{parse_event_data, GatewayEvent};
