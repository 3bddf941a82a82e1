//! Replies that are not the model's: notices (refusal, busy) and plain replies to commands
//! and unsupported messages, each one markdown message ending the stream with `Replied` (or
//! `Skipped` when a notice was sent to the conversation recently).

use std::sync::atomic::Ordering::Relaxed;

use openclaw_skill_abi::Chunk;
use tokio::sync::mpsc::UnboundedSender;

use super::deps::{ReplyDeps, ReplySettings};
use super::target::reply_target;
use crate::conversation::NOTICE_PERIOD;
use crate::dingtalk::{CallStats, Caller, Priority};
use crate::event::BotMessage;

/// The answer to a message that cannot be forwarded, naming what can (pictures and files
/// as `attachments:` allows).
pub(super) fn unsupported(settings: &ReplySettings) -> &'static str {
    match (settings.images, settings.files) {
        (true, true) => "暂时只能处理文字、语音、图片和文件消息，请用文字描述你的问题。(I can only read text, voice, pictures and files for now — please type your question.)",
        (true, false) => "暂时只能处理文字、语音和图片消息，请用文字描述你的问题。(I can only read text, voice and pictures for now — please type your question.)",
        (false, true) => "暂时只能处理文字、语音和文件消息，请用文字描述你的问题。(I can only read text, voice and files for now — please type your question.)",
        (false, false) => "暂时只能处理文字和语音消息，请用文字描述你的问题。(I can only read text and voice messages for now — please type your question.)",
    }
}
/// The answer to `/new`.
pub(super) const NEW_SESSION: &str = "已开始新会话。(Started a new conversation.)";
/// The answer to `/stop` when a reply was stopped.
pub(super) const STOPPED: &str = "已停止当前回复。(Stopped the reply in progress.)";
/// The answer to a tagged message when the schedule's list is full until its next tick.
pub(super) const COLLECTION_FULL: &str =
    "本期收集的消息已满，请在下次汇总后再发送。(The list is full until the next summary.)";
/// The answer to a tagged message that could not be stored (the state directory failed).
pub(super) const COLLECT_FAILED: &str = "暂时无法记录这条消息，请稍后重新发送。(Could not note this message; please send it again later.)";
/// The answer to `/stop` when nothing ran.
pub(super) const NOTHING_TO_STOP: &str = "当前没有进行中的回复。(There is no reply in progress.)";

/// A notice (refusal, busy) as a plain message, at most once per conversation every
/// [`NOTICE_PERIOD`]; otherwise nothing is sent and the
/// stream ends with `Skipped`.
pub(super) async fn notice(
    deps: &ReplyDeps,
    msg: &BotMessage,
    text: &str,
    outcome: &str,
    tx: &UnboundedSender<Chunk>,
) {
    if deps.flood.notice_allowed(&msg.conversation_id) {
        plain_reply(deps, msg, text, outcome, tx).await;
    } else {
        deps.counters.skipped.fetch_add(1, Relaxed);
        log::info!(
            "event msg={} conv={} outcome={outcome} (notice already sent recently)",
            msg.msg_id,
            msg.conversation_id
        );
        let _ = tx.send(Chunk::Skipped(format!(
            "{outcome}: a notice was sent to this conversation less than {} s ago",
            NOTICE_PERIOD.as_secs()
        )));
    }
}

/// Sends `text` as a plain message and ends the stream with `Replied`.
pub(super) async fn plain_reply(
    deps: &ReplyDeps,
    msg: &BotMessage,
    text: &str,
    outcome: &str,
    tx: &UnboundedSender<Chunk>,
) {
    let stats = CallStats::default();
    let caller = Caller {
        stats: &stats,
        priority: Priority::Create,
        conversation: &msg.conversation_id,
    };
    let delivered = match deps
        .app(msg)
        .dingtalk
        .send_markdown(&caller, &reply_target(msg), "OpenClaw", text)
        .await
    {
        Ok(()) => true,
        Err(e) => {
            log::warn!("event msg={}: plain reply failed: {e}", msg.msg_id);
            false
        }
    };
    deps.counters.replied.fetch_add(1, Relaxed);
    log::info!(
        "event msg={} conv={} outcome={outcome}{} {}",
        msg.msg_id,
        msg.conversation_id,
        if delivered { "" } else { " undelivered" },
        stats.summary()
    );
    let _ = tx.send(Chunk::Replied(text.to_owned()));
}
