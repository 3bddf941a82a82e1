//! `/stop` and stop-button presses across the hosts of an app (`shared_state:`): the host
//! DingTalk handed them to asks the others when no reply of its own is concerned ([`ask`]),
//! and acts on what the others ask ([`handler`]).

use std::sync::{Arc, Weak};

use openclaw_skill_abi::Chunk;

use super::deps::ReplyDeps;
use super::press;
use crate::shared::{StopHandler, StopRequest};

/// Asks the other hosts to act on `request`: how many replies they stopped (presses they
/// acted on); 0 without shared state.
pub(super) async fn ask(deps: &ReplyDeps, request: StopRequest) -> usize {
    let Some(stops) = deps.shared.as_ref().and_then(|s| s.stops()) else {
        return 0;
    };
    let what = match &request {
        StopRequest::Conversation { key } => format!("conv={key}: /stop"),
        StopRequest::Press { card, user } => format!("card {card}: a press by {user}"),
    };
    let acted = stops.ask(request).await;
    if acted > 0 {
        log::info!("{what} was acted on by the host running the reply");
    }
    acted
}

/// Tells the other hosts to act on `request` too, without waiting (this host stopped a reply
/// of the conversation itself; another host may run another one).
pub(super) async fn tell(deps: &ReplyDeps, request: StopRequest) {
    if let Some(stops) = deps.shared.as_ref().and_then(|s| s.stops()) {
        stops.tell(request).await;
    }
}

/// What this host does when another host asks: stops the conversation's replies, or acts
/// on the press, when they run here.
pub(crate) fn handler(deps: Weak<ReplyDeps>) -> StopHandler {
    Arc::new(move |request| {
        let deps = deps.clone();
        Box::pin(async move {
            let Some(deps) = deps.upgrade() else {
                return 0;
            };
            match request {
                StopRequest::Conversation { key } => {
                    let stopped = deps.conversations.stop_all(&key);
                    if stopped > 0 {
                        log::info!("conv={key}: /stop sent to another host stopped {stopped} reply(ies) here");
                    }
                    stopped
                }
                StopRequest::Press { card, user } => {
                    match press::act_here(&deps, &card, &user).await {
                        Some(Chunk::Replied(_) | Chunk::Skipped(_)) => 1,
                        _ => 0,
                    }
                }
            }
        })
    })
}
