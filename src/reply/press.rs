//! A press of a card's stop button: the asker's press (anyone's in a 1:1 chat) stops the
//! reply the way `/stop` does (its card ends stopped with the text so far); somebody else's
//! press in a group changes nothing and that person gets one polite 1:1 message; a press
//! after the reply ended, or a second one, does nothing. The stream ends with `Skipped`
//! (nothing was sent) or `Replied` (the polite message).

use openclaw_skill_abi::Chunk;
use tokio::sync::mpsc::UnboundedSender;

use super::deps::ReplyDeps;
use super::remote_stop;
use crate::card::STOP_ACTION_ID;
use crate::conversation::PressVerdict;
use crate::dingtalk::{CallStats, Caller, Priority, ReplyTarget};
use crate::event::{AppId, CardPress};
use crate::shared::StopRequest;

/// What somebody other than the asker is told (once per card).
pub(super) const NOT_YOURS: &str =
    "只有提问的同事可以停止这条回答。(Only the person who asked can stop this answer.)";

/// Acts on one press of a card button.
pub(crate) async fn press(deps: &ReplyDeps, press: CardPress, tx: UnboundedSender<Chunk>) {
    let card = &press.out_track_id;
    let user = &press.user_id;
    if !press.action_ids.iter().any(|a| a == STOP_ACTION_ID) {
        log::info!(
            "card {card}: button {:?} pressed by {user}; only the stop button ({STOP_ACTION_ID}) does something",
            press.action_ids
        );
        let _ = tx.send(Chunk::Skipped(format!("card {card}: not the stop button")));
        return;
    }
    let chunk = match act_here(deps, card, user).await {
        Some(chunk) => chunk,
        // The reply may run on another host of the app.
        None if remote_stop::ask(
            deps,
            StopRequest::Press {
                card: card.clone(),
                user: user.clone(),
            },
        )
        .await
            > 0 =>
        {
            Chunk::Skipped(format!(
                "card {card}: the host running its reply acted on the press"
            ))
        }
        None => {
            log::info!(
                "card {card}: stop button pressed by {user} after its reply ended; nothing to stop"
            );
            Chunk::Skipped(format!("card {card}: its reply has ended"))
        }
    };
    let _ = tx.send(chunk);
}

/// Acts on a press of the stop button of `card` by `user` when its reply runs on this host:
/// the stream's last chunk; `None` when no reply of this host has that card.
pub(super) async fn act_here(deps: &ReplyDeps, card: &str, user: &str) -> Option<Chunk> {
    let skipped = match deps.stoppable.press(card, user) {
        PressVerdict::Stopped {
            conversation,
            already: false,
        } => {
            log::info!("card {card} conv={conversation}: stop button pressed by {user}; stopping the reply");
            format!("card {card}: the reply was stopped")
        }
        PressVerdict::Stopped {
            conversation,
            already: true,
        } => {
            log::info!("card {card} conv={conversation}: stop button pressed again by {user}; the reply is already stopping");
            format!("card {card}: the reply was already stopping")
        }
        PressVerdict::NotInFlight => return None,
        PressVerdict::NotTheAsker { conversation, app } => {
            log::info!("card {card} conv={conversation}: stop button pressed by {user}, who did not ask; the reply goes on");
            if !deps.dedup.first_time(&format!("not-yours:{card}:{user}")) {
                format!("card {card}: {user} was already told that only the asker can stop it")
            } else if tell_not_yours(deps, app, card, user, &conversation).await {
                return Some(Chunk::Replied(NOT_YOURS.to_owned()));
            } else {
                format!("card {card}: the note to {user} could not be sent")
            }
        }
    };
    Some(Chunk::Skipped(skipped))
}

/// The polite 1:1 message to `user`, who pressed the stop button of somebody else's answer;
/// whether DingTalk took it.
async fn tell_not_yours(
    deps: &ReplyDeps,
    app: AppId,
    card: &str,
    user: &str,
    conversation: &str,
) -> bool {
    let stats = CallStats::default();
    let caller = Caller {
        stats: &stats,
        priority: Priority::Create,
        conversation,
    };
    let target = ReplyTarget {
        webhook: None,
        conversation_id: String::new(),
        group: false,
        staff_id: Some(user.to_owned()),
    };
    match deps
        .apps
        .get(app)
        .dingtalk
        .send_markdown(&caller, &target, "OpenClaw", NOT_YOURS)
        .await
    {
        Ok(()) => true,
        Err(e) => {
            log::warn!(
                "card {card}: the note to {user} that only the asker can stop it was not sent: {e}"
            );
            false
        }
    }
}
