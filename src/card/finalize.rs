//! Finalizing a card: the last streaming update with the whole text (`isFinalize`, plus
//! `isError` when the reply failed), then one data update with, as configured, the
//! `flowStatus` variable and the variables that hide the stop button; the card's journal
//! entry goes once DingTalk accepted it.

use serde_json::{json, Map, Value};

use super::context::CardContext;
use crate::dingtalk::{Caller, DingTalkError, Retry, StreamEnd};
use crate::retry::FINAL_UPDATE_DEADLINE;

/// How a final update went.
pub(super) enum FinalUpdate {
    /// DingTalk accepted it (or had already applied it).
    Accepted,
    /// DingTalk refused the text as too large: split smaller and try again.
    TooLarge,
    /// DingTalk did not accept it; the card stays in the journal for recovery.
    Refused,
}

/// How a final streaming update ended when DingTalk did not refuse it for good.
enum Streamed {
    /// Applied now, or by an earlier attempt.
    Applied,
    /// Refused as too large (not retried: the text must be split).
    TooLarge,
}

/// Finalizes one card: one streaming update with the whole text and `isFinalize` (plus
/// `isError` when failed), then, with `card_flow_status` or a stop button, one data update
/// (`flowStatus`, the button hidden). Each
/// is retried with a fresh `guid` for up to a minute. A retry refused after an attempt that
/// may have been applied means the card was already final: success. When the streaming API
/// refuses the final update, the data update carries the text too, so the card still ends.
pub(super) async fn finalize_card(
    ctx: &CardContext,
    caller: &Caller<'_>,
    card: &str,
    text: &str,
    failed: bool,
) -> FinalUpdate {
    let key = &ctx.plan.content_key;
    let end = if failed {
        StreamEnd::Failed
    } else {
        StreamEnd::Finished
    };
    let retry = &Retry::for_at_most("final card update", FINAL_UPDATE_DEADLINE);
    let streamed = retry
        .run(|| async move {
            match ctx
                .client
                .stream_card(caller, card, key, &|| text.to_owned(), end)
                .await
            {
                Ok(_) => Ok(Streamed::Applied),
                Err(e) if e.is_too_large() => Ok(Streamed::TooLarge),
                Err(e @ DingTalkError::Param { .. }) if retry.ambiguous() => {
                    log::info!(
                        "card {card}: the final update had already been applied (the retry was answered: {e})"
                    );
                    Ok(Streamed::Applied)
                }
                Err(e) => Err(e),
            }
        })
        .await;
    let streamed = match streamed {
        Ok(Streamed::TooLarge) => return FinalUpdate::TooLarge,
        Ok(Streamed::Applied) => Ok(()),
        Err(e) => Err(e),
    };
    if let Err(e) = &streamed {
        log::error!("card {card}: the final update was refused: {e}");
    }
    let button = &ctx.plan.stop_button;
    let status = if ctx.plan.flow_status || button.shown() || streamed.is_err() {
        let mut params = Map::new();
        if ctx.plan.flow_status || streamed.is_err() {
            params.insert("flowStatus".into(), json!(if failed { "5" } else { "3" }));
        }
        button.add_hidden(&mut params);
        if streamed.is_err() {
            params.insert(key.clone(), Value::String(text.to_owned()));
        }
        let status = Retry::for_at_most("card status update", FINAL_UPDATE_DEADLINE)
            .run(|| ctx.client.update_card_data(caller, card, &params))
            .await;
        if let Err(e) = &status {
            log::error!("card {card}: the final status update was refused: {e}");
        }
        status
    } else {
        Ok(())
    };
    let done = streamed.is_ok() || status.is_ok();
    // A card DingTalk does not know (or will never take) is not worth recovering.
    let hopeless = matches!(&streamed, Err(DingTalkError::Param { .. }));
    if done || hopeless {
        ctx.journal.remove(card);
    }
    if done {
        FinalUpdate::Accepted
    } else {
        FinalUpdate::Refused
    }
}
