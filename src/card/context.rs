//! What every card-sync task shares: the DingTalk client, the journal of cards in flight,
//! the manifest's card settings, the staleness counters, and the card size limit in use.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::journal::Journal;
use super::staleness::Staleness;
use super::stop_button::StopButton;
use crate::dingtalk::DingTalkClient;

/// Smallest size limit card-sync lowers itself to after DingTalk refused a value as too large.
pub(super) const MIN_CARD_BYTES: usize = 600;

/// How cards look and behave (from the manifest).
#[derive(Debug, Clone)]
pub(crate) struct CardPlan {
    /// Template id.
    pub(crate) template_id: String,
    /// Markdown variable receiving the answer.
    pub(crate) content_key: String,
    /// Minimum time between two updates of one card.
    pub(crate) interval: Duration,
    /// Largest card value in UTF-8 bytes.
    pub(crate) max_bytes: usize,
    /// How long creating a card may take before the reply falls back to a markdown message.
    pub(crate) create_deadline: Duration,
    /// Show reasoning above the answer.
    pub(crate) show_reasoning: bool,
    /// Set the `flowStatus` variable when the card ends (one more call).
    pub(crate) flow_status: bool,
    /// The stop button (or the `/stop` line) while the answer streams.
    pub(crate) stop_button: StopButton,
}

/// Shared context of every card-sync task (behind an `Arc`; threads: any).
pub(crate) struct CardContext {
    /// The DingTalk client.
    pub(crate) client: Arc<DingTalkClient>,
    /// The journal of cards in flight.
    pub(crate) journal: Journal,
    /// The manifest's card settings.
    pub(crate) plan: CardPlan,
    /// How long text waits before it is visible, over all cards.
    pub(crate) staleness: Staleness,
    /// The card size limit in use: `plan.max_bytes`, lowered when DingTalk refused a value
    /// as too large (its real limit is unpublished).
    max_bytes: AtomicUsize,
}

impl CardContext {
    /// A context for `plan`.
    pub(crate) fn new(
        client: Arc<DingTalkClient>,
        journal: Journal,
        plan: CardPlan,
    ) -> CardContext {
        CardContext {
            max_bytes: AtomicUsize::new(plan.max_bytes),
            client,
            journal,
            plan,
            staleness: Staleness::default(),
        }
    }

    /// The card size limit in use, in UTF-8 bytes.
    pub(crate) fn max_bytes(&self) -> usize {
        self.max_bytes.load(Ordering::Relaxed)
    }

    /// DingTalk refused a value of `refused` bytes as too large: use at most two thirds of
    /// it from now on.
    pub(super) fn lower_max_bytes(&self, refused: usize) -> usize {
        let lowered = (refused * 2 / 3).max(MIN_CARD_BYTES);
        let now = self
            .max_bytes
            .fetch_min(lowered, Ordering::Relaxed)
            .min(lowered);
        log::warn!(
            "DingTalk refused a card value of {refused} bytes as too large; cards now hold at most {now} bytes (streaming.card_max_bytes is {})",
            self.plan.max_bytes
        );
        now
    }
}
