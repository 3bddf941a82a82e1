//! Who a DingTalk call is for: the reply's call counters, how urgent the call is, and its
//! conversation (the budget gives intermediate updates of different conversations turns).

use super::budget::Priority;
use super::stats::CallStats;

/// Whom a call is for. Borrowed for the call; the reply owns what it points at.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Caller<'a> {
    /// The reply's call counters.
    pub(crate) stats: &'a CallStats,
    /// How urgent the call is.
    pub(crate) priority: Priority,
    /// The conversation key.
    pub(crate) conversation: &'a str,
}
