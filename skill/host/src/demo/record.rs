//! What is known about one played message: the host's notes about its reply ([`Played`]) and
//! what DingTalk shows for it, read from the emulator's records ([`StepView`]).

use std::time::{Duration, Instant};

use openclaw_dingtalk_emulator::dingtalk::{ApiKind, Call, Card, CardState, DingTalkEmulator};

use super::peers::CONTENT_KEY;
use super::script;
use crate::ingress::{NoteKind, ReplyNote};

/// How a step ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The reply ended (`finished`, `failed`, `replied`, …, as the host's follower saw it).
    Ended {
        /// The outcome.
        outcome: &'static str,
        /// Failure message or plain reply text.
        detail: String,
    },
    /// The skill refused the event.
    Refused(String),
    /// Ctrl-C.
    Interrupted,
    /// The reply did not end within the step's limit.
    TimedOut(Duration),
}

/// What is known about one played message.
#[derive(Debug, Clone)]
pub struct Played {
    /// 1-based position in the script.
    pub index: usize,
    /// Its `msgId`.
    pub msg_id: String,
    /// When it was pushed.
    pub pushed_at: Instant,
    /// The last recorded DingTalk call before it was pushed.
    pub calls_before: u64,
    /// How many plain messages had been sent before it was pushed.
    pub messages_before: usize,
    /// The cards of its reply (`outTrackId`s), in order.
    pub cards: Vec<String>,
    /// When the host saw the reply's first text.
    pub first_text: Option<Instant>,
    /// When the reply ended.
    pub ended_at: Option<Instant>,
    /// How it ended.
    pub ending: Ending,
}

impl Played {
    /// How long the reply took (to its end, or until now).
    pub fn elapsed(&self) -> Duration {
        self.ended_at.unwrap_or_else(Instant::now) - self.pushed_at
    }
}

/// One card as DingTalk shows it.
#[derive(Debug, Clone)]
pub struct CardView {
    /// Its state now.
    pub state: CardState,
    /// The states it went through, from the record of its updates.
    pub states: Vec<CardState>,
    /// Its visible text (card markdown, `<br>` as line breaks).
    pub text: String,
    /// When its first text became visible (emulator clock, ms since it started).
    pub first_visible_ms: Option<u64>,
}

/// What a step looks like now, from the emulator's records.
#[derive(Debug, Clone)]
pub struct StepView {
    /// The reply's cards.
    pub cards: Vec<CardView>,
    /// Plain messages the robot sent to the group during the step.
    pub messages: Vec<String>,
    /// DingTalk calls during the step.
    pub calls: Vec<Call>,
}

impl StepView {
    /// Reads the records for `played`.
    pub fn capture(emulator: &DingTalkEmulator, played: &Played) -> StepView {
        let cards = played
            .cards
            .iter()
            .filter_map(|id| emulator.card(id))
            .map(|card| card_view(&card))
            .collect();
        let messages = emulator
            .sent_messages()
            .into_iter()
            .skip(played.messages_before)
            .filter(|m| m.target == script::GROUP_ID)
            .map(|m| visible_text(&m.text))
            .collect();
        let calls = emulator
            .calls()
            .into_iter()
            .filter(|c| c.seq > played.calls_before)
            .collect();
        StepView {
            cards,
            messages,
            calls,
        }
    }

    /// Characters shown in the cards.
    pub fn chars(&self) -> usize {
        self.cards.iter().map(|c| c.text.chars().count()).sum()
    }

    /// The latest card's state, if there is a card.
    pub fn state(&self) -> Option<CardState> {
        self.cards.last().map(|c| c.state)
    }

    /// Whether every card reached a final state.
    pub fn settled(&self) -> bool {
        self.cards
            .iter()
            .all(|c| matches!(c.state, CardState::Finished | CardState::Failed))
    }
}

/// A card's visible text: the card markdown with its `<br>` line breaks as newlines.
pub fn visible_text(markdown: &str) -> String {
    markdown.replace("<br>\n", "\n").replace("<br>", "\n")
}

fn card_view(card: &Card) -> CardView {
    let mut states = vec![CardState::Processing];
    let mut first_visible_ms = None;
    for update in &card.updates {
        let next = match update.via {
            ApiKind::StreamingUpdate if update.error => Some(CardState::Failed),
            ApiKind::StreamingUpdate if update.finalize => Some(CardState::Finished),
            ApiKind::StreamingUpdate => Some(CardState::Inputting),
            _ if update.key == "flowStatus" => CardState::from_flow_status(&update.content),
            _ => None,
        };
        if let Some(next) = next {
            let last = *states.last().expect("not empty");
            // A streaming update after the card ended does not reopen it (the emulator keeps
            // the end state); nor does "typing" go back to "processing".
            let ended = matches!(last, CardState::Finished | CardState::Failed);
            if next != last && !(ended && next == CardState::Inputting) {
                states.push(next);
            }
        }
        if first_visible_ms.is_none() && update.key == CONTENT_KEY && !update.content.is_empty() {
            first_visible_ms = Some(update.at_ms);
        }
    }
    CardView {
        state: card.state,
        states,
        text: visible_text(&card.text(CONTENT_KEY)),
        first_visible_ms,
    }
}

/// Applies one note to `played`; the step's ending when the note ends it.
pub fn apply(played: &mut Played, note: ReplyNote) -> Option<Ending> {
    if note.msg_id != played.msg_id {
        return None;
    }
    match note.kind {
        NoteKind::Card(id) => {
            played.cards.push(id);
            None
        }
        NoteKind::FirstText => {
            played.first_text.get_or_insert(note.at);
            None
        }
        NoteKind::Refused(why) => {
            played.ended_at = Some(note.at);
            Some(Ending::Refused(why))
        }
        NoteKind::Ended { outcome, detail } => {
            played.ended_at = Some(note.at);
            Some(Ending::Ended { outcome, detail })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openclaw_dingtalk_emulator::dingtalk::CardUpdate;

    fn update(via: ApiKind, key: &str, content: &str, finalize: bool, at_ms: u64) -> CardUpdate {
        CardUpdate {
            at_ms,
            key: key.into(),
            content: content.into(),
            finalize,
            error: false,
            via,
        }
    }

    #[test]
    fn states_and_first_visible_come_from_the_update_record() {
        let card = Card {
            out_track_id: "c".into(),
            template_id: "t".into(),
            open_space_id: "s".into(),
            created_at_ms: 5,
            param_map: [("content".to_owned(), "a<br>\nb".to_owned())].into(),
            state: CardState::Finished,
            updates: vec![
                update(ApiKind::StreamingUpdate, "content", "", false, 6),
                update(ApiKind::StreamingUpdate, "content", "a", false, 10),
                update(ApiKind::StreamingUpdate, "content", "a<br>\nb", true, 20),
                update(ApiKind::UpdateCardInstance, "flowStatus", "3", true, 21),
                update(ApiKind::UpdateCardInstance, "content", "a<br>\nb", true, 21),
            ],
            delivered: true,
        };
        let view = card_view(&card);
        assert_eq!(
            view.states,
            [
                CardState::Processing,
                CardState::Inputting,
                CardState::Finished
            ]
        );
        assert_eq!(view.first_visible_ms, Some(10));
        assert_eq!(view.text, "a\nb");
    }
}
