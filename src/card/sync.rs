//! card-sync: turns a growing answer into rate-limited AI Card updates and always
//! finalizes the card.
//!
//! The reply task writes the text into a `watch` channel (latest wins, so there is never a
//! backlog of stale updates). This task sends the first content at once (leading edge),
//! then at most one update per `card_update_interval_ms`, each through the app-wide budget,
//! rolls over to a follow-up card when the text outgrows one card, and finally sends the
//! finalizing update, retried with backoff and a new `guid` until DingTalk accepts it.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};
use tokio::sync::{mpsc, watch};
use tokio::time::{sleep, sleep_until, Instant};

use super::journal::{Journal, JournalEntry};
use super::markdown::{normalize_for_card, open_fence, split_point};
use crate::dingtalk::{with_retries, CallStats, CardSpace, DingTalkClient, DingTalkError};

/// Attempts for the final update (about a minute of backoff in total).
const FINAL_ATTEMPTS: u32 = 10;
/// Attempts for creating a card.
const CREATE_ATTEMPTS: u32 = 4;
/// Pause after an intermediate update hit `403 QpsLimit`.
const QPS_BACKOFF: Duration = Duration::from_secs(1);
/// Appended to a card whose answer continues in the next card.
const CONTINUED: &str = "\n\n*（续下一张卡片 · continued below）*";

/// How cards look and behave (from the manifest).
#[derive(Debug, Clone)]
pub struct CardPlan {
    /// Template id.
    pub template_id: String,
    /// Markdown variable receiving the answer.
    pub content_key: String,
    /// Minimum time between two updates of one card.
    pub interval: Duration,
    /// Characters per card.
    pub max_chars: usize,
    /// Show reasoning above the answer.
    pub show_reasoning: bool,
    /// Set the `flowStatus` variable when the card ends (one more call).
    pub flow_status: bool,
}

/// How the reply ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardEnd {
    /// Complete answer.
    Finished,
    /// Failed; the note is shown under the text received so far.
    Failed(String),
    /// Stopped by the user.
    Stopped,
}

/// The text so far, as written by the reply task.
#[derive(Debug, Clone, Default)]
struct Draft {
    answer: String,
    reasoning: String,
    end: Option<CardEnd>,
}

/// What card-sync tells the reply task.
#[derive(Debug)]
pub enum CardEvent {
    /// A card exists (the first one, or a follow-up for a long answer).
    Created(String),
    /// The first card could not be created; reply in plain messages instead.
    CreateFailed(DingTalkError),
}

/// The result of one reply's card-sync.
#[derive(Debug, Clone, Default)]
pub struct CardReport {
    /// Card ids used, in order.
    pub cards: Vec<String>,
    /// Whether the last card was finalized.
    pub finalized: bool,
    /// When the first content became visible.
    pub first_visible: Option<Instant>,
    /// Byte offset of the answer from which no card shows the text (a follow-up card could
    /// not be created); the reply task sends that part as a message.
    pub unsent_from: Option<usize>,
}

/// Shared context of every card-sync task.
pub struct CardContext {
    /// The DingTalk client.
    pub client: Arc<DingTalkClient>,
    /// The journal of cards in flight.
    pub journal: Journal,
    /// The manifest's card settings.
    pub plan: CardPlan,
    /// How long text waits before it is visible, over all cards.
    pub staleness: super::staleness::Staleness,
}

/// Handle held by the reply task. Dropping it without [`CardSync::finish`] finalizes the
/// card as failed (e.g. when the reply task panicked).
pub struct CardSync {
    draft: watch::Sender<Draft>,
    /// Arrival of the oldest answer text no update has shown yet (for staleness).
    unshown_since: UnshownSince,
    task: tokio::task::JoinHandle<CardReport>,
}

/// Shared by the reply task (sets it on new text) and card-sync (takes it on each update).
type UnshownSince = Arc<std::sync::Mutex<Option<Instant>>>;

impl CardSync {
    /// Starts card-sync for a reply: creates the first card (id `card_id`) in `space` at
    /// once. Card events arrive on the returned receiver.
    pub fn start(
        ctx: Arc<CardContext>,
        space: CardSpace,
        stats: Arc<CallStats>,
    ) -> (CardSync, mpsc::UnboundedReceiver<CardEvent>) {
        let (draft, rx) = watch::channel(Draft::default());
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let unshown_since = UnshownSince::default();
        let task = tokio::spawn(run(ctx, space, rx, events_tx, stats, unshown_since.clone()));
        (
            CardSync {
                draft,
                unshown_since,
                task,
            },
            events_rx,
        )
    }

    /// Appends answer text.
    pub fn push_answer(&self, delta: &str) {
        self.unshown_since
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert_with(Instant::now);
        self.draft.send_modify(|d| d.answer.push_str(delta));
    }

    /// Appends reasoning text.
    pub fn push_reasoning(&self, delta: &str) {
        self.draft.send_modify(|d| d.reasoning.push_str(delta));
    }

    /// Ends the reply; resolves when the card is finalized (or finalizing gave up).
    pub async fn finish(self, end: CardEnd) -> CardReport {
        self.draft.send_modify(|d| d.end = Some(end));
        self.task.await.unwrap_or_default()
    }
}

fn new_card_id() -> String {
    format!("card_{}", uuid::Uuid::new_v4().simple())
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

struct Run {
    ctx: Arc<CardContext>,
    space: CardSpace,
    stats: Arc<CallStats>,
    events: mpsc::UnboundedSender<CardEvent>,
    report: CardReport,
    /// Current card id.
    card: String,
    /// Byte offset of the current card's part of the answer.
    offset: usize,
    /// Text last shown on the current card.
    shown: String,
    unshown_since: UnshownSince,
    /// A code fence to reopen at the top of the current (follow-up) card.
    reopen: String,
    /// Set when a follow-up card could not be created: the answer from here on goes out as
    /// plain messages (by the reply task) and no card is updated any more.
    unsent_from: Option<usize>,
    /// When the current card was created (its journal entry keeps this across rewrites).
    created_at_ms: u64,
}

async fn run(
    ctx: Arc<CardContext>,
    space: CardSpace,
    mut rx: watch::Receiver<Draft>,
    events: mpsc::UnboundedSender<CardEvent>,
    stats: Arc<CallStats>,
    unshown_since: UnshownSince,
) -> CardReport {
    let mut run = Run {
        unshown_since,
        ctx,
        space,
        stats,
        events,
        report: CardReport::default(),
        card: new_card_id(),
        offset: 0,
        shown: String::new(),
        reopen: String::new(),
        unsent_from: None,
        created_at_ms: 0,
    };
    if let Err(e) = run.create_card().await {
        let _ = run.events.send(CardEvent::CreateFailed(e));
        return run.report;
    }
    let interval = run.ctx.plan.interval;
    let mut last_sent: Option<Instant> = None;
    let end = loop {
        if rx.changed().await.is_err() {
            break CardEnd::Failed("内部错误，回复中断 (internal error)".into());
        }
        if let Some(t) = last_sent {
            sleep_until(t + interval).await;
        }
        let draft = rx.borrow_and_update().clone();
        if let Some(end) = draft.end {
            break end;
        }
        run.roll_over(&draft).await;
        let text = run.render(&draft);
        if text.is_empty() || text == run.shown || run.unsent_from.is_some() {
            continue;
        }
        // Journal first: after a crash the recovered text is never behind what was shown.
        run.journal_text(&text);
        match run
            .ctx
            .client
            .stream_card(
                &run.card,
                &run.ctx.plan.content_key,
                &text,
                false,
                false,
                &run.stats,
            )
            .await
        {
            Ok(()) => {
                run.report.first_visible.get_or_insert_with(Instant::now);
                run.shown = text;
                run.record_staleness();
            }
            Err(e) if e.is_qps_limit() => {
                log::warn!(
                    "card {}: update hit the DingTalk rate limit; backing off",
                    run.card
                );
                sleep(QPS_BACKOFF).await;
            }
            Err(e) => log::warn!("card {}: update failed: {e}", run.card),
        }
        last_sent = Some(Instant::now());
    };
    let draft = rx.borrow().clone();
    run.roll_over(&draft).await;
    if run.unsent_from.is_some() {
        return run.report;
    }
    let mut text = run.render(&draft);
    let failed = match &end {
        CardEnd::Finished => false,
        CardEnd::Failed(note) => {
            text.push_str(&format!("\n\n> ⚠️ {note}"));
            true
        }
        CardEnd::Stopped => {
            text.push_str("\n\n> ⏹ 已停止 (stopped)");
            false
        }
    };
    if text.trim().is_empty() {
        text = "（空回复 · empty answer）".into();
    }
    run.report.finalized = run.finalize(&text, failed).await;
    run.report
}

impl Run {
    /// The current card's text: its part of the answer (plus reasoning when shown), as card markdown.
    fn render(&self, draft: &Draft) -> String {
        let part = &draft.answer[self.offset..];
        let mut text = String::new();
        if self.ctx.plan.show_reasoning && self.offset == 0 && !draft.reasoning.is_empty() {
            for line in draft.reasoning.lines() {
                text.push_str("> ");
                text.push_str(line);
                text.push('\n');
            }
            text.push('\n');
        }
        text.push_str(&self.reopen);
        text.push_str(part);
        normalize_for_card(&text)
    }

    /// While the current card's part is too long, finalize it at a safe cut and continue in a new card.
    async fn roll_over(&mut self, draft: &Draft) {
        let budget = self
            .ctx
            .plan
            .max_chars
            .saturating_sub(CONTINUED.chars().count() + 64)
            .max(100);
        while self.unsent_from.is_none() {
            let Some(cut) = split_point(&draft.answer[self.offset..], budget) else {
                break;
            };
            let part = format!(
                "{}{}",
                self.reopen,
                &draft.answer[self.offset..self.offset + cut]
            );
            // A cut inside a code block closes it here and reopens it in the next card.
            let (close, reopen) = match open_fence(&part) {
                Some(fence) => ("\n```", format!("{fence}\n")),
                None => ("", String::new()),
            };
            let text = normalize_for_card(&part) + close + CONTINUED;
            self.report.finalized = self.finalize(&text, false).await;
            self.offset += cut;
            self.reopen = reopen;
            self.card = new_card_id();
            self.shown.clear();
            if let Err(e) = self.create_card().await {
                log::error!("follow-up card could not be created ({e}); the rest of the answer is sent as a message");
                self.unsent_from = Some(self.offset);
                self.report.unsent_from = Some(self.offset);
            }
        }
    }

    async fn create_card(&mut self) -> Result<(), DingTalkError> {
        self.created_at_ms = now_ms();
        self.journal_text("");
        let mut params = Map::new();
        params.insert(
            self.ctx.plan.content_key.clone(),
            Value::String(String::new()),
        );
        params.insert("flowStatus".into(), json!("1"));
        let (ctx, card, space, stats) = (&self.ctx, &self.card, &self.space, &self.stats);
        let result = with_retries(CREATE_ATTEMPTS, "create card", || {
            ctx.client
                .create_and_deliver(card, &ctx.plan.template_id, space, &params, stats)
        })
        .await;
        match result {
            Ok(()) => {
                self.report.cards.push(self.card.clone());
                let _ = self.events.send(CardEvent::Created(self.card.clone()));
                Ok(())
            }
            Err(e) => {
                self.ctx.journal.remove(&self.card);
                Err(e)
            }
        }
    }

    /// Counts the wait of the oldest text this successful update made visible.
    fn record_staleness(&self) {
        let since = self
            .unshown_since
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(since) = since {
            self.ctx.staleness.record(since.elapsed());
        }
    }

    fn journal_text(&self, text: &str) {
        self.ctx.journal.write(&JournalEntry {
            card_id: self.card.clone(),
            content_key: self.ctx.plan.content_key.clone(),
            text: text.to_owned(),
            created_at_ms: self.created_at_ms,
        });
    }

    /// The finalizing update (`isFinalize`, or `isError` when failed) plus the `flowStatus`
    /// card variable, each retried until accepted. Returns whether DingTalk accepted it.
    async fn finalize(&mut self, text: &str, failed: bool) -> bool {
        let done = finalize_card(&self.ctx, &self.card, text, failed, &self.stats).await;
        if done {
            self.record_staleness();
            self.report.first_visible.get_or_insert_with(Instant::now);
        }
        done
    }
}

/// Finalizes one card (also used to recover journal leftovers at `init`).
pub async fn finalize_card(
    ctx: &CardContext,
    card: &str,
    text: &str,
    failed: bool,
    stats: &CallStats,
) -> bool {
    let key = &ctx.plan.content_key;
    let streamed = with_retries(FINAL_ATTEMPTS, "final card update", || {
        ctx.client.stream_card(card, key, text, true, failed, stats)
    })
    .await;
    if let Err(e) = &streamed {
        log::error!("card {card}: the final update was refused: {e}");
    }
    // When the streaming API refused the final update, the data update carries the text too,
    // so the card still ends (templates driven by flowStatus show it as finished or failed).
    let status = if ctx.plan.flow_status || streamed.is_err() {
        let mut params = Map::new();
        params.insert("flowStatus".into(), json!(if failed { "5" } else { "3" }));
        params.insert(key.clone(), Value::String(text.to_owned()));
        let status = with_retries(FINAL_ATTEMPTS, "card status update", || {
            ctx.client.update_card_data(card, &params, stats)
        })
        .await;
        if let Err(e) = &status {
            log::error!("card {card}: the final status update was refused: {e}");
        }
        status
    } else {
        Ok(())
    };
    let done = streamed.is_ok() || status.is_ok();
    if done || matches!(streamed, Err(DingTalkError::Param { .. })) {
        ctx.journal.remove(card);
    }
    done
}
