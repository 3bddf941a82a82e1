//! Card callbacks: a user presses a button on an AI card (e.g. a stop button) and DingTalk tells the app.
//!
//! Documented behaviour (open.dingtalk.com "事件回调" `event-callback-card`, updated 2026-08-04, and
//! "注册卡片回调地址" `register-card-callback-address`; docs/dingtalk-events.md, "Card callbacks"):
//! - A card is interactive when it was created (`createAndDeliver` or `POST /v1.0/card/instances`) with
//!   `callbackType` `"STREAM"`, or `"HTTP"` plus a `callbackRouteKey`. The route key is resolved when a
//!   callback happens (re-registering a key "影响到其他使用该 callbackRouteKey 的卡片"), so it may be
//!   registered after the card was created.
//! - Stream mode: a `CALLBACK` frame on topic `/v1.0/card/instances/callback` to a connection that
//!   subscribed to it, `data` = `{"outTrackId","corpId","userId","userIdType","spaceType","spaceId",
//!   "type":"actionCallback","content":"{\"cardPrivateData\":{\"actionIds\":[…],\"params\":{…}}}",
//!   "extension":"{}"}` (the fields of the SDKs' `CardCallbackMessage` / `CardRequest`). The ACK's `data`
//!   is `{"response": <answer>}` (all three official SDKs wrap the handler's answer so) with the same
//!   ACK and redelivery rules as robot messages.
//! - HTTP mode: `POST /v1.0/card/callbacks/register {callbackRouteKey, callbackUrl, apiSecret?,
//!   forceUpdate?}` (permission `Card.Instance.Write`) → `{"success":true,"result":{"callbackUrl","apiSecret"}}`;
//!   errors 400 `param.callbackRouteKeyEmpty`, `param.callbackUrlEmpty`, `param.empty`, and 500
//!   `param.callbackRouteKeyExist` when the key is taken and `forceUpdate` is not true. A press POSTs
//!   `{"type":"actionCallback","outTrackId","corpId","userId","content"}` (exactly the documented fields) as
//!   `application/json` to the registered URL; with an `apiSecret` the headers
//!   `x-ddpaas-signature-timestamp: <epoch ms>` and `x-ddpaas-signature: Base64(HmacSHA256(key = apiSecret,
//!   message = timestamp))` come along ([`card_callback_signature`](crate::event::card_callback_signature)).
//!   The response body is the answer.
//! - The answer (both modes) may carry `cardData.cardParamMap` (public data, strings only),
//!   `userPrivateData.cardParamMap` (the presser's private data) and `cardUpdateOptions
//!   {updateCardDataByKey, updatePrivateDataByKey}`; DingTalk applies it to the card. The app must answer
//!   within 2 s ([`card_callback_timeout`](super::EmulatorConfig::card_callback_timeout)).
//!
//! Emulator choices where the pages are silent:
//! - without `callbackType` a card is not interactive, even with a `callbackRouteKey` (the pages ask for
//!   both); a `callbackType` other than `STREAM`/`HTTP` is HTTP 400 `InvalidParameter`, `HTTP` without a
//!   `callbackRouteKey` 400 `param.callbackRouteKeyEmpty`; a `callbackUrl` that is not an absolute
//!   http(s) URL is 400 `param.callbackUrlInvalid`;
//! - an existing key without `forceUpdate` is refused even when the registration is identical (a
//!   third-party report: re-registering at every start fails unless `forceUpdate` is set);
//! - the emulator only delivers HTTP callbacks to loopback hosts (anything else is recorded as failed),
//!   does not retry them, and applies nothing from an answer that is late, not 2xx or not JSON;
//! - an answer's `cardData.cardParamMap` is applied like `PUT /v1.0/card/instances` (replacing all data
//!   unless `updateCardDataByKey`; `flowStatus` sets the state; values over
//!   [`max_card_value_bytes`](super::EmulatorConfig::max_card_value_bytes) or not strings apply nothing),
//!   recorded as [`CardUpdate`](super::CardUpdate)s `via` [`ApiKind::CardCallback`]; `userPrivateData`
//!   is only recorded (the emulator keeps no per-user card data);
//! - a Stream ACK whose `data` is not `{"response": …}` applies nothing (noted on the press);
//! - `spaceType`/`spaceId` come from the card's first `openSpaceId` space, with `IM_ROBOT` and `IM_SINGLE`
//!   reported as `IM` (as in @soimy/dingtalk's captured callbacks); `extension` is `"{}"`.

use std::{
    collections::BTreeMap,
    sync::{Arc, Weak},
    time::Duration,
};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{
    card_create::parse_open_space_id,
    card_update::apply_map,
    params::{card_param_map, flag, optional_object, optional_str},
    reply::ApiError,
    state::{Inner, Shared},
    stream, ApiKind, DingTalkEmulator,
};
use crate::{bounded, event::card_callback_signature};

/// How a card reports presses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CallbackMode {
    /// `callbackType` `STREAM`: a frame on `/v1.0/card/instances/callback`.
    Stream,
    /// `callbackType` `HTTP`: a POST to the URL registered for the card's `callbackRouteKey`.
    Http,
}

/// A card's callback settings from its creation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CardCallbackSetting {
    pub(crate) mode: CallbackMode,
    pub(crate) route_key: Option<String>,
    pub(crate) user_id_type: i64,
}

/// Reads `callbackType`, `callbackRouteKey` and `userIdType` of a create call (see the module docs).
pub(crate) fn parse_setting(body: &Value) -> Result<Option<CardCallbackSetting>, ApiError> {
    let route_key = optional_str(body, "callbackRouteKey")?
        .filter(|k| !k.is_empty())
        .map(str::to_string);
    let user_id_type = body.get("userIdType").and_then(Value::as_i64).unwrap_or(1);
    let mode = match optional_str(body, "callbackType")? {
        None => return Ok(None),
        Some("STREAM") => CallbackMode::Stream,
        Some("HTTP") => {
            if route_key.is_none() {
                return Err(ApiError::param(
                    "param.callbackRouteKeyEmpty",
                    "callbackRouteKey is empty",
                ));
            }
            CallbackMode::Http
        }
        Some(_) => return Err(ApiError::invalid("callbackType")),
    };
    Ok(Some(CardCallbackSetting {
        mode,
        route_key,
        user_id_type,
    }))
}

/// A registered HTTP callback route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardCallbackRoute {
    /// `callbackRouteKey`.
    pub route_key: String,
    /// `callbackUrl`.
    pub callback_url: String,
    /// `apiSecret` (the signing key), if one was given.
    pub api_secret: Option<String>,
    /// When it was (last) registered, in ms since the emulator started.
    pub registered_at_ms: u64,
}

/// `POST /v1.0/card/callbacks/register` (see the module docs).
pub(crate) fn register(inner: &mut Inner, at_ms: u64, body: &Value) -> Result<Value, ApiError> {
    if body.as_object().is_none_or(|o| o.is_empty()) {
        return Err(ApiError::param("param.empty", "param.empty"));
    }
    let key = optional_str(body, "callbackRouteKey")?.unwrap_or_default();
    if key.is_empty() {
        return Err(ApiError::param(
            "param.callbackRouteKeyEmpty",
            "param.callbackRouteKeyEmpty",
        ));
    }
    let url = optional_str(body, "callbackUrl")?.unwrap_or_default();
    if url.is_empty() {
        return Err(ApiError::param(
            "param.callbackUrlEmpty",
            "param.callbackUrlEmpty",
        ));
    }
    let valid_url = reqwest::Url::parse(url)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
    if !valid_url {
        return Err(ApiError::param(
            "param.callbackUrlInvalid",
            "callbackUrl is invalid",
        ));
    }
    let secret = optional_str(body, "apiSecret")?
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    if inner.card_routes.contains_key(key) && !flag(body, "forceUpdate")? {
        return Err(ApiError::new(
            500,
            "param.callbackRouteKeyExist",
            "param.callbackRouteKeyExist",
        ));
    }
    inner.card_routes.insert(
        key.to_string(),
        CardCallbackRoute {
            route_key: key.to_string(),
            callback_url: url.to_string(),
            api_secret: secret.clone(),
            registered_at_ms: at_ms,
        },
    );
    Ok(
        json!({ "success": true, "result": { "callbackUrl": url, "apiSecret": secret.unwrap_or_default() } }),
    )
}

/// What [`DingTalkEmulator::press_card`] started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PressReceipt {
    /// The press ([`CardPress::seq`]).
    pub press: u64,
    /// How the callback goes out.
    pub mode: CallbackMode,
    /// Stream mode: the frame's `headers.messageId` (the same on every redelivery).
    pub message_id: Option<String>,
    /// HTTP mode: the URL the callback is POSTed to.
    pub callback_url: Option<String>,
}

/// Why a press could not happen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PressError {
    /// No card with that `outTrackId`.
    UnknownCard,
    /// The card was never delivered, so nobody sees it.
    NotDelivered,
    /// The card was created without `callbackType`: it has nothing to press.
    NotInteractive,
    /// `callbackType` `HTTP`, but nothing is registered for its `callbackRouteKey` (the callback is lost,
    /// as at DingTalk).
    RouteKeyNotRegistered(String),
    /// `params` must be a JSON object (or null for none).
    InvalidParams,
}

impl std::fmt::Display for PressError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PressError::UnknownCard => write!(f, "no card with that outTrackId"),
            PressError::NotDelivered => write!(f, "the card was never delivered"),
            PressError::NotInteractive => write!(f, "the card was created without callbackType"),
            PressError::RouteKeyNotRegistered(k) => {
                write!(f, "no callback URL is registered for callbackRouteKey {k}")
            }
            PressError::InvalidParams => write!(f, "params must be a JSON object"),
        }
    }
}

impl std::error::Error for PressError {}

/// Where a press stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PressStatus {
    /// Sent (or waiting for a connection), not answered yet.
    Pending,
    /// ACKed (Stream) or answered 2xx (HTTP).
    Answered,
    /// The HTTP callback failed (refused, not 2xx, timed out, not loopback).
    Failed,
}

/// One press of a card button and what came of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CardPress {
    /// Order of pressing, from 1.
    pub seq: u64,
    /// When, in ms since the emulator started.
    pub at_ms: u64,
    /// The card.
    pub out_track_id: String,
    /// Who pressed.
    pub user_id: String,
    /// `cardPrivateData.actionIds`.
    pub action_ids: Vec<String>,
    /// `cardPrivateData.params`.
    pub params: Value,
    /// Stream or HTTP.
    pub mode: CallbackMode,
    /// Stream: the frame's `messageId`.
    pub message_id: Option<String>,
    /// HTTP: the URL called.
    pub callback_url: Option<String>,
    /// Where it stands.
    pub status: PressStatus,
    /// HTTP: the status the app answered.
    pub http_status: Option<u16>,
    /// The app's answer (Stream: the ACK data's `response`; HTTP: the response body as JSON).
    pub response: Option<Value>,
    /// True when the answer's `cardData.cardParamMap` was applied to the card.
    pub applied: bool,
    /// Why nothing was applied or the callback failed, when that is so.
    pub detail: Option<String>,
    /// When the answer came, in ms since the emulator started.
    pub answered_at_ms: Option<u64>,
}

/// The corp id of the emulated app (as in robot messages).
const CORP_ID: &str = "dingemulatorcorp0001";

impl DingTalkEmulator {
    /// A user presses a button of a card: `action_id` is the button's id (e.g. `btn_stop`), `params` its
    /// configured parameters (a JSON object, or null). For a card created with `callbackType` `STREAM` a
    /// `CALLBACK` frame goes out on `/v1.0/card/instances/callback` to the newest connection subscribed
    /// to that topic (or waits for one), with the ACK and redelivery rules of robot messages; for
    /// `HTTP` the callback is POSTed to the URL registered for the card's `callbackRouteKey`. Returns at
    /// once; the answer and its effect on the card show in [`card_presses`](Self::card_presses). See the
    /// `card_callbacks` module docs for the shapes.
    pub fn press_card(
        &self,
        out_track_id: &str,
        user_id: &str,
        action_id: &str,
        params: Value,
    ) -> Result<PressReceipt, PressError> {
        press(&self.shared, out_track_id, user_id, action_id, params)
    }

    /// Every card press (the newest [`record_limit`](super::EmulatorConfig::record_limit) ones), in order.
    pub fn card_presses(&self) -> Vec<CardPress> {
        self.shared.lock().presses.iter().cloned().collect()
    }

    /// The registered HTTP card-callback routes, by route key.
    pub fn card_callback_routes(&self) -> Vec<CardCallbackRoute> {
        self.shared.lock().card_routes.values().cloned().collect()
    }
}

/// Presses a button (shared by the handle and the control API).
pub(crate) fn press(
    shared: &Arc<Shared>,
    out_track_id: &str,
    user_id: &str,
    action_id: &str,
    params: Value,
) -> Result<PressReceipt, PressError> {
    let params = match params {
        Value::Null => json!({}),
        v @ Value::Object(_) => v,
        _ => return Err(PressError::InvalidParams),
    };
    let at_ms = shared.clock.now_ms();
    let mut inner = shared.lock();
    let card = inner
        .cards
        .get(out_track_id)
        .ok_or(PressError::UnknownCard)?;
    if !card.delivered {
        return Err(PressError::NotDelivered);
    }
    let (space_type, space_id) = parse_open_space_id(&card.open_space_id)
        .ok()
        .and_then(|spaces| spaces.into_iter().next())
        .map(|(kind, id)| match kind.as_str() {
            "IM_ROBOT" | "IM_SINGLE" => ("IM".to_string(), id),
            _ => (kind, id),
        })
        .unwrap_or_default();
    let setting = inner
        .cards
        .callback(out_track_id)
        .cloned()
        .ok_or(PressError::NotInteractive)?;
    let route = match (&setting.mode, &setting.route_key) {
        (CallbackMode::Http, Some(key)) => Some(
            inner
                .card_routes
                .get(key)
                .cloned()
                .ok_or_else(|| PressError::RouteKeyNotRegistered(key.clone()))?,
        ),
        _ => None,
    };
    let content =
        json!({ "cardPrivateData": { "actionIds": [action_id], "params": params } }).to_string();
    inner.next_press += 1;
    let seq = inner.next_press;
    let limit = inner.limit();
    bounded::push(
        &mut inner.presses,
        CardPress {
            seq,
            at_ms,
            out_track_id: out_track_id.to_string(),
            user_id: user_id.to_string(),
            action_ids: vec![action_id.to_string()],
            params,
            mode: setting.mode,
            message_id: None,
            callback_url: route.as_ref().map(|r| r.callback_url.clone()),
            status: PressStatus::Pending,
            http_status: None,
            response: None,
            applied: false,
            detail: None,
            answered_at_ms: None,
        },
        limit,
    );
    drop(inner);
    let receipt = match route {
        None => {
            let data = json!({
                "outTrackId": out_track_id, "corpId": CORP_ID, "userId": user_id,
                "userIdType": setting.user_id_type, "spaceType": space_type, "spaceId": space_id,
                "type": "actionCallback", "content": content, "extension": "{}",
            })
            .to_string();
            let message_id = stream::push_card_callback(shared, seq, data);
            update_press(shared, seq, |p| p.message_id = Some(message_id.clone()));
            PressReceipt {
                press: seq,
                mode: CallbackMode::Stream,
                message_id: Some(message_id),
                callback_url: None,
            }
        }
        Some(route) => {
            let body = json!({
                "type": "actionCallback", "outTrackId": out_track_id, "corpId": CORP_ID,
                "userId": user_id, "content": content,
            })
            .to_string();
            let task = post(
                Arc::downgrade(shared),
                seq,
                route.clone(),
                body,
                shared.config.card_callback_timeout,
            );
            match shared.runtime.get() {
                Some(handle) => {
                    handle.spawn(task);
                }
                None => log::error!("dingtalk emulator: no runtime for a card callback"),
            }
            PressReceipt {
                press: seq,
                mode: CallbackMode::Http,
                message_id: None,
                callback_url: Some(route.callback_url),
            }
        }
    };
    shared.feed.bump();
    Ok(receipt)
}

fn update_press(shared: &Shared, seq: u64, change: impl FnOnce(&mut CardPress)) {
    if let Some(p) = shared.lock().presses.iter_mut().find(|p| p.seq == seq) {
        change(p);
    }
    shared.feed.bump();
}

/// Delivers an HTTP-mode callback and applies the answer.
async fn post(
    shared: Weak<Shared>,
    seq: u64,
    route: CardCallbackRoute,
    body: String,
    timeout: Duration,
) {
    let loopback = reqwest::Url::parse(&route.callback_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .is_some_and(|h| {
            h.trim_matches(|c| c == '[' || c == ']')
                .parse::<std::net::IpAddr>()
                .map_or(h.eq_ignore_ascii_case("localhost"), |ip| ip.is_loopback())
        });
    let outcome = if loopback {
        send(&route, body, timeout).await
    } else {
        Err("not delivered: the emulator only calls loopback URLs".to_string())
    };
    let Some(shared) = shared.upgrade() else {
        return;
    };
    let now = shared.clock.now_ms();
    let mut inner = shared.lock();
    match outcome {
        Ok((status, text)) => {
            let response = serde_json::from_str::<Value>(&text).ok();
            let (applied, detail) = match (&response, (200..300).contains(&status)) {
                (_, false) => (false, Some(format!("answered HTTP {status}"))),
                (None, true) if text.trim().is_empty() => (false, None),
                (None, true) => (false, Some("the answer is not JSON".to_string())),
                (Some(r), true) => apply(&shared, &mut inner, seq, r, now),
            };
            if let Some(p) = inner.presses.iter_mut().find(|p| p.seq == seq) {
                p.status = if (200..300).contains(&status) {
                    PressStatus::Answered
                } else {
                    PressStatus::Failed
                };
                p.http_status = Some(status);
                p.response = response;
                p.applied = applied;
                p.detail = detail;
                p.answered_at_ms = Some(now);
            }
        }
        Err(detail) => {
            if let Some(p) = inner.presses.iter_mut().find(|p| p.seq == seq) {
                p.status = PressStatus::Failed;
                p.detail = Some(detail);
            }
        }
    }
    drop(inner);
    shared.feed.bump();
}

/// POSTs the callback with DingTalk's headers; `(status, body)` or why it failed.
async fn send(
    route: &CardCallbackRoute,
    body: String,
    timeout: Duration,
) -> Result<(u16, String), String> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(timeout)
        .build()
        .map_err(|e| e.to_string())?;
    let mut request = client
        .post(&route.callback_url)
        .header("content-type", "application/json")
        .body(body);
    if let Some(secret) = &route.api_secret {
        let ts = crate::clock::epoch_ms_now();
        request = request
            .header("x-ddpaas-signature-timestamp", ts.to_string())
            .header("x-ddpaas-signature", card_callback_signature(secret, ts));
    }
    let response = request.send().await.map_err(|e| describe(&e, timeout))?;
    let status = response.status().as_u16();
    let text = response.text().await.map_err(|e| describe(&e, timeout))?;
    Ok((status, text))
}

fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        format!("no answer within {} ms", timeout.as_millis())
    } else {
        format!("failed: {e}")
    }
}

/// A Stream ACK of press `seq` arrived (first valid one): read `{"response": …}` and apply it.
pub(crate) fn stream_acked(
    shared: &Shared,
    inner: &mut Inner,
    seq: u64,
    data: Option<&str>,
    now: u64,
) {
    let parsed = data.and_then(|d| serde_json::from_str::<Value>(d).ok());
    let (response, applied, detail) = match parsed.as_ref().and_then(|v| v.as_object()) {
        Some(o) if o.contains_key("response") => {
            let response = o.get("response").cloned().unwrap_or(Value::Null);
            let (applied, detail) = if response.is_object() {
                apply(shared, inner, seq, &response, now)
            } else {
                (false, None)
            };
            (Some(response), applied, detail)
        }
        _ => (
            None,
            false,
            Some("the ACK data is not {\"response\": …}; nothing applied".to_string()),
        ),
    };
    if let Some(p) = inner.presses.iter_mut().find(|p| p.seq == seq) {
        p.status = PressStatus::Answered;
        p.response = response;
        p.applied = applied;
        p.detail = detail;
        p.answered_at_ms = Some(now);
    }
}

/// Applies an answer's `cardData.cardParamMap` to the pressed card; `(applied, why not)`.
fn apply(
    shared: &Shared,
    inner: &mut Inner,
    seq: u64,
    response: &Value,
    now: u64,
) -> (bool, Option<String>) {
    let Some(out_track_id) = inner
        .presses
        .iter()
        .find(|p| p.seq == seq)
        .map(|p| p.out_track_id.clone())
    else {
        return (false, Some("the press was evicted".into()));
    };
    let map: BTreeMap<String, String> =
        match card_param_map(response, shared.config.max_card_value_bytes) {
            Ok(Some(map)) => map,
            Ok(None) => return (false, None),
            Err(e) => return (false, Some(format!("cardData refused: {}", e.describe()))),
        };
    let by_key = optional_object(response, "cardUpdateOptions")
        .ok()
        .flatten()
        .and_then(|o| flag(o, "updateCardDataByKey").ok())
        .unwrap_or(false);
    match inner.cards.get_mut(&out_track_id) {
        Some(card) => {
            apply_map(card, map, by_key, now, ApiKind::CardCallback);
            (true, None)
        }
        None => (false, Some("the card is gone".into())),
    }
}
