//! card-sync: turns a growing answer into rate-limited AI Card updates and always
//! finalizes the card.
//!
//! The reply task writes the text into a `watch` channel (latest wins, so there is never a
//! backlog of stale updates). This task creates the card at once, sends the first content
//! as soon as there is any, then at most one update per `card_update_interval_ms`; each
//! update renders the newest text only when the budget lets it go. The end of the answer is
//! acted on at once: the last content and the finalization are one call. A card whose text
//! outgrows `card_max_bytes` (UTF-8 bytes) is finalized at a safe cut and the answer goes
//! on in a follow-up card; a value DingTalk still refuses as too large lowers the limit and
//! splits again. See `docs/card-delivery.md`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};
use tokio::sync::{mpsc, watch};
use tokio::time::{sleep_until, Instant};

use super::journal::{Journal, JournalEntry};
use super::markdown::{normalize_for_card, open_fence, split_point};
use crate::dingtalk::{
    CallStats, Caller, CardSpace, DingTalkClient, DingTalkError, Priority, Retry, StreamEnd,
};

/// How long the final update of a card is retried.
const FINAL_DEADLINE: Duration = Duration::from_secs(60);
/// Shown on a card whose card-sync failed inside the plugin.
const INTERNAL_ERROR: &str = "内部错误，回复中断 (internal error)";
/// Appended to a card whose answer continues in the next card.
pub(crate) const CONTINUED: &str = "\n\n*（续下一张卡片 · continued below）*";
/// Closes a code fence left open at a cut.
const FENCE_CLOSE: &str = "\n```";
/// Smallest size limit card-sync lowers itself to after DingTalk refused a value as too large.
const MIN_CARD_BYTES: usize = 600;
/// At most this share of a card shows the reasoning (its newest part).
const REASONING_SHARE: usize = 3;

/// How cards look and behave (from the manifest).
#[derive(Debug, Clone)]
pub struct CardPlan {
    /// Template id.
    pub template_id: String,
    /// Markdown variable receiving the answer.
    pub content_key: String,
    /// Minimum time between two updates of one card.
    pub interval: Duration,
    /// Largest card value in UTF-8 bytes.
    pub max_bytes: usize,
    /// How long creating a card may take before the reply falls back to a markdown message.
    pub create_deadline: Duration,
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

impl CardEnd {
    /// The line shown under the answer, if any.
    pub fn note(&self) -> Option<String> {
        match self {
            CardEnd::Finished => None,
            CardEnd::Failed(note) => Some(format!("\n\n> ⚠️ {note}")),
            CardEnd::Stopped => Some("\n\n> ⏹ 已停止 (stopped)".into()),
        }
    }
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
    /// Every card was finalized (DingTalk accepted each final update).
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
    /// The card size limit in use: `plan.max_bytes`, lowered when DingTalk refused a value
    /// as too large (its real limit is unpublished).
    max_bytes: AtomicUsize,
}

impl CardContext {
    /// A context for `plan`.
    pub fn new(client: Arc<DingTalkClient>, journal: Journal, plan: CardPlan) -> CardContext {
        CardContext {
            max_bytes: AtomicUsize::new(plan.max_bytes),
            client,
            journal,
            plan,
            staleness: Default::default(),
        }
    }

    /// The card size limit in use, in UTF-8 bytes.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes.load(Ordering::Relaxed)
    }

    /// DingTalk refused a value of `refused` bytes as too large: use at most two thirds of
    /// it from now on.
    fn lower_max_bytes(&self, refused: usize) -> usize {
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

/// Handle held by the reply task. Dropping it without [`CardSync::finish`] finalizes the
/// card as failed (e.g. when the reply task panicked).
pub struct CardSync {
    draft: watch::Sender<Draft>,
    /// Arrival of the oldest answer text no update has shown yet (for staleness).
    unshown_since: UnshownSince,
    task: tokio::task::JoinHandle<CardReport>,
    /// The card being streamed and the cards before it, for finalizing after a panic.
    cards: SharedCards,
    ctx: Arc<CardContext>,
    stats: Arc<CallStats>,
}

/// The reply's card ids, written by card-sync, read by [`CardSync::finish`] if card-sync
/// panicked.
type SharedCards = Arc<std::sync::Mutex<Vec<String>>>;

/// Shared by the reply task (sets it on new text) and card-sync (takes it on each update).
type UnshownSince = Arc<std::sync::Mutex<Option<Instant>>>;

impl CardSync {
    /// Starts card-sync for a reply in `conversation`: creates the first card in `space` at
    /// once. Card events arrive on the returned receiver.
    pub fn start(
        ctx: Arc<CardContext>,
        space: CardSpace,
        conversation: String,
        stats: Arc<CallStats>,
    ) -> (CardSync, mpsc::UnboundedReceiver<CardEvent>) {
        let (draft, rx) = watch::channel(Draft::default());
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let unshown_since = UnshownSince::default();
        let cards = SharedCards::default();
        let run = Run {
            shared_cards: cards.clone(),
            max_bytes: ctx.max_bytes(),
            ctx: ctx.clone(),
            space,
            conversation,
            stats: stats.clone(),
            events: events_tx,
            report: CardReport {
                finalized: true,
                ..CardReport::default()
            },
            card: new_card_id(),
            offset: 0,
            shown: String::new(),
            reopen: String::new(),
            unshown_since: unshown_since.clone(),
            created_at_ms: 0,
        };
        let task = tokio::spawn(run.run(rx));
        (
            CardSync {
                draft,
                unshown_since,
                task,
                cards,
                ctx,
                stats,
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

    /// Ends the reply; resolves when the cards are finalized (or finalizing gave up). If
    /// card-sync itself panicked, the card it was streaming is finalized here as failed with
    /// the text it last showed (from the journal).
    pub async fn finish(self, end: CardEnd) -> CardReport {
        self.draft.send_modify(|d| d.end = Some(end));
        match self.task.await {
            Ok(report) => report,
            Err(e) => {
                log::error!("card-sync failed ({e}); finalizing its card as failed");
                let cards = self.cards.lock().unwrap_or_else(|e| e.into_inner()).clone();
                let mut report = CardReport {
                    cards: cards.clone(),
                    finalized: true,
                    ..CardReport::default()
                };
                if let Some(card) = cards.last() {
                    let shown = self
                        .ctx
                        .journal
                        .entry(card)
                        .map(|e| e.text)
                        .unwrap_or_default();
                    let note = format!("\n\n> ⚠️ {INTERNAL_ERROR}");
                    report.finalized =
                        recover_card(&self.ctx, &self.stats, card, &shown, &note).await;
                }
                report
            }
        }
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

/// How a final update went.
enum FinalUpdate {
    /// DingTalk accepted it (or had already applied it).
    Accepted,
    /// DingTalk refused the text as too large: split smaller and try again.
    TooLarge,
    /// DingTalk did not accept it; the card stays in the journal for recovery.
    Refused,
}

/// One card's part of the answer, rendered.
struct Part {
    /// The card markdown.
    text: String,
    /// Where the part ends in the full text, when it does not reach its end.
    cut: Option<usize>,
}

/// One reply's card-sync task.
struct Run {
    ctx: Arc<CardContext>,
    space: CardSpace,
    conversation: String,
    stats: Arc<CallStats>,
    events: mpsc::UnboundedSender<CardEvent>,
    report: CardReport,
    /// The size limit this reply uses (lowered when DingTalk refuses a value as too large).
    max_bytes: usize,
    /// Current card id.
    card: String,
    /// Byte offset of the current card's part of the answer.
    offset: usize,
    /// Text last shown on the current card.
    shown: String,
    /// A code fence to reopen at the top of the current (follow-up) card.
    reopen: String,
    unshown_since: UnshownSince,
    /// When the current card was created (its journal entry keeps this across rewrites).
    created_at_ms: u64,
    /// The cards created so far, shared with the handle.
    shared_cards: SharedCards,
}

impl Run {
    fn caller(&self, priority: Priority) -> Caller<'_> {
        Caller {
            stats: &self.stats,
            priority,
            conversation: &self.conversation,
        }
    }

    async fn run(mut self, mut rx: watch::Receiver<Draft>) -> CardReport {
        if let Err(e) = self.create_card().await {
            let _ = self.events.send(CardEvent::CreateFailed(e));
            self.report.finalized = false;
            return self.report;
        }
        let mut last_sent: Option<Instant> = None;
        let end = loop {
            if rx.changed().await.is_err() {
                break CardEnd::Failed(INTERNAL_ERROR.into());
            }
            let stretch = self.ctx.client.quota().stretch();
            let due = match (last_sent, stretch.intermediate_updates) {
                (_, false) => None,
                (None, true) => Some(Instant::now()),
                (Some(t), true) => {
                    Some(t + self.ctx.plan.interval.mul_f64(stretch.interval_factor))
                }
            };
            // Wait out the interval, but act on the end of the answer at once.
            match due {
                Some(due) => tokio::select! {
                    () = sleep_until(due) => {}
                    _ = rx.wait_for(|d| d.end.is_some()) => {}
                },
                None => drop(rx.wait_for(|d| d.end.is_some()).await),
            }
            let draft = rx.borrow_and_update().clone();
            if let Some(end) = draft.end {
                break end;
            }
            if !self.roll_over(&draft.answer, &draft.reasoning).await {
                continue;
            }
            let part = self.part(&draft.answer, &draft.reasoning);
            if part.text.is_empty() || part.text == self.shown {
                continue;
            }
            // An update still waiting for the budget is dropped when the answer ends: the
            // final update carries the text and goes first.
            let mut end_rx = rx.clone();
            tokio::select! {
                sent = self.update(&rx) => last_sent = Some(sent),
                _ = end_rx.wait_for(|d| d.end.is_some()) => {}
            }
        };
        let draft = rx.borrow().clone();
        self.finish(&draft, &end).await;
        self.report
    }

    /// One intermediate (or first) update with the newest text when the budget lets it go.
    /// Returns when it was sent (the interval counts from there, not from DingTalk's answer).
    async fn update(&mut self, rx: &watch::Receiver<Draft>) -> Instant {
        let priority = if self.shown.is_empty() {
            Priority::FirstContent
        } else {
            Priority::Intermediate
        };
        let caller = self.caller(priority);
        let sent_at = std::sync::Mutex::new(Instant::now());
        // Journal first: after a crash the recovered text is never behind what was shown.
        let render = || {
            *sent_at.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
            let d = rx.borrow();
            let text = self.part(&d.answer, &d.reasoning).text;
            self.journal_text(&text);
            text
        };
        let result = self
            .ctx
            .client
            .stream_card(
                &caller,
                &self.card,
                &self.ctx.plan.content_key,
                &render,
                StreamEnd::No,
            )
            .await;
        match result {
            Ok(text) => {
                self.report.first_visible.get_or_insert_with(Instant::now);
                self.shown = text;
                self.record_staleness();
            }
            Err(e) if e.is_too_large() => {
                let refused = {
                    let d = rx.borrow();
                    self.part(&d.answer, &d.reasoning).text.len()
                };
                self.max_bytes = self.ctx.lower_max_bytes(refused);
            }
            Err(e) if e.is_qps_limit() => {}
            Err(e) => log::warn!("card {}: update failed: {e}", self.card),
        }
        sent_at.into_inner().unwrap_or_else(|e| e.into_inner())
    }

    /// The current card's part of `full`: its reasoning (first card only, when shown), the
    /// reopened code fence, and as much of the answer as fits in `max_bytes` once rendered
    /// as card markdown (room is kept for the continuation note).
    fn part(&self, full: &str, reasoning: &str) -> Part {
        let mut head = String::new();
        if self.ctx.plan.show_reasoning && self.offset == 0 && !reasoning.is_empty() {
            let share = self.max_bytes / REASONING_SHARE;
            let shown = if reasoning.len() > share {
                let mut start = reasoning.len() - share;
                while !reasoning.is_char_boundary(start) {
                    start += 1;
                }
                format!("…{}", &reasoning[start..])
            } else {
                reasoning.to_owned()
            };
            for line in shown.lines() {
                head.push_str("> ");
                head.push_str(line);
                head.push('\n');
            }
            head.push('\n');
        }
        let rest = &full[self.offset.min(full.len())..];
        let reserve = CONTINUED.len() + FENCE_CLOSE.len();
        let mut room = self
            .max_bytes
            .saturating_sub(reserve + head.len() + self.reopen.len())
            .max(64);
        loop {
            let cut = split_point(rest, room);
            let body = &rest[..cut.unwrap_or(rest.len())];
            let text = normalize_for_card(&format!("{head}{}{body}", self.reopen));
            // Normalising adds `<br>`s: shrink the room by what it added until it fits.
            let over = (text.len() + reserve).saturating_sub(self.max_bytes);
            if over == 0 || room <= 64 {
                return Part {
                    text,
                    cut: cut.map(|c| self.offset + c),
                };
            }
            room = room.saturating_sub(over).max(64);
        }
    }

    /// While the current card's part does not reach the end of `full`, finalize the card at
    /// the cut and continue in a new card. Returns false when the rest of the answer goes
    /// out as a message (a follow-up card could not be created).
    async fn roll_over(&mut self, full: &str, reasoning: &str) -> bool {
        while self.report.unsent_from.is_none() {
            let Part { mut text, cut } = self.part(full, reasoning);
            let Some(cut) = cut else {
                return true;
            };
            let raw = format!("{}{}", self.reopen, &full[self.offset..cut]);
            let reopen = match open_fence(&raw) {
                Some(fence) => {
                    text.push_str(FENCE_CLOSE);
                    format!("{fence}\n")
                }
                None => String::new(),
            };
            text.push_str(CONTINUED);
            match self.finalize(&text, false).await {
                FinalUpdate::TooLarge => {
                    self.max_bytes = self.ctx.lower_max_bytes(text.len());
                    continue;
                }
                FinalUpdate::Refused => self.report.finalized = false,
                FinalUpdate::Accepted => {}
            }
            self.offset = cut;
            self.reopen = reopen;
            self.card = new_card_id();
            self.shown.clear();
            if let Err(e) = self.create_card().await {
                log::error!(
                    "follow-up card could not be created ({e}); the rest of the answer is sent as a message"
                );
                self.report.unsent_from = Some(self.offset);
            }
        }
        false
    }

    /// The end: the note goes under the answer, every part that does not fit goes to a
    /// follow-up card, and the last card's final update carries its whole text.
    async fn finish(&mut self, draft: &Draft, end: &CardEnd) {
        #[cfg(feature = "test-hooks")]
        crate::test_hooks::check(&draft.answer, crate::test_hooks::Hook::CardSync);
        let mut full = draft.answer.clone();
        if let Some(note) = end.note() {
            full.push_str(&note);
        }
        if full.trim().is_empty() {
            full = "（空回复 · empty answer）".into();
        }
        loop {
            if !self.roll_over(&full, &draft.reasoning).await {
                return;
            }
            let text = self.part(&full, &draft.reasoning).text;
            match self
                .finalize(&text, matches!(end, CardEnd::Failed(_)))
                .await
            {
                FinalUpdate::Accepted => return,
                FinalUpdate::TooLarge => self.max_bytes = self.ctx.lower_max_bytes(text.len()),
                FinalUpdate::Refused => {
                    self.report.finalized = false;
                    return;
                }
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
        if self.ctx.plan.flow_status {
            params.insert("flowStatus".into(), json!("1"));
        }
        let caller = self.caller(Priority::Create);
        let mut retry = Retry::for_at_most("create card", self.ctx.plan.create_deadline);
        let result = loop {
            match self
                .ctx
                .client
                .create_and_deliver(
                    &caller,
                    &self.card,
                    &self.ctx.plan.template_id,
                    &self.space,
                    &params,
                )
                .await
            {
                Err(e) if retry.again(&e).await => {}
                other => break other,
            }
        };
        match result {
            Ok(()) => {
                self.report.cards.push(self.card.clone());
                self.shared_cards
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(self.card.clone());
                let _ = self.events.send(CardEvent::Created(self.card.clone()));
                Ok(())
            }
            Err(e) => {
                if retry.ambiguous() {
                    // An attempt that timed out may have created the card: close it, so
                    // nobody sees an empty card "processing" forever.
                    let note = "（已改为消息回复 · the answer follows as a message）";
                    if let FinalUpdate::Refused = self.finalize(note, true).await {
                        // Left in the journal; the next start finalizes it if it exists.
                        return Err(e);
                    }
                }
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

    /// The final update of the current card; the journal entry goes once it is accepted.
    async fn finalize(&mut self, text: &str, failed: bool) -> FinalUpdate {
        let result = finalize_card(
            &self.ctx,
            &self.caller(Priority::Final),
            &self.card,
            text,
            failed,
        )
        .await;
        if let FinalUpdate::Accepted = result {
            self.record_staleness();
            self.report.first_visible.get_or_insert_with(Instant::now);
        }
        result
    }
}

/// Finalizes one card (also used to recover journal leftovers at `init`): one streaming
/// update with the whole text and `isFinalize` (plus `isError` when failed), then, with
/// `card_flow_status`, the `flowStatus` variable. Each is retried with a fresh `guid` for
/// up to a minute. A retry refused after an attempt that may have been applied means the
/// card was already final: success. When the streaming API refuses the final update, the
/// data update carries the text too, so the card still ends.
async fn finalize_card(
    ctx: &CardContext,
    caller: &Caller<'_>,
    card: &str,
    text: &str,
    failed: bool,
) -> FinalUpdate {
    let key = &ctx.plan.content_key;
    let end = if failed {
        StreamEnd::Failed
    } else {
        StreamEnd::Finished
    };
    let mut retry = Retry::for_at_most("final card update", FINAL_DEADLINE);
    let streamed = loop {
        match ctx
            .client
            .stream_card(caller, card, key, &|| text.to_owned(), end)
            .await
        {
            Ok(_) => break Ok(()),
            Err(e) if e.is_too_large() => return FinalUpdate::TooLarge,
            Err(e @ DingTalkError::Param { .. }) if retry.ambiguous() => {
                log::info!(
                    "card {card}: the final update had already been applied (the retry was answered: {e})"
                );
                break Ok(());
            }
            Err(e) if retry.again(&e).await => {}
            Err(e) => break Err(e),
        }
    };
    if let Err(e) = &streamed {
        log::error!("card {card}: the final update was refused: {e}");
    }
    let status = if ctx.plan.flow_status || streamed.is_err() {
        let mut params = Map::new();
        params.insert("flowStatus".into(), json!(if failed { "5" } else { "3" }));
        if streamed.is_err() {
            params.insert(key.clone(), Value::String(text.to_owned()));
        }
        let mut retry = Retry::for_at_most("card status update", FINAL_DEADLINE);
        let status = loop {
            match ctx.client.update_card_data(caller, card, &params).await {
                Err(e) if retry.again(&e).await => {}
                other => break other,
            }
        };
        if let Err(e) = &status {
            log::error!("card {card}: the final status update was refused: {e}");
        }
        status
    } else {
        Ok(())
    };
    let done = streamed.is_ok() || status.is_ok();
    // A card DingTalk does not know (or will never take) is not worth recovering.
    let hopeless = matches!(&streamed, Err(DingTalkError::Param { .. }));
    if done || hopeless {
        ctx.journal.remove(card);
    }
    if done {
        FinalUpdate::Accepted
    } else {
        FinalUpdate::Refused
    }
}

/// Finalizes a card left in the journal by an earlier process, as failed: the text it last
/// showed (cut shorter if DingTalk refuses it as too large) and `note` under it. Returns
/// whether DingTalk accepted it.
pub async fn recover_card(
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
