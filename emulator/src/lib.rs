//! Local stand-ins for the two remote peers of the openclaw-dingtalk bridge.
//!
//! * [`dingtalk`]: an emulator of the DingTalk OpenAPI (access tokens, AI Card create/deliver/stream/update,
//!   robot replies) with the documented limits and error shapes, fault injection and a JSON control API.
//! * [`gateway`]: a fake OpenClaw gateway (`/v1/chat/completions` SSE, byte-exact framing) that can also act
//!   as the fake *upstream model* behind a real gateway.
//! * [`event`]: realistic inbound robot-message payloads and HTTP-callback signing.
//! * [`manifest`]: [`manifest::TestManifest`], the builder of every test manifest (`openclaw-skill.yaml`).
//! * [`redis`]: [`redis::RedisServer`], a real `redis-server` on loopback for the multi-host tests
//!   (the plugin's `shared_state:`).
//! * [`replay`]: a raw TCP server that replays captured HTTP responses byte for byte.
//! * [`render`]: card and robot-message markdown to HTML, as DingTalk shows it.
//!
//! Every server binds to a loopback address only (see [`dingtalk::DingTalkEmulator::start_on`]).
#![deny(unsafe_code)]

pub mod dingtalk;
pub mod event;
pub mod gateway;
pub mod manifest;
pub mod redis;
pub mod render;
pub mod replay;

mod bounded;
mod clock;
mod http;
mod notify;
