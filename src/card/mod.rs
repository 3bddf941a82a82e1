//! AI Cards, the step of the flow
//! `event → conversation → reply → gateway stream → card-sync → DingTalk client` that turns a
//! growing answer into card updates: card-sync ([`sync`]) schedules the rate-limited
//! updates of one reply, [`layout`] decides what each card shows (card [`markdown`], size
//! limits, follow-up cards), [`images`] finds the answer's data images (uploaded, shown by media id), [`finalize`] ends a card (and hides its [`stop_button`]), [`recovery`] ends cards left in
//! flight, recorded in the crash [`journal`]. [`context`] is what all card-sync tasks share.

mod context;
mod finalize;
pub(crate) mod images;
mod journal;
mod layout;
pub(crate) mod markdown;
mod recovery;
mod staleness;
mod stop_button;
mod sync;

pub(crate) use context::{CardContext, CardPlan};
pub(crate) use journal::{Journal, JournalEntry, JournalMirror};
pub(crate) use recovery::{close_maybe_created, recover_leftovers};
pub(crate) use stop_button::{CardCallbacks, StopButton, STOP_ACTION_ID};
pub(crate) use sync::{CardEnd, CardEvent, CardSync};
