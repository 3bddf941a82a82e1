//! The model answer: the card is created at once, while the reply waits for its turn in the
//! conversation (and fetches the message's pictures and files meanwhile) and streams the
//! gateway's answer into card-sync and to the host; a line under the answer names what was
//! not read; then the card is finalized (or the answer goes out as markdown messages) and
//! the reply's outcome is logged and counted.

use std::sync::Arc;
use std::time::Instant;

use futures_util::StreamExt;
use openclaw_skill_abi::{Chunk, OcFailureKind, Usage};
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use super::deps::ReplyDeps;
use super::fallback::send_as_messages;
use super::host_chunks::HostChunks;
use super::images::AnswerImages;
use super::live_card::LiveCard;
use super::outcome::{Delivery, ModelEnd, Outcome};
use super::plan::Queued;
use super::prompt;
use super::target::card_space;
use crate::card::images::Piece;
use crate::card::{CardEnd, CardSync};
use crate::conversation::CardOwner;
use crate::dingtalk::{CallStats, Caller, Priority};
use crate::event::{BotMessage, ROBOT_SENDER};
use crate::gateway::{GatewayError, GatewayEvent};

/// Shown on the card of a reply the skill's shutdown interrupted.
const SHUTDOWN_NOTE: &str = "服务正在重启，回复中断，请稍后重新发送。(The service restarted; please send your question again.)";

/// Why the model's side of a reply ended.
enum Ending {
    Done,
    Gateway(GatewayError),
    Stopped,
    Shutdown,
}

/// Answers the `queued` reply to the user's message `msg` once its turn comes,
/// ending the host's stream with exactly one terminal chunk.
pub(super) async fn answer(
    deps: &ReplyDeps,
    msg: &BotMessage,
    queued: Queued,
    tx: &UnboundedSender<Chunk>,
) {
    let Queued {
        conversation,
        route,
        question,
        mut turn,
        stoppable,
    } = queued;
    let (conversation, route, question) = (conversation.as_str(), &route, &question);
    let started = Instant::now();
    let stats = Arc::new(CallStats::default());
    let stop = CancellationToken::new();
    let stop_id = turn.slot().register(stop.clone());
    let mut out = HostChunks::new(tx);
    let mut card = LiveCard::none();
    if deps.settings.cards {
        match card_space(msg) {
            Some(space) => {
                let (sync, events) = CardSync::start(
                    deps.app(msg).cards.clone(),
                    space,
                    conversation.to_owned(),
                    msg.msg_id.clone(),
                    stats.clone(),
                    stoppable,
                );
                let owner = CardOwner {
                    conversation: conversation.to_owned(),
                    app: msg.app,
                    asker: msg
                        .sender
                        .staff_id
                        .clone()
                        .filter(|_| msg.sender.id != ROBOT_SENDER),
                    group: msg.is_group(),
                    stop: stop.clone(),
                };
                card = LiveCard {
                    sync: Some(sync),
                    events: Some(events),
                    stoppable: Some(deps.stoppable.reply(owner)),
                    template_id: deps.app(msg).cards.plan.template_id.clone(),
                };
                out.hold();
            }
            None => log::info!(
                "sender of msg {} has no staff id; replying with a markdown message",
                msg.msg_id
            ),
        }
    }

    let settings = &deps.settings;
    // What the card shows of the answer (its data images by media id or as notes).
    let mut answer_text = String::new();
    let mut images = AnswerImages::new(settings.upload_images);
    let caller = Caller {
        stats: &stats,
        priority: Priority::Create,
        conversation,
    };
    // What `show` needs, borrowed anew each time (the loop below borrows the card in between).
    macro_rules! shown_ctx {
        () => {
            Shown {
                deps,
                msg,
                caller: &caller,
                stop: &stop,
                card: &mut card,
                out: &mut out,
                answer_text: &mut answer_text,
            }
        };
    }
    let mut usage: Option<Usage> = None;
    // Shown under the answer when a picture or file was not (fully) read.
    let mut unread_note = None;
    let ending = {
        // The pictures and files are fetched while the reply waits for its turn.
        let ready = async {
            let fetched = deps.app(msg).attachments.prepare(
                &msg.msg_id,
                conversation,
                &stats,
                &question.attachments,
            );
            tokio::join!(turn.wait(), fetched).1
        };
        tokio::pin!(ready);
        let prepared = loop {
            tokio::select! {
                biased;
                _ = stop.cancelled() => break None,
                _ = deps.shutdown.cancelled() => break None,
                event = card.next_event() => card.on_event(event, &mut out, settings),
                prepared = &mut ready => break Some(prepared),
            }
        };
        match prepared {
            None if deps.shutdown.is_cancelled() => Ending::Shutdown,
            None => Ending::Stopped,
            Some(prepared) => {
                unread_note = prepared.card_note();
                if let Some(shared) = &deps.shared {
                    // `/new` on another host counts here too.
                    if let Ok(generation) = shared.session_generation(conversation).await {
                        deps.sessions.set_generation(conversation, generation);
                    }
                }
                let request = prompt::request(
                    settings,
                    route,
                    deps.sessions.session_key(conversation),
                    msg,
                    &question.text,
                    prepared,
                );
                let mut stream = std::pin::pin!(deps.gateway.stream_chat(request));
                loop {
                    tokio::select! {
                        biased;
                        _ = stop.cancelled() => break Ending::Stopped,
                        _ = deps.shutdown.cancelled() => break Ending::Shutdown,
                        event = card.next_event() => card.on_event(event, &mut out, settings),
                        item = stream.next() => match item {
                            None => break Ending::Done,
                            Some(Ok(GatewayEvent::Delta(t))) => {
                                let pieces = images.push(&t);
                                out.send(Chunk::Delta(t));
                                let shown = show(pieces, &mut images, &mut shown_ctx!()).await;
                                if let Some(ending) = shown {
                                    break ending;
                                }
                            }
                            Some(Ok(GatewayEvent::Reasoning(t))) => {
                                card.push_reasoning(&t);
                                out.send(Chunk::Reasoning(t));
                            }
                            Some(Ok(GatewayEvent::Usage(u))) => usage = Some(u),
                            Some(Ok(GatewayEvent::FinishReason(_))) => {}
                            Some(Err(e)) => break Ending::Gateway(e),
                        },
                    }
                }
            }
        }
    };
    // Text held back as a possible image is shown now; an image cut off becomes a note.
    let pieces = images.finish();
    let _ = show(pieces, &mut images, &mut shown_ctx!()).await;
    if let Some(note) = unread_note {
        card.push_answer(&note);
        answer_text.push_str(&note);
        out.send(Chunk::Delta(note));
    }
    turn.slot().unregister(stop_id);
    drop(turn);
    // The model's side has ended: a press of the stop button now finds nothing to stop.
    card.stoppable = None;
    // The answer may have ended before card creation did: wait for it (card-sync gives up
    // after its creation deadline).
    while out.waiting_for_card() {
        let event = card.next_event().await;
        card.on_event(event, &mut out, settings);
    }

    let (card_end, model_end, model_failure) = match ending {
        Ending::Done => (CardEnd::Finished, ModelEnd::Done, None),
        Ending::Gateway(e) => (
            CardEnd::Failed(e.user_reason()),
            ModelEnd::Failed,
            Some((e.failure_kind(), e.to_string())),
        ),
        Ending::Stopped => (
            CardEnd::Stopped,
            ModelEnd::Stopped,
            Some((OcFailureKind::STOPPED, "stopped by the user".to_owned())),
        ),
        Ending::Shutdown => (
            CardEnd::Failed(SHUTDOWN_NOTE.into()),
            ModelEnd::Interrupted,
            Some((
                OcFailureKind::SHUTTING_DOWN,
                "the skill shut down before the reply finished".to_owned(),
            )),
        ),
    };
    let mut first_visible = None;
    let mut cards = 0;
    let delivery = match card.sync.take() {
        Some(sync) => {
            let report = sync.finish(card_end.clone()).await;
            // Follow-up cards created while the card was being finished are announced
            // before the terminal chunk.
            while let Some(event) = card.events.as_mut().and_then(|e| e.try_recv().ok()) {
                card.on_event(Some(event), &mut out, settings);
            }
            let messages = match report.unsent_from {
                Some(from) => {
                    send_as_messages(
                        deps,
                        msg,
                        &answer_text[from.min(answer_text.len())..],
                        &card_end,
                        &stats,
                    )
                    .await
                }
                None => None,
            };
            first_visible = report.first_visible;
            cards = report.cards.len();
            if !report.finalized {
                log::error!(
                    "msg {}: card(s) {:?} could not be finalized; they stay in the journal and the next start finalizes them",
                    msg.msg_id,
                    report.cards
                );
            }
            Delivery {
                card: !report.cards.is_empty(),
                cards_finalized: report.finalized,
                messages,
            }
        }
        None => Delivery {
            card: false,
            cards_finalized: true,
            messages: send_as_messages(deps, msg, &answer_text, &card_end, &stats).await,
        },
    };
    let outcome = Outcome::of(model_end, delivery);
    deps.counters.outcomes.record(outcome);
    let terminal = match model_failure {
        Some((kind, message)) => Chunk::Failed { kind, message },
        None if outcome.delivered_whole() => Chunk::Finished { usage },
        None => Chunk::Failed {
            kind: OcFailureKind::DING_TALK,
            message: match outcome {
                Outcome::Stuck => "DingTalk did not accept the card's final update; it is finalized at the next start".into(),
                Outcome::Incomplete => "part of the answer could not be sent to DingTalk".into(),
                _ => "the answer could not be delivered to DingTalk (no card, and the markdown reply failed)".into(),
            },
        },
    };
    // A fixed target: operators filter on it, whatever the module layout.
    log::info!(
        target: "openclaw_dingtalk::reply",
        "reply msg={} app={} conv={} route={} outcome={}{} chars={} bytes={} cards={cards} {} elapsed_ms={} first_visible_ms={}",
        msg.msg_id,
        deps.app(msg).name(),
        msg.conversation_id,
        route.name,
        outcome.name(),
        match &terminal {
            Chunk::Failed { kind, message } => format!(" failure={kind:?} reason=\"{message}\""),
            _ => String::new(),
        },
        answer_text.chars().count(),
        answer_text.len(),
        stats.summary(),
        started.elapsed().as_millis(),
        first_visible.map_or("-".to_owned(), |t: tokio::time::Instant| t
            .duration_since(started.into())
            .as_millis()
            .to_string()),
    );
    out.release(None);
    let _ = tx.send(terminal);
}

/// What showing the answer's pieces touches.
struct Shown<'a, 'b> {
    deps: &'a ReplyDeps,
    msg: &'a BotMessage,
    caller: &'a Caller<'a>,
    stop: &'a CancellationToken,
    card: &'a mut LiveCard,
    out: &'a mut HostChunks<'b>,
    answer_text: &'a mut String,
}

/// Shows `pieces` in the card, in order: text as it is, each image once uploaded (or as its
/// note). While an image uploads, the card's events are handled and a stop or the shutdown
/// ends the answer (answered as the [`Ending`]).
async fn show(
    pieces: Vec<Piece>,
    images: &mut AnswerImages,
    s: &mut Shown<'_, '_>,
) -> Option<Ending> {
    for piece in pieces {
        let text = match piece {
            Piece::Text(t) => t,
            Piece::Image(found) => {
                let upload = images.show(&s.deps.app(s.msg).dingtalk, s.caller, found);
                tokio::pin!(upload);
                loop {
                    tokio::select! {
                        biased;
                        _ = s.stop.cancelled() => return Some(Ending::Stopped),
                        _ = s.deps.shutdown.cancelled() => return Some(Ending::Shutdown),
                        event = s.card.next_event() => s.card.on_event(event, s.out, &s.deps.settings),
                        text = &mut upload => break text,
                    }
                }
            }
        };
        s.card.push_answer(&text);
        s.answer_text.push_str(&text);
    }
    None
}
