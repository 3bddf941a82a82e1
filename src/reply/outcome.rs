//! How a reply ended for the user, the last step of the reply pipeline: the word the
//! per-reply log line, `info` and `/metrics` use. `finished` means every card of the reply
//! was finalized showing its whole part of the answer; anything less is named for what
//! happened.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// How the model's side of a reply ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelEnd {
    /// The answer is complete.
    Done,
    /// The gateway failed (the card shows why under the text so far).
    Failed,
    /// The user stopped it.
    Stopped,
    /// The skill shut down first.
    Interrupted,
}

/// What reached the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// At least one card was created.
    pub card: bool,
    /// Every card that was created was finalized.
    pub cards_finalized: bool,
    /// Markdown messages carrying the answer (or its tail): `None` when none were needed,
    /// else whether all of them were accepted.
    pub messages: Option<bool>,
}

/// The outcome of one reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every card finalized, showing the whole answer.
    Finished,
    /// The whole answer reached the user, but (partly) as markdown messages instead of cards.
    Degraded,
    /// The gateway failed; the user was shown the text so far and why.
    Failed,
    /// Stopped by the user.
    Stopped,
    /// The skill shut down before the answer was complete.
    Interrupted,
    /// Part of the answer could not be sent.
    Incomplete,
    /// Nothing reached the user.
    Undelivered,
    /// A card could not be finalized; it stays in the journal and the next start finalizes it.
    Stuck,
}

impl Outcome {
    /// Every outcome, in counter order.
    pub(crate) const ALL: [Outcome; 8] = [
        Outcome::Finished,
        Outcome::Degraded,
        Outcome::Failed,
        Outcome::Stopped,
        Outcome::Interrupted,
        Outcome::Incomplete,
        Outcome::Undelivered,
        Outcome::Stuck,
    ];

    /// Decides the outcome: what failed to reach the user weighs more than how the model
    /// ended, and a markdown fallback is never called `finished`.
    pub fn of(model: ModelEnd, delivery: Delivery) -> Outcome {
        if !delivery.card && delivery.messages != Some(true) {
            return Outcome::Undelivered;
        }
        if delivery.card && !delivery.cards_finalized {
            return Outcome::Stuck;
        }
        if delivery.messages == Some(false) {
            return Outcome::Incomplete;
        }
        match model {
            ModelEnd::Failed => Outcome::Failed,
            ModelEnd::Stopped => Outcome::Stopped,
            ModelEnd::Interrupted => Outcome::Interrupted,
            ModelEnd::Done if delivery.messages.is_some() => Outcome::Degraded,
            ModelEnd::Done => Outcome::Finished,
        }
    }

    /// The word used in logs, `info` and metrics labels.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Finished => "finished",
            Outcome::Degraded => "degraded",
            Outcome::Failed => "failed",
            Outcome::Stopped => "stopped",
            Outcome::Interrupted => "interrupted",
            Outcome::Incomplete => "incomplete",
            Outcome::Undelivered => "undelivered",
            Outcome::Stuck => "stuck",
        }
    }

    /// Whether the user got the whole answer.
    pub fn delivered_whole(self) -> bool {
        matches!(self, Outcome::Finished | Outcome::Degraded)
    }
}

/// Replies by outcome. Threads: any (atomics).
#[derive(Debug, Default)]
pub struct OutcomeCounters {
    counts: [AtomicU64; Outcome::ALL.len()],
}

impl OutcomeCounters {
    /// Counts one reply.
    pub fn record(&self, outcome: Outcome) {
        self.counts[outcome as usize].fetch_add(1, Relaxed);
    }

    /// Replies with `outcome`.
    pub fn count(&self, outcome: Outcome) -> u64 {
        self.counts[outcome as usize].load(Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CARD_OK: Delivery = Delivery {
        card: true,
        cards_finalized: true,
        messages: None,
    };

    #[test]
    fn finished_only_when_every_card_was_finalized_with_the_whole_answer() {
        assert_eq!(Outcome::of(ModelEnd::Done, CARD_OK), Outcome::Finished);
        let fallback = Delivery {
            card: false,
            cards_finalized: true,
            messages: Some(true),
        };
        assert_eq!(Outcome::of(ModelEnd::Done, fallback), Outcome::Degraded);
        let tail = Delivery {
            messages: Some(true),
            ..CARD_OK
        };
        assert_eq!(Outcome::of(ModelEnd::Done, tail), Outcome::Degraded);
    }

    #[test]
    fn a_reply_that_reached_nobody_is_undelivered_whatever_the_model_did() {
        let nothing = Delivery {
            card: false,
            cards_finalized: true,
            messages: Some(false),
        };
        assert_eq!(Outcome::of(ModelEnd::Done, nothing), Outcome::Undelivered);
        assert_eq!(Outcome::of(ModelEnd::Failed, nothing), Outcome::Undelivered);
        let stuck = Delivery {
            cards_finalized: false,
            ..CARD_OK
        };
        assert_eq!(Outcome::of(ModelEnd::Done, stuck), Outcome::Stuck);
        let lost_tail = Delivery {
            messages: Some(false),
            ..CARD_OK
        };
        assert_eq!(Outcome::of(ModelEnd::Done, lost_tail), Outcome::Incomplete);
        assert_eq!(Outcome::of(ModelEnd::Failed, CARD_OK), Outcome::Failed);
    }
}
