//! Following one reply's chunk stream to its end: one log line, the reply timings in the
//! metrics, and notes for an optional observer (`demo`).

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use openclaw_skill_abi::{Chunk, ChunkStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::event::{Route, Source};
use crate::metrics::Metrics;

/// Where notes go: the observer's end of an unbounded channel (sending never blocks a
/// follower; a dropped receiver is ignored).
pub type Observer = mpsc::UnboundedSender<ReplyNote>;

/// What a followed reply tells an observer (`demo`) as it happens, keyed by the event's `msgId`.
#[derive(Debug, Clone)]
#[cfg_attr(
    not(feature = "demo"),
    expect(dead_code, reason = "read by the demo's observer only")
)]
pub struct ReplyNote {
    /// The event's `msgId` (empty when the event had none).
    pub msg_id: String,
    /// When the host saw it.
    pub at: std::time::Instant,
    /// What happened.
    pub kind: NoteKind,
}

/// The kinds of [`ReplyNote`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoteKind {
    /// The skill did not take the event.
    Refused(String),
    /// A card was created for the reply (again for each follow-up card).
    Card(String),
    /// The first answer or reasoning text reached the host.
    FirstText,
    /// The reply ended: `finished`, `failed`, `replied`, `skipped`, `stream_error` or `ended`,
    /// with the failure reason or the plain reply's text.
    Ended {
        /// The outcome, as in the host's event log line.
        outcome: &'static str,
        /// The failure message, the plain reply's text, or empty.
        detail: String,
    },
}

/// Sends notes about one event to an observer, if there is one.
pub struct Notes {
    msg_id: String,
    observer: Option<Observer>,
}

impl Notes {
    /// Notes about the event `route` names.
    pub fn new(route: &Route, observer: Option<Observer>) -> Notes {
        Notes {
            msg_id: route.msg_id.clone().unwrap_or_default(),
            observer,
        }
    }

    /// Tells the observer `kind`, now.
    pub fn send(&self, kind: NoteKind) {
        if let Some(observer) = &self.observer {
            let _ = observer.send(ReplyNote {
                msg_id: self.msg_id.clone(),
                at: std::time::Instant::now(),
                kind,
            });
        }
    }

    /// Notes the reply's first non-empty text once.
    fn first_text(&self, seen: &mut bool, text: &str) {
        if !*seen && !text.is_empty() {
            *seen = true;
            self.send(NoteKind::FirstText);
        }
    }
}

/// Follows one reply to its terminal chunk; logs one line, records the timings and tells the
/// observer.
pub async fn follow(
    mut stream: ChunkStream,
    source: Source,
    route: Route,
    received: Instant,
    metrics: Arc<Metrics>,
    notes: Notes,
) {
    let mut card: Option<String> = None;
    let mut first_card: Option<Duration> = None;
    let mut first_text = false;
    let mut chars = 0usize;
    let mut last = received;
    let mut max_gap = Duration::ZERO;
    let (outcome, detail, note) = loop {
        let item = stream.next().await;
        let now = Instant::now();
        max_gap = max_gap.max(now - last);
        last = now;
        match item {
            Some(Ok(Chunk::Started { card_id })) => {
                first_card = Some(now - received);
                notes.send(NoteKind::Card(card_id.clone()));
                card = Some(card_id);
            }
            Some(Ok(Chunk::Delta(t))) => {
                chars += t.chars().count();
                notes.first_text(&mut first_text, &t);
            }
            Some(Ok(Chunk::Reasoning(t))) => notes.first_text(&mut first_text, &t),
            Some(Ok(Chunk::Other { kind, .. })) => {
                log::debug!("chunk of unknown kind {kind:?} ignored (a newer plugin?)");
            }
            Some(Ok(Chunk::Finished { .. })) => break ("finished", String::new(), String::new()),
            Some(Ok(Chunk::Failed { kind, message })) => {
                let detail = format!(" failure={kind:?} reason={message:?}");
                break ("failed", detail, message);
            }
            Some(Ok(Chunk::Replied(text))) => break ("replied", String::new(), text),
            Some(Ok(Chunk::Skipped(why))) => break ("skipped", format!(" reason={why:?}"), why),
            Some(Err(e)) => break ("stream_error", format!(" error={:?}", e.message), e.message),
            None => break ("ended", String::new(), String::new()),
        }
    };
    notes.send(NoteKind::Ended {
        outcome,
        detail: note,
    });
    let total = received.elapsed();
    if let Some(d) = first_card {
        metrics.reply_first_card(d);
    }
    metrics.reply_ended(outcome, total);
    metrics.reply_chunk_gap_max(max_gap);
    log::info!(
        "event source={} msg={} conv={} outcome={outcome} card={} chars={chars} first_card_ms={} total_ms={} max_gap_ms={}{detail}",
        source.as_str(),
        route.msg(),
        route.conv(),
        card.as_deref().unwrap_or("-"),
        first_card.map_or("-".to_owned(), |d| d.as_millis().to_string()),
        total.as_millis(),
        max_gap.as_millis(),
    );
}
