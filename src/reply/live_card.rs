//! The AI Card of a reply while it streams: the card-sync handle and its events, which tell
//! the host of each card (`Started`), register it for its stop button, or switch the reply
//! to markdown messages when the card cannot be created.

use openclaw_skill_abi::Chunk;
use tokio::sync::mpsc::UnboundedReceiver;

use super::deps::ReplySettings;
use super::host_chunks::HostChunks;
use crate::card::{CardEvent, CardSync};
use crate::conversation::ReplyCards;

/// The reply's card, if it has one. Owned by the reply task.
pub(super) struct LiveCard {
    /// card-sync, while the reply has a card.
    pub(super) sync: Option<CardSync>,
    /// card-sync's events, until it ended.
    pub(super) events: Option<UnboundedReceiver<CardEvent>>,
    /// The reply's cards, registered for their stop buttons while the reply runs.
    pub(super) stoppable: Option<ReplyCards>,
    /// The app's card template, named when creation fails.
    pub(super) template_id: String,
}

impl LiveCard {
    /// No card: the reply goes out as markdown messages.
    pub(super) fn none() -> LiveCard {
        LiveCard {
            sync: None,
            events: None,
            stoppable: None,
            template_id: String::new(),
        }
    }

    /// The next card event, `None` once when card-sync has ended; then pending forever.
    pub(super) async fn next_event(&mut self) -> Option<CardEvent> {
        match self.events.as_mut() {
            Some(events) => {
                let event = events.recv().await;
                if event.is_none() {
                    self.events = None;
                }
                event
            }
            None => std::future::pending().await,
        }
    }

    /// Acts on a card event: the host learns of each card; a failed creation switches the
    /// reply to markdown messages.
    pub(super) fn on_event(
        &mut self,
        event: Option<CardEvent>,
        out: &mut HostChunks<'_>,
        settings: &ReplySettings,
    ) {
        match event {
            None if out.waiting_for_card() => {
                log::error!("card-sync ended before creating a card; replying with a markdown message instead");
                self.sync = None;
                out.release(None);
            }
            None => {}
            Some(CardEvent::Created(id)) => {
                if let Some(cards) = &mut self.stoppable {
                    cards.add(&id);
                }
                if out.waiting_for_card() {
                    out.release(Some(Chunk::Started { card_id: id }));
                } else {
                    out.send(Chunk::Started { card_id: id });
                }
            }
            Some(CardEvent::CreateFailed(e)) => {
                let hint = if e.means_cards_unavailable() {
                    format!(" (template {}: publish it for this app, and grant Card.Instance.Write and Card.Streaming.Write)", self.template_id)
                } else {
                    format!(
                        " (no card within streaming.card_create_timeout_ms = {} ms)",
                        settings.card_create_timeout_ms
                    )
                };
                log::warn!(
                    "AI Card creation failed: {e}{hint}; replying with a markdown message instead"
                );
                self.sync = None;
                self.events = None;
                out.release(None);
            }
        }
    }

    /// Appends answer text to the card, if there is one.
    pub(super) fn push_answer(&self, text: &str) {
        if let Some(sync) = &self.sync {
            sync.push_answer(text);
        }
    }

    /// Appends reasoning text to the card, if there is one.
    pub(super) fn push_reasoning(&self, text: &str) {
        if let Some(sync) = &self.sync {
            sync.push_reasoning(text);
        }
    }
}
