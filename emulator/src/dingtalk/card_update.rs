//! Updating cards: `PUT /v1.0/card/streaming` and `PUT /v1.0/card/instances` (docs/dingtalk.md, "AI Cards";
//! the documented validation errors in docs/dingtalk-events.md, "Card calls").

use serde_json::{json, Value};

use super::{
    card_create::card_not_found,
    params::{card_param_map, flag, optional_object, optional_str},
    reply::ApiError,
    state::{Inner, Shared},
    ApiKind, CardState, CardUpdate,
};

/// `PUT /v1.0/card/streaming {outTrackId,guid,key,content,isFull,isFinalize,isError}`.
///
/// Rules, checked in this order: the card must exist; `guid` and `key` must be non-empty; a markdown variable
/// needs `isFull:true` (`false` appends, allowed for other variables); empty `content` is rejected with
/// `param.stream.contentEmpty` (the strict reading of the documented error list in docs/dingtalk-events.md,
/// "Card calls": empty `content` may be refused); a resulting value over
/// [`max_card_value_bytes`](super::EmulatorConfig::max_card_value_bytes) UTF-8 bytes is
/// `param.stream.content` "content is too large" (DingTalk states its sizes in bytes). A repeated `guid` is
/// an idempotent retry: success, not applied again. Then a card that is already Finished or Failed refuses
/// the update with HTTP 400 `param.stream.cardFinished` "card is finished": DingTalk does not publish this,
/// but clients observe that a finalized card may reject further streaming calls, so the emulator takes the
/// strict reading (the code is its own choice; `PUT /v1.0/card/instances` stays allowed on such cards). The
/// first applied update moves Processing → Inputting; `isFinalize` → Finished; `isError` → Failed.
pub(crate) fn streaming(
    shared: &Shared,
    inner: &mut Inner,
    at_ms: u64,
    body: &Value,
) -> Result<Value, ApiError> {
    let out_track_id = optional_str(body, "outTrackId")?.unwrap_or_default();
    let Some(card) = inner.cards.get(out_track_id) else {
        return Err(ApiError::param(
            "param.stream.outTrackId",
            "card is not exist",
        ));
    };
    let guid = optional_str(body, "guid")?.unwrap_or_default();
    if guid.is_empty() {
        return Err(ApiError::param("param.stream.guidEmpty", "guid is empty"));
    }
    let key = optional_str(body, "key")?.unwrap_or_default();
    if key.is_empty() {
        return Err(ApiError::param("param.stream.keyEmpty", "key is empty"));
    }
    let content = optional_str(body, "content")?.unwrap_or_default();
    let (is_full, finalize, error) = (
        flag(body, "isFull")?,
        flag(body, "isFinalize")?,
        flag(body, "isError")?,
    );
    if !is_full && is_markdown_key(shared, &card.template_id, key) {
        return Err(ApiError::param(
            "param.stream.isFull",
            "isFull must be true for a markdown variable",
        ));
    }
    if content.is_empty() {
        return Err(ApiError::param(
            "param.stream.contentEmpty",
            "content is empty",
        ));
    }
    let value = if is_full {
        content.to_string()
    } else {
        card.text(key) + content
    };
    if value.len() > shared.config.max_card_value_bytes {
        return Err(ApiError::param(
            "param.stream.content",
            "content is too large",
        ));
    }
    if inner.cards.guid_used(out_track_id, guid) {
        return success();
    }
    if matches!(card.state, CardState::Finished | CardState::Failed) {
        return Err(ApiError::param(
            "param.stream.cardFinished",
            "card is finished",
        ));
    }
    inner.cards.mark_guid(out_track_id, guid);
    let card = inner
        .cards
        .get_mut(out_track_id)
        .ok_or_else(card_not_found)?;
    card.param_map.insert(key.to_string(), value);
    card.updates.push(CardUpdate {
        at_ms,
        key: key.to_string(),
        content: content.to_string(),
        finalize,
        error,
        via: ApiKind::StreamingUpdate,
    });
    card.state = if error {
        CardState::Failed
    } else if finalize {
        CardState::Finished
    } else if card.state == CardState::Processing {
        CardState::Inputting
    } else {
        card.state
    };
    success()
}

/// `PUT /v1.0/card/instances {outTrackId, cardData:{cardParamMap}, cardUpdateOptions:{updateCardDataByKey}}`.
///
/// Without `updateCardDataByKey:true` the map replaces all card data; with it, keys are merged. A
/// `flowStatus` in the map sets the state ("1" Processing, "2" Inputting, "3" Finished, "5" Failed).
/// Allowed on finished and failed cards too. A value over
/// [`max_card_value_bytes`](super::EmulatorConfig::max_card_value_bytes) UTF-8 bytes refuses the whole
/// call (HTTP 400 `param.cardParamMapValueTooLarge`, see `params::card_param_map`); nothing is applied.
pub(crate) fn update_instance(
    shared: &Shared,
    inner: &mut Inner,
    at_ms: u64,
    body: &Value,
) -> Result<Value, ApiError> {
    let out_track_id = super::params::required_str(body, "outTrackId")?;
    let map = card_param_map(body, shared.config.max_card_value_bytes)?;
    let options = optional_object(body, "cardUpdateOptions")?;
    let by_key = options
        .map(|o| flag(o, "updateCardDataByKey"))
        .transpose()?
        .unwrap_or(false);
    let card = inner
        .cards
        .get_mut(out_track_id)
        .ok_or_else(card_not_found)?;
    if let Some(map) = map {
        apply_map(card, map, by_key, at_ms, ApiKind::UpdateCardInstance);
    }
    success()
}

/// Applies a `cardParamMap` to a card: merged by key or replacing all data, a `flowStatus` setting the
/// state, every value recorded as a [`CardUpdate`] `via` the given kind (shared by `PUT instances` and the
/// answers to card callbacks).
pub(crate) fn apply_map(
    card: &mut super::Card,
    map: std::collections::BTreeMap<String, String>,
    by_key: bool,
    at_ms: u64,
    via: ApiKind,
) {
    let state = map
        .get("flowStatus")
        .and_then(|v| CardState::from_flow_status(v));
    let (finalize, error) = (
        state == Some(CardState::Finished),
        state == Some(CardState::Failed),
    );
    for (key, content) in &map {
        let (key, content) = (key.clone(), content.clone());
        card.updates.push(CardUpdate {
            at_ms,
            key,
            content,
            finalize,
            error,
            via,
        });
    }
    if by_key {
        card.param_map.extend(map);
    } else {
        card.param_map = map;
    }
    if let Some(state) = state {
        card.state = state;
    }
}

fn is_markdown_key(shared: &Shared, template_id: &str, key: &str) -> bool {
    shared
        .config
        .templates
        .iter()
        .any(|t| t.id == template_id && t.markdown_keys.iter().any(|k| k == key))
}

/// `{"success":true,"result":true}`.
fn success() -> Result<Value, ApiError> {
    Ok(json!({ "success": true, "result": true }))
}
