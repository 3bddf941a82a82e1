//! The OpenClaw Gateway side of the flow
//! `event → conversation → reply → gateway stream → card-sync → DingTalk client`: the
//! streaming chat client ([`client`]), the parsing of its SSE events ([`events`]) and its
//! typed failures ([`error`]).

mod client;
mod error;
mod events;

pub use client::{ChatRequest, GatewayClient};
pub use error::{Deadline, GatewayError};
pub use events::{parse_event_data, GatewayEvent};
