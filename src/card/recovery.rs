//! Recovery of cards left in flight: a card whose card-sync panicked, and, at start, the
//! cards an earlier process left in the journal (a crash, a kill), are finalized as failed
//! with the text they last showed and a note under it.

use std::sync::{Arc, Mutex};

use backon::Retryable;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::context::{CardContext, MIN_CARD_BYTES};
use super::finalize::{finalize_card, FinalUpdate};
use super::journal::JournalEntry;
use super::markdown::split_point;
use crate::dingtalk::{CallStats, Caller, Priority};
use crate::retry::{sleep_unless_cancelled, RECOVERY_DEADLINE};

/// The note a card left in flight by a crash is finalized with.
const INTERRUPTED_NOTE: &str = "上一次回复处理中断，已自动结束。请重新发送你的问题。(The previous reply was interrupted; please send your question again.)";

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
/// accepted. Runs in the background (the skill's `init` never waits for DingTalk): the cards
/// DingTalk cannot take now are tried again in rounds ([`crate::retry::recovery`]) until
/// [`RECOVERY_DEADLINE`], then left in the journal for the next start. `shutdown` ends the
/// wait between rounds, and no round starts after it.
pub(crate) async fn recover_leftovers(
    ctx: Arc<CardContext>,
    leftovers: Vec<JournalEntry>,
    shutdown: CancellationToken,
    recovered: impl Fn(),
) {
    let stats = CallStats::default();
    let started = Instant::now();
    let left = Mutex::new(leftovers);
    let (ctx, stats, left, shutdown_ref, recovered) = (&ctx, &stats, &left, &shutdown, &recovered);
    // One round: every card left; `Err(n)` when `n` cards are still to be finalized.
    let round = || async move {
        if shutdown_ref.is_cancelled() {
            return Ok(());
        }
        let entries = std::mem::take(&mut *left.lock().unwrap_or_else(|e| e.into_inner()));
        let attempts = entries.iter().map(|entry| {
            let note = if entry.text.is_empty() {
                format!("> ⚠️ {INTERRUPTED_NOTE}")
            } else {
                format!("\n\n> ⚠️ {INTERRUPTED_NOTE}")
            };
            async move { recover_card(ctx, stats, &entry.card_id, &entry.text, &note).await }
        });
        let results = futures_util::future::join_all(attempts).await;
        let mut retry = Vec::new();
        for (entry, done) in entries.into_iter().zip(results) {
            if done {
                recovered();
                log::info!("card {} (interrupted earlier) finalized", entry.card_id);
            } else if ctx.journal.contains(&entry.card_id) {
                retry.push(entry);
            }
        }
        if retry.is_empty() {
            return Ok(());
        }
        let unfinished = retry.len();
        *left.lock().unwrap_or_else(|e| e.into_inner()) = retry;
        Err(unfinished)
    };
    let result = round
        .retry(crate::retry::recovery())
        .sleep(sleep_unless_cancelled(shutdown.clone()))
        .when(|_| started.elapsed() < RECOVERY_DEADLINE)
        .await;
    if let Err(unfinished) = result {
        log::warn!(
            "{unfinished} interrupted card(s) could not be finalized within {} min; they stay in the journal for the next start",
            RECOVERY_DEADLINE.as_secs() / 60
        );
    }
}

/// Said by a card whose creation a host that died had begun, when another host takes its
/// message over: the answer comes in a new card.
const ANSWERED_ELSEWHERE_NOTE: &str = "（回复改由新卡片发送 · the answer follows in a new card）";

/// Closes the cards of `entries`, whose creation a host that is gone had begun and maybe not
/// finished (another host answers their messages anew): one final update each, and the
/// journal forgets them whatever DingTalk says (a card that was never created cannot be
/// closed, and is no one's to finalize).
pub(crate) async fn close_maybe_created(ctx: Arc<CardContext>, entries: Vec<JournalEntry>) {
    let stats = CallStats::default();
    let caller = Caller {
        stats: &stats,
        priority: Priority::Final,
        conversation: "-",
    };
    let closes = entries.iter().map(|entry| {
        let (ctx, caller) = (&ctx, &caller);
        async move {
            let closed = matches!(
                finalize_card(ctx, caller, &entry.card_id, ANSWERED_ELSEWHERE_NOTE, true).await,
                FinalUpdate::Accepted
            );
            ctx.journal.remove(&entry.card_id);
            log::info!(
                "card {} (its creation was interrupted): {}",
                entry.card_id,
                if closed {
                    "closed; its message is answered in a new card"
                } else {
                    "it does not exist; its message is answered in a new card"
                }
            );
        }
    });
    futures_util::future::join_all(closes).await;
}
