//! AI Cards: markdown shaping, the in-flight journal, and card-sync.

pub mod journal;
pub mod markdown;
pub mod staleness;
pub mod sync;

pub use journal::{Journal, JournalEntry};
pub use sync::{recover_card, CardContext, CardEnd, CardEvent, CardPlan, CardReport, CardSync};
