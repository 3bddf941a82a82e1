//! What is known about one played message: the host's notes about its reply ([`Played`]) and
//! what DingTalk shows for it, read from the emulator's records ([`StepView`]).

use std::time::{Duration, Instant};

use openclaw_dingtalk_emulator::dingtalk::{ApiKind, Call, Card, CardState, DingTalkEmulator};

use super::peers::CONTENT_KEY;
use super::script::{self, Action};
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
    /// What the step does besides its text.
    pub action: Action,
    /// The asker's press of the card's stop button ([`Action::StopMidway`]), once made.
    pub stop: Option<StopPress>,
}

impl Played {
    /// How long the reply took (to its end, or until now).
    pub fn elapsed(&self) -> Duration {
        self.ended_at.unwrap_or_else(Instant::now) - self.pushed_at
    }

    /// The outcome as the summary names it: the host's (`finished`, `failed`, `replied`, …),
    /// except `stopped` for a reply whose stop button was pressed and whose card then ended
    /// finished (not failed) with a failed reply: how the plugin ends a reply its asker
    /// stopped (the host reports it as `failed`, the card keeps the text so far). `None` when
    /// the reply did not end.
    pub fn outcome(&self, view: &StepView) -> Option<&'static str> {
        match &self.ending {
            Ending::Ended {
                outcome: "failed" | "stopped",
                ..
            } if self.stop.is_some() && view.state() == Some(CardState::Finished) => {
                Some("stopped")
            }
            Ending::Ended { outcome, .. } => Some(outcome),
            _ => None,
        }
    }

    /// Whether the reply ended as its step should: answered (`finished`, or a plain `replied`);
    /// a stop step `stopped`, or against a real gateway (`real_gateway`, whose model may
    /// finish a short answer before the button can be pressed) also `finished`; a stand-up
    /// message acknowledged (`replied`), the schedule's summary card `finished`.
    pub fn as_expected(&self, view: &StepView, real_gateway: bool) -> bool {
        let outcome = self.outcome(view);
        match self.action {
            Action::StopMidway if real_gateway => {
                matches!(outcome, Some("stopped" | "finished"))
            }
            Action::StopMidway => outcome == Some("stopped"),
            Action::Ask | Action::Picture => matches!(outcome, Some("finished" | "replied")),
            Action::Collect => outcome == Some("replied"),
            Action::Tick => outcome == Some("finished"),
        }
    }

    /// What an unexpected ending says, for the demo's error: which step, what it should have
    /// done.
    pub fn expectation(&self) -> &'static str {
        match self.action {
            Action::StopMidway => "stopped by its asker",
            Action::Ask | Action::Picture => "answered",
            Action::Collect => "acknowledged with a plain message (collected for the stand-up)",
            Action::Tick => "the schedule's summary card, finished",
        }
    }

    /// Its row in the summary: `#3`, or `tick` for the schedule's card.
    pub fn label(&self) -> String {
        match self.action {
            Action::Tick => "tick".to_owned(),
            _ => format!("#{}", self.index),
        }
    }
}

/// A press of a card's stop button by the asker (the emulator's record has what came of it).
#[derive(Debug, Clone)]
pub struct StopPress {
    /// The button's label as the card showed it.
    pub label: String,
    /// The press in the emulator's record ([`CardPress::seq`](openclaw_dingtalk_emulator::dingtalk::CardPress::seq)).
    pub seq: u64,
    /// When it was pressed.
    pub at: Instant,
    /// Characters the card showed when it was pressed.
    pub chars_shown: usize,
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
    /// DingTalk's OpenAPI calls during the step (a GET of a user's file from storage is not one).
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
            .filter(|c| c.seq > played.calls_before && super::summary::is_api_call(c))
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

    fn played(action: Action, outcome: &'static str, pressed: bool) -> Played {
        let now = Instant::now();
        Played {
            index: 6,
            msg_id: "msg6".into(),
            pushed_at: now,
            calls_before: 0,
            messages_before: 0,
            cards: vec!["card_6".into()],
            first_text: Some(now),
            ended_at: Some(now),
            ending: Ending::Ended {
                outcome,
                detail: "stopped by the user".into(),
            },
            action,
            stop: pressed.then(|| StopPress {
                label: "停止回答".into(),
                seq: 1,
                at: now,
                chars_shown: 42,
            }),
        }
    }

    fn ended(state: CardState) -> StepView {
        StepView {
            cards: vec![CardView {
                state,
                states: vec![CardState::Processing, CardState::Inputting, state],
                text: "第一段：钉钉的互动卡片\n\n> ⏹ 已停止 (stopped)".into(),
                first_visible_ms: Some(10),
            }],
            messages: Vec::new(),
            calls: Vec::new(),
        }
    }

    #[test]
    fn a_pressed_reply_whose_card_finished_is_stopped() {
        let finished = ended(CardState::Finished);
        let stopped = played(Action::StopMidway, "failed", true);
        assert_eq!(stopped.outcome(&finished), Some("stopped"));
        assert!(stopped.as_expected(&finished, false));
        // A failed card is a failure, pressed or not; without a press a failed reply is one.
        assert_eq!(stopped.outcome(&ended(CardState::Failed)), Some("failed"));
        let unpressed = played(Action::StopMidway, "failed", false);
        assert_eq!(unpressed.outcome(&finished), Some("failed"));
        // The answer outran the press: expected from a real gateway's model only.
        let outran = played(Action::StopMidway, "finished", true);
        assert_eq!(outran.outcome(&finished), Some("finished"));
        assert!(!outran.as_expected(&finished, false));
        assert!(outran.as_expected(&finished, true));
        assert!(played(Action::Picture, "finished", false).as_expected(&finished, false));
        assert!(!played(Action::Ask, "failed", false).as_expected(&finished, true));
        // A stand-up message is acknowledged, not answered; the schedule's card finishes.
        assert!(played(Action::Collect, "replied", false).as_expected(&finished, false));
        assert!(!played(Action::Collect, "finished", false).as_expected(&finished, true));
        assert!(played(Action::Tick, "finished", false).as_expected(&finished, true));
        assert_eq!(played(Action::Tick, "finished", false).label(), "tick");
        assert_eq!(played(Action::Collect, "replied", false).label(), "#6");
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
