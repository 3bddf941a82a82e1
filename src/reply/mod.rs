//! The reply pipeline: one DingTalk event, start to finish. In the flow
//! `event → conversation → reply → gateway stream → card-sync → DingTalk client` it sits
//! between the conversation (queues, sessions, flood control) and the gateway and card-sync.
//!
//! [`plan()`] classifies an event on the thread that received it (dedup, access, flood
//! control, commands, the conversation's queue); [`run`] carries the plan out on the plugin
//! runtime: a notice or plain reply (`notice`), or the model's answer (`answer`) streamed
//! from the gateway into an AI Card (`live_card`, its data images uploaded by `images`) and
//! to the host (`host_chunks`), with markdown messages as the fallback (`fallback`). A press
//! of a card's stop button is [`press()`]. Everything the pipeline uses comes in one
//! [`ReplyDeps`], built by [`crate::skill`].

mod answer;
mod counters;
mod deps;
mod fallback;
mod host_chunks;
mod images;
mod live_card;
mod notice;
mod outcome;
mod plan;
mod press;
mod proactive;
mod prompt;
mod remote_stop;
mod target;

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use openclaw_skill_abi::Chunk;
use tokio::sync::mpsc::UnboundedSender;

pub(crate) use counters::ReplyCounters;
pub(crate) use deps::{ReplyDeps, ReplySettings};
pub(crate) use outcome::Outcome;
pub(crate) use plan::{plan, Plan};
pub(crate) use press::press;
pub(crate) use proactive::plan_post;
pub(crate) use remote_stop::handler as stop_handler;

use crate::event::BotMessage;
use crate::schedule::Collecting;
use crate::shared::{InboxEntry, StopRequest};

/// Answers a proactive prompt planned by [`plan_post`] into a new card of its target; the
/// stream `tx` ends with exactly one terminal chunk. Runs as its own task on the plugin runtime.
pub(crate) async fn post(deps: Arc<ReplyDeps>, post: proactive::Post, tx: UnboundedSender<Chunk>) {
    let proactive::Post { msg, queued } = post;
    log::info!(
        "post msg={} conv={} route={}: {} asks for a new card",
        msg.msg_id,
        msg.conversation_id,
        queued.route.name,
        msg.sender.nick
    );
    deps.counters.posts.fetch_add(1, Relaxed);
    answer::answer(&deps, &msg, queued, &tx).await;
}

/// How an event reached this host.
pub(crate) struct Arrival {
    /// The event as DingTalk delivered it (kept in the shared inbox until a card shows it).
    pub(crate) event: Arc<str>,
    /// Taken over from a host that died before answering it: no other host will take it
    /// (the shared redelivery filter has it already).
    pub(crate) taken_over: bool,
}

/// With shared state: whether another host (or this one, earlier) already took `msg` (its
/// redelivery landed elsewhere). While Redis is down only the local filter decides.
async fn another_host_took(deps: &ReplyDeps, msg: &BotMessage) -> bool {
    let Some(shared) = &deps.shared else {
        return false;
    };
    let key = format!("{}:{}", deps.app(msg).config.app_key, msg.msg_id);
    matches!(shared.first_time(&key, deps.dedup.ttl()).await, Ok(false))
}

/// Carries out `plan` for `msg`; every path ends the stream `tx` with exactly one terminal
/// chunk. Runs as its own task on the plugin runtime.
pub(crate) async fn run(
    deps: Arc<ReplyDeps>,
    msg: BotMessage,
    plan: Plan,
    arrival: Arrival,
    tx: UnboundedSender<Chunk>,
) {
    #[cfg(feature = "test-hooks")]
    if let crate::event::Content::Text(t) | crate::event::Content::Media { text: t, .. } =
        &msg.content
    {
        crate::test_hooks::check(t, crate::test_hooks::Hook::ReplyTask);
    }
    let deps = &*deps;
    let plan = if !matches!(plan, Plan::Duplicate)
        && !arrival.taken_over
        && another_host_took(deps, &msg).await
    {
        Plan::Duplicate
    } else {
        plan
    };
    // Until a card shows the answer, another host answers the message should this one die.
    let inbox = deps.app(&msg).shared_inbox.clone();
    if let (Plan::Answer(_), Some(inbox)) = (&plan, &inbox) {
        inbox.hold(&InboxEntry {
            msg_id: msg.msg_id.clone(),
            event: arrival.event.to_string(),
        });
    }
    match plan {
        Plan::Duplicate => {
            deps.counters.skipped.fetch_add(1, Relaxed);
            log::info!(
                "event msg={} conv={} outcome=duplicate",
                msg.msg_id,
                msg.conversation_id
            );
            let _ = tx.send(Chunk::Skipped(format!(
                "duplicate delivery of message {}",
                msg.msg_id
            )));
        }
        Plan::Refused => {
            let text = &deps.settings.access.refusal_message;
            notice::notice(deps, &msg, text, "refused", &tx).await;
        }
        Plan::Busy { reason } => {
            deps.counters.busy.fetch_add(1, Relaxed);
            log::info!(
                "event msg={} conv={} busy: {reason}",
                msg.msg_id,
                msg.conversation_id
            );
            let text = &deps.settings.busy_message;
            notice::notice(deps, &msg, text, "busy", &tx).await;
        }
        Plan::Unsupported(msgtype) => {
            log::info!(
                "event msg={} type {msgtype} cannot be forwarded",
                msg.msg_id
            );
            let text = notice::unsupported(&deps.settings);
            notice::plain_reply(deps, &msg, text, "unsupported", &tx).await;
        }
        Plan::NewSession(conversation) => {
            deps.sessions.renew(&conversation);
            if let Some(shared) = &deps.shared {
                if let Ok(generation) = shared.renew_session(&conversation).await {
                    deps.sessions.set_generation(&conversation, generation);
                }
            }
            notice::plain_reply(deps, &msg, notice::NEW_SESSION, "new_session", &tx).await;
        }
        Plan::Stop(conversation) => {
            let mut stopped = deps.conversations.stop_all(&conversation);
            // Another host of the app may run (another of) the conversation's replies.
            let request = StopRequest::Conversation {
                key: conversation.clone(),
            };
            if stopped == 0 {
                stopped = remote_stop::ask(deps, request).await;
            } else {
                remote_stop::tell(deps, request).await;
            }
            let text = if stopped > 0 {
                notice::STOPPED
            } else {
                notice::NOTHING_TO_STOP
            };
            notice::plain_reply(deps, &msg, text, "stop", &tx).await;
        }
        Plan::Collect(schedule) => match schedule.collect(&msg, deps.shared.as_deref()).await {
            Some(Collecting::Noted(ack)) => {
                notice::plain_reply(deps, &msg, &ack, "collected", &tx).await
            }
            Some(Collecting::Full) => {
                notice::plain_reply(deps, &msg, notice::COLLECTION_FULL, "collection_full", &tx)
                    .await
            }
            None => {
                notice::plain_reply(deps, &msg, notice::COLLECT_FAILED, "collect_failed", &tx).await
            }
        },
        Plan::Answer(queued) => answer::answer(deps, &msg, queued, &tx).await,
    }
    if let Some(inbox) = inbox {
        inbox.release(&msg.msg_id);
    }
}
