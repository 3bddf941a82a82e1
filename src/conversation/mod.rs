//! Conversations, the step after the event in the flow
//! `event → conversation → reply → gateway stream → card-sync → DingTalk client`: which
//! messages share a gateway session ([`session`]), the queue that runs a conversation's
//! replies one at a time and stops them ([`queue`]), the cards whose stop button stops a
//! reply ([`stoppable`]), the redelivery filter ([`dedup`]), flood control ([`flood`]) and the
//! chat commands the plugin handles itself ([`command`]).

mod command;
mod dedup;
mod flood;
mod queue;
mod session;
mod stoppable;

pub(crate) use command::Command;
pub(crate) use dedup::Dedup;
pub(crate) use flood::{FloodControl, NOTICE_PERIOD};
pub(crate) use queue::{Conversations, Turn};
pub(crate) use session::Sessions;
pub(crate) use stoppable::{CardOwner, PressVerdict, ReplyCards, StoppableCards};
