//! Flood control: one noisy sender or conversation cannot starve the others.
//!
//! - Each sender may send `conversation.sender_messages_per_minute` messages a minute (a
//!   burst of that many, then one every `60 s / n`); more get the busy notice, never a card.
//! - Each conversation may have `conversation.max_queued` messages waiting behind the reply
//!   being answered (see [`super::queue::Conversations::try_enter`]).
//! - Notices (busy, refusal) go to a conversation at most once every [`NOTICE_PERIOD`], so a
//!   flood costs at most one DingTalk call per conversation per period.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// At most one notice per conversation in this period.
pub(crate) const NOTICE_PERIOD: Duration = Duration::from_secs(30);

/// The limiters. Threads: any.
pub struct FloodControl {
    senders: DefaultKeyedRateLimiter<String>,
    notices: DefaultKeyedRateLimiter<String>,
    max_queued: usize,
}

impl FloodControl {
    /// `per_minute` messages per sender and minute, `max_queued` waiting per conversation.
    pub fn new(per_minute: u32, max_queued: usize) -> FloodControl {
        let per_minute = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        FloodControl {
            senders: RateLimiter::keyed(Quota::per_minute(per_minute)),
            notices: RateLimiter::keyed(
                Quota::with_period(NOTICE_PERIOD).expect("the notice period is positive"),
            ),
            max_queued,
        }
    }

    /// Takes one message of `sender` from its budget; false when the sender is over it.
    pub fn sender_allows(&self, sender: &str) -> bool {
        self.senders.check_key(&sender.to_owned()).is_ok()
    }

    /// Whether a notice may go to `conversation` now (and counts it when it may).
    pub fn notice_allowed(&self, conversation: &str) -> bool {
        self.notices.check_key(&conversation.to_owned()).is_ok()
    }

    /// Messages that may wait behind a conversation's running reply.
    pub fn max_queued(&self) -> usize {
        self.max_queued
    }

    /// Forgets senders and conversations whose budgets are full again (keeps memory bounded).
    pub fn forget_idle(&self) {
        self.senders.retain_recent();
        self.notices.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sender_gets_a_burst_of_its_rate_then_is_held_back_alone() {
        let flood = FloodControl::new(3, 5);
        for _ in 0..3 {
            assert!(flood.sender_allows("noisy"));
        }
        assert!(!flood.sender_allows("noisy"));
        assert!(flood.sender_allows("quiet"), "others are not affected");
    }

    #[test]
    fn one_notice_per_conversation_per_period() {
        let flood = FloodControl::new(3, 5);
        assert!(flood.notice_allowed("cidA"));
        assert!(!flood.notice_allowed("cidA"));
        assert!(flood.notice_allowed("cidB"));
    }
}
