//! The DingTalk OpenAPI client, the last step of the flow
//! `event → conversation → reply → gateway stream → card-sync → DingTalk client`: access
//! token, AI Card create / stream / data, plain replies through the session webhook or the
//! robot send APIs (`docs/dingtalk.md`), the download links of users' files ([`files`]) and
//! the upload of the answer's images ([`media`]).
//!
//! Every call ([`call`]) waits for its slot in the budget ([`budget`]: one learned rate per
//! API, priorities), is counted in [`CallStats`] and against the monthly quota ([`quota`]),
//! and DingTalk's answer teaches the budget (`403 …QpsLimit…` lowers the API's rate). Who a
//! call is for travels in a [`Caller`]; [`retry`] says how one logical call is retried.

mod budget;
mod call;
mod caller;
mod cards;
mod client;
mod error;
mod files;
mod media;
mod messages;
mod quota;
mod retry;
mod saved;
mod stats;
mod streaming;
mod targets;
mod token;
mod transport;

pub(crate) use budget::{BudgetShare, Priority, SharedWindow, WindowCounts};
pub(crate) use caller::Caller;
// `pub` (in this crate-private module) so that `bench_support` can re-export them.
pub(crate) use client::DingTalkClient;
pub(crate) use error::DingTalkError;
pub(crate) use media::UploadImage;
pub(crate) use retry::Retry;
pub(crate) use stats::CallStats;
pub use streaming::{streaming_body, StreamEnd};
pub(crate) use targets::{CardSpace, ReplyTarget};
