//! The reply pipeline's counters, read by `info` ([`crate::skill`]).

use std::sync::atomic::AtomicU64;

use super::outcome::OutcomeCounters;

/// Counters of every event the pipeline handled. Threads: any (atomics).
#[derive(Debug, Default)]
pub(crate) struct ReplyCounters {
    /// Events accepted.
    pub(crate) events: AtomicU64,
    /// Model replies by outcome.
    pub(crate) outcomes: OutcomeCounters,
    /// Events answered with a plain message.
    pub(crate) replied: AtomicU64,
    /// Duplicates skipped.
    pub(crate) skipped: AtomicU64,
    /// Messages over a sender's rate or a conversation's queue.
    pub(crate) busy: AtomicU64,
    /// Cards an earlier process left in flight, finalized by the recovery at start.
    pub(crate) recovered: AtomicU64,
    /// Proactive prompts (`send`, schedules) answered into new cards.
    pub(crate) posts: AtomicU64,
}
