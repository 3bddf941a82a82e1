//! card-sync, between the gateway stream and the DingTalk client in the flow: turns one
//! reply's growing answer into rate-limited AI Card updates and always finalizes the card.
//!
//! The reply task writes the text into a `watch` channel (latest wins, so there is never a
//! backlog of stale updates). This task creates the card at once, sends the first content
//! as soon as there is any, then at most one update per `card_update_interval_ms`; each
//! update renders the newest text only when the budget lets it go. The end of the answer is
//! acted on at once: the last content and the finalization are one call. A card whose text
//! outgrows `card_max_bytes` (UTF-8 bytes) is finalized at a safe cut and the answer goes
//! on in a follow-up card; a value DingTalk still refuses as too large lowers the limit and
//! splits again (the text of each card is [`layout`](super::layout)'s). See
//! `docs/card-delivery.md`.

use std::sync::Arc;

use serde_json::{json, Map, Value};
use tokio::sync::{mpsc, watch};
use tokio::time::{sleep_until, Instant};

use super::context::CardContext;
use super::finalize::{finalize_card, FinalUpdate};
use super::journal::JournalEntry;
use super::layout::{Layout, Part};
use super::recovery::recover_card;
use super::stop_button::{CardCallbacks, StopButton};
use crate::dingtalk::{CallStats, Caller, CardSpace, DingTalkError, Priority, Retry, StreamEnd};

/// Shown on a card whose card-sync failed inside the plugin.
const INTERNAL_ERROR: &str = "内部错误，回复中断 (internal error)";

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
    /// Starts card-sync for a reply to the message `msg_id` in `conversation`: creates the
    /// first card in `space` at once, with the stop button (or the `/stop` line) when
    /// `stoppable`. Card events arrive on the returned receiver.
    pub fn start(
        ctx: Arc<CardContext>,
        space: CardSpace,
        conversation: String,
        msg_id: String,
        stats: Arc<CallStats>,
        stoppable: bool,
    ) -> (CardSync, mpsc::UnboundedReceiver<CardEvent>) {
        let (draft, rx) = watch::channel(Draft::default());
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let unshown_since = UnshownSince::default();
        let cards = SharedCards::default();
        let run = Run {
            stop_button: stoppable.then(|| ctx.plan.stop_button.clone()),
            shared_cards: cards.clone(),
            layout: Layout::new(ctx.max_bytes(), ctx.plan.show_reasoning),
            ctx: ctx.clone(),
            space,
            conversation,
            msg_id,
            card_exists: false,
            stats: stats.clone(),
            events: events_tx,
            report: CardReport {
                finalized: true,
                ..CardReport::default()
            },
            card: new_card_id(),
            shown: String::new(),
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

/// One reply's card-sync task.
struct Run {
    ctx: Arc<CardContext>,
    space: CardSpace,
    conversation: String,
    /// The message the reply answers (in the journal entries).
    msg_id: String,
    /// DingTalk created the current card (journal entries say so).
    card_exists: bool,
    stats: Arc<CallStats>,
    events: mpsc::UnboundedSender<CardEvent>,
    report: CardReport,
    /// What the current card shows of the answer, and the size limit this reply uses.
    layout: Layout,
    /// Current card id.
    card: String,
    /// Text last shown on the current card.
    shown: String,
    unshown_since: UnshownSince,
    /// When the current card was created (its journal entry keeps this across rewrites).
    created_at_ms: u64,
    /// The cards created so far, shared with the handle.
    shared_cards: SharedCards,
    /// The stop button of the reply's cards; `None`: neither a button nor the `/stop` line.
    stop_button: Option<StopButton>,
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
            let part = self.layout.part(&draft.answer, &draft.reasoning);
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
        // Under the text, while it streams: how to stop it, when the card has no button (and
        // the line fits).
        let hint = self
            .stop_button
            .as_ref()
            .map_or("", StopButton::streaming_hint);
        // Journal first: after a crash the recovered text is never behind what was shown.
        let render = || {
            *sent_at.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
            let d = rx.borrow();
            let text = self.layout.part(&d.answer, &d.reasoning).text;
            self.journal_text(&text);
            if text.len() + hint.len() <= self.layout.max_bytes {
                text + hint
            } else {
                text
            }
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
            Ok(mut text) => {
                self.report.first_visible.get_or_insert_with(Instant::now);
                if !hint.is_empty() && text.ends_with(hint) {
                    text.truncate(text.len() - hint.len());
                }
                self.shown = text;
                self.record_staleness();
            }
            Err(e) if e.is_too_large() => {
                let refused = {
                    let d = rx.borrow();
                    self.layout.part(&d.answer, &d.reasoning).text.len()
                };
                self.layout.max_bytes = self.ctx.lower_max_bytes(refused);
            }
            Err(e) if e.is_qps_limit() => {}
            Err(e) => log::warn!("card {}: update failed: {e}", self.card),
        }
        sent_at.into_inner().unwrap_or_else(|e| e.into_inner())
    }

    /// While the current card's part does not reach the end of `full`, finalize the card at
    /// the cut and continue in a new card. Returns false when the rest of the answer goes
    /// out as a message (a follow-up card could not be created).
    async fn roll_over(&mut self, full: &str, reasoning: &str) -> bool {
        while self.report.unsent_from.is_none() {
            let Part { text, cut } = self.layout.part(full, reasoning);
            let Some(cut) = cut else {
                return true;
            };
            let (text, reopen) = self.layout.closing(text, full, cut);
            match self.finalize(&text, false).await {
                FinalUpdate::TooLarge => {
                    self.layout.max_bytes = self.ctx.lower_max_bytes(text.len());
                    continue;
                }
                FinalUpdate::Refused => self.report.finalized = false,
                FinalUpdate::Accepted => {}
            }
            self.layout.next_card(cut, reopen);
            self.card = new_card_id();
            self.card_exists = false;
            self.shown.clear();
            if let Err(e) = self.create_card().await {
                log::error!(
                    "follow-up card could not be created ({e}); the rest of the answer is sent as a message"
                );
                self.report.unsent_from = Some(self.layout.offset);
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
            let text = self.layout.part(&full, &draft.reasoning).text;
            match self
                .finalize(&text, matches!(end, CardEnd::Failed(_)))
                .await
            {
                FinalUpdate::Accepted => return,
                FinalUpdate::TooLarge => {
                    self.layout.max_bytes = self.ctx.lower_max_bytes(text.len())
                }
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
        if let Some(button) = &self.stop_button {
            button.add_shown(&mut params);
        }
        let caller = self.caller(Priority::Create);
        let retry = Retry::for_at_most("create card", self.ctx.plan.create_deadline);
        let (client, card, plan, space) =
            (&self.ctx.client, &self.card, &self.ctx.plan, &self.space);
        let callbacks = self
            .stop_button
            .as_ref()
            .map_or(&CardCallbacks::Off, |b| &b.callbacks);
        let result = retry
            .run(|| {
                client.create_and_deliver(
                    &caller,
                    card,
                    &plan.template_id,
                    space,
                    &params,
                    callbacks,
                )
            })
            .await;
        match result {
            Ok(()) => {
                self.card_exists = true;
                // The entry now says the card exists (other hosts may take it over).
                self.journal_text("");
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
            owner: String::new(),
            msg_id: self.msg_id.clone(),
            created: self.card_exists,
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
