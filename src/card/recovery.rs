//! Recovery of cards left in flight: a card whose card-sync panicked, and, at start, the
//! cards an earlier process left in the journal (a crash, a kill), are finalized as failed
//! with the text they last showed and a note under it.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::context::{CardContext, MIN_CARD_BYTES};
use super::finalize::{finalize_card, FinalUpdate};
use super::journal::JournalEntry;
use super::markdown::split_point;
use crate::dingtalk::{CallStats, Caller, Priority};

/// The note a card left in flight by a crash is finalized with.
const INTERRUPTED_NOTE: &str = "上一次回复处理中断，已自动结束。请重新发送你的问题。(The previous reply was interrupted; please send your question again.)";

/// How long cards left in flight by an earlier process are retried in the background.
const RECOVERY_DEADLINE: Duration = Duration::from_secs(15 * 60);
/// Pause between two rounds of that recovery.
const RECOVERY_RETRY: Duration = Duration::from_secs(20);

/// Finalizes a card left in the journal, as failed: the text it last showed (cut shorter if
/// DingTalk refuses it as too large) and `note` under it. Returns whether DingTalk accepted
/// it.
pub(super) async fn recover_card(
    ctx: &CardContext,
    stats: &CallStats,
    card: &str,
    shown: &str,
    note: &str,
) -> bool {
    let caller = Caller {
        stats,
        priority: Priority::Final,
        conversation: card,
    };
    let mut limit = ctx.max_bytes();
    loop {
        let room = limit.saturating_sub(note.len());
        let kept = &shown[..split_point(shown, room).unwrap_or(shown.len())];
        let text = format!("{kept}{note}");
        match finalize_card(ctx, &caller, card, &text, true).await {
            FinalUpdate::Accepted => return true,
            FinalUpdate::Refused => return false,
            FinalUpdate::TooLarge if limit > MIN_CARD_BYTES => {
                limit = (limit * 2 / 3).max(MIN_CARD_BYTES);
            }
            FinalUpdate::TooLarge => {
                ctx.journal.remove(card);
                return false;
            }
        }
    }
}

/// Finalizes the cards an earlier process left in flight (`leftovers`, from the journal) as
/// interrupted, keeping the text they showed; `recovered` is called for each card DingTalk
/// accepted. Runs in the background (the skill's `init` never waits for DingTalk): a card
/// DingTalk cannot take now is tried again every [`RECOVERY_RETRY`] until
/// [`RECOVERY_DEADLINE`], then left in the journal for the next start. `shutdown` ends the
/// waits between rounds.
pub(crate) async fn recover_leftovers(
    ctx: Arc<CardContext>,
    leftovers: Vec<JournalEntry>,
    shutdown: CancellationToken,
    recovered: impl Fn(),
) {
    let stats = CallStats::default();
    let started = tokio::time::Instant::now();
    let mut left = leftovers;
    loop {
        if shutdown.is_cancelled() {
            return;
        }
        let attempts = left.iter().map(|entry| {
            let note = if entry.text.is_empty() {
                format!("> ⚠️ {INTERRUPTED_NOTE}")
            } else {
                format!("\n\n> ⚠️ {INTERRUPTED_NOTE}")
            };
            let (ctx, stats) = (&ctx, &stats);
            async move { recover_card(ctx, stats, &entry.card_id, &entry.text, &note).await }
        });
        let results = futures_util::future::join_all(attempts).await;
        let mut retry = Vec::new();
        for (entry, done) in left.into_iter().zip(results) {
            if done {
                recovered();
                log::info!("card {} (interrupted earlier) finalized", entry.card_id);
            } else if ctx.journal.contains(&entry.card_id) {
                retry.push(entry);
            }
        }
        if retry.is_empty() {
            return;
        }
        if started.elapsed() >= RECOVERY_DEADLINE {
            log::warn!(
                "{} interrupted card(s) could not be finalized within {} min; they stay in the journal for the next start",
                retry.len(),
                RECOVERY_DEADLINE.as_secs() / 60
            );
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(RECOVERY_RETRY) => {}
            () = shutdown.cancelled() => return,
        }
        left = retry;
    }
}
