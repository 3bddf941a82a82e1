//! Playing one scripted message: push it over the emulator's Stream connection (so it travels
//! through the host's real ingress into the plugin), then watch what DingTalk would show (the
//! emulator's card and message records) until the reply has ended, redrawing the display on
//! every recorded change. A picture step first puts the picture where DingTalk keeps users'
//! files; a stop step presses the card's stop button as its asker once the card shows
//! streamed text and the button.

use std::time::{Duration, Instant};

use openclaw_dingtalk_emulator::dingtalk::{
    CardState, DingTalkEmulator, PressError, STOP_BUTTON_ID,
};
use openclaw_dingtalk_emulator::gateway::chart_png;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_util::sync::CancellationToken;

use super::display::Display;
use super::peers::CONTENT_KEY;
use super::record::{apply, visible_text, Ending, Played, StepView, StopPress};
use super::script::{self, Action, Step};
use crate::ingress::ReplyNote;

/// How often the display is refreshed when nothing was recorded (spinner, elapsed time).
const TICK: Duration = Duration::from_millis(80);
/// How long cards may take to reach a final state after the reply ended.
const SETTLE: Duration = Duration::from_secs(5);
/// A stop step presses the button once the card shows this many characters: a sentence or
/// so, so the stop visibly cuts a streaming answer.
const STOP_AFTER_CHARS: usize = 60;

/// Everything a step needs.
pub struct Stage<'a> {
    /// The emulator.
    pub emulator: &'a DingTalkEmulator,
    /// Notes from the host's followers.
    pub notes: &'a mut UnboundedReceiver<ReplyNote>,
    /// The display.
    pub display: &'a mut Display,
    /// Cancelled on Ctrl-C.
    pub interrupt: &'a CancellationToken,
    /// Longest wait for one reply.
    pub limit: Duration,
}

/// Pushes `step`'s message and follows its reply to the end (or Ctrl-C, or the limit).
pub async fn play(stage: &mut Stage<'_>, index: usize, total: usize, step: &Step) -> Played {
    // Notes of an earlier step that ended on Ctrl-C or its limit are stale now.
    while stage.notes.try_recv().is_ok() {}
    let emulator = stage.emulator;
    let mut played = Played {
        index,
        msg_id: String::new(),
        pushed_at: Instant::now(),
        calls_before: emulator.calls().last().map_or(0, |c| c.seq),
        messages_before: emulator.sent_messages().len(),
        cards: Vec::new(),
        first_text: None,
        ended_at: None,
        ending: Ending::TimedOut(stage.limit),
        action: step.action,
        stop: None,
    };
    stage.display.step_started(index, total, step);
    let picture = (step.action == Action::Picture)
        .then(|| emulator.add_file(script::PICTURE_NAME, "image/png", chart_png()));
    played.pushed_at = Instant::now();
    played.msg_id = emulator.push_bot_message(script::message(step, picture));
    let deadline = tokio::time::Instant::from_std(played.pushed_at + stage.limit);
    let mut ended: Option<Ending> = None;
    let mut settle_until: Option<tokio::time::Instant> = None;
    let mut announced = false;
    let mut stop_tried = false;
    loop {
        while let Ok(note) = stage.notes.try_recv() {
            if let Some(ending) = apply(&mut played, note) {
                ended = Some(ending);
            }
        }
        if !announced && !played.cards.is_empty() {
            announced = true;
            stage.display.card_created(&played);
        }
        if step.action == Action::StopMidway && !stop_tried && ended.is_none() {
            match press_stop(emulator, &played) {
                None => {}
                Some(Ok(press)) => {
                    stop_tried = true;
                    stage.display.stop_pressed(&played, &press);
                    played.stop = Some(press);
                }
                Some(Err(e)) => {
                    stop_tried = true;
                    stage
                        .display
                        .note(&format!("  the stop button could not be pressed: {e}"));
                }
            }
        }
        let view = StepView::capture(emulator, &played);
        stage.display.step_progress(&played, &view);
        if let Some(ending) = &ended {
            let now = tokio::time::Instant::now();
            let until = *settle_until.get_or_insert(now + SETTLE);
            if view.settled() || now >= until {
                played.ending = ending.clone();
                return played;
            }
        }
        let seen = emulator.calls().len();
        tokio::select! {
            note = stage.notes.recv() => {
                if let Some(ending) = note.and_then(|note| apply(&mut played, note)) {
                    ended = Some(ending);
                }
            }
            _ = emulator.wait_until(|e| e.calls().len() != seen, TICK) => {}
            _ = stage.interrupt.cancelled() => {
                played.ending = Ending::Interrupted;
                return played;
            }
            _ = tokio::time::sleep_until(deadline), if ended.is_none() => {
                played.ending = Ending::TimedOut(stage.limit);
                return played;
            }
        }
    }
}

/// Presses the stop button of the reply's newest card as the asker, when that card is
/// streaming (it shows [`STOP_AFTER_CHARS`] characters or more, and is neither finished nor
/// failed) and shows the button; `None` until then. The press is a card callback to the app, as DingTalk sends it (`btn_stop`,
/// empty params).
fn press_stop(
    emulator: &DingTalkEmulator,
    played: &Played,
) -> Option<Result<StopPress, PressError>> {
    let card = emulator.card(played.cards.last()?)?;
    let shown = visible_text(&card.text(CONTENT_KEY));
    let streaming = shown.chars().count() >= STOP_AFTER_CHARS
        && !matches!(card.state, CardState::Finished | CardState::Failed);
    let button = card
        .buttons()
        .into_iter()
        .find(|b| b.id == STOP_BUTTON_ID)
        .filter(|_| streaming)?;
    let pressed = emulator.press_card(
        &card.out_track_id,
        script::USER_STAFF_ID,
        &button.id,
        serde_json::json!({}),
    );
    Some(pressed.map(|receipt| StopPress {
        label: button.text,
        seq: receipt.press,
        at: Instant::now(),
        chars_shown: shown.chars().count(),
    }))
}
