//! Record types: what the emulator saw (calls) and what users would see (cards, messages).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Which DingTalk API a request addressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ApiKind {
    /// `POST /v1.0/oauth2/accessToken`.
    AccessToken,
    /// `GET /gettoken` (oapi).
    LegacyAccessToken,
    /// `POST /v1.0/card/instances/createAndDeliver`.
    CreateAndDeliver,
    /// `POST /v1.0/card/instances`.
    CreateCard,
    /// `POST /v1.0/card/instances/deliver`.
    DeliverCard,
    /// `PUT /v1.0/card/streaming`.
    StreamingUpdate,
    /// `PUT /v1.0/card/instances`.
    UpdateCardInstance,
    /// `POST /robot/sendBySession?session=…` (a message's `sessionWebhook`).
    SessionWebhook,
    /// `POST /v1.0/robot/groupMessages/send`.
    GroupSend,
    /// `POST /v1.0/robot/oToMessages/batchSend`.
    OtoSend,
    /// `POST /v1.0/gateway/connections/open` (Stream mode: credentials → WebSocket endpoint + ticket).
    StreamConnectionOpen,
    /// `POST /v1.0/robot/messageFiles/download` (a user's file: `downloadCode` → temporary URL).
    MessageFileDownload,
    /// `GET` on a temporary file URL (the storage, not an OpenAPI call: no token, not metered).
    MessageFileGet,
    /// `POST /media/upload?access_token=…&type=…` (oapi, multipart): upload → `media_id`.
    MediaUpload,
    /// `POST /v1.0/card/callbacks/register` (HTTP-mode card callbacks: route key → URL).
    RegisterCardCallback,
    /// Not a request: a card callback (a pressed button) whose answer updated the card. Used as
    /// [`CardUpdate::via`] only.
    CardCallback,
    /// The emulator's own `/__emulator/*` control API (never recorded as a call).
    Control,
    /// Anything else (answered 404 `InvalidAction.NotFound`).
    Unknown,
}

impl ApiKind {
    /// True for the two token endpoints.
    pub fn is_token(self) -> bool {
        matches!(self, ApiKind::AccessToken | ApiKind::LegacyAccessToken)
    }
}

/// One request the emulator received.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Call {
    /// Arrival order, from 1.
    pub seq: u64,
    /// Arrival time in ms since the emulator started.
    pub at_ms: u64,
    /// Milliseconds from the request's arrival to its answer (an injected
    /// [`Latency`](super::FaultResponse::Latency) included). 0 in records from before this field.
    #[serde(default)]
    pub took_ms: u64,
    /// The API addressed.
    pub kind: ApiKind,
    /// HTTP method.
    pub method: String,
    /// Request path (without the query).
    pub path: String,
    /// HTTP status answered.
    pub status: u16,
    /// `code` of an error body, or a non-zero legacy `errcode` as a string.
    pub error_code: Option<String>,
    /// The JSON body; for GET requests the query parameters as an object; a non-JSON body as a string.
    pub request: serde_json::Value,
    /// The request's `outTrackId`, if any.
    pub out_track_id: Option<String>,
    /// The app the call was made for (from the credentials or the access token).
    pub app_key: Option<String>,
}

/// An AI card's lifecycle state (DOC:ai-card-template).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CardState {
    /// 处理中: delivered, nothing streamed yet (`flowStatus` "1").
    Processing,
    /// 输入中: streaming (`flowStatus` "2").
    Inputting,
    /// 完成 (`flowStatus` "3" or `isFinalize`).
    Finished,
    /// 失败 (`flowStatus` "5" or `isError`).
    Failed,
}

impl CardState {
    /// The state a `flowStatus` card variable selects; other values (e.g. "4") leave the state alone.
    pub fn from_flow_status(value: &str) -> Option<Self> {
        match value {
            "1" => Some(CardState::Processing),
            "2" => Some(CardState::Inputting),
            "3" => Some(CardState::Finished),
            "5" => Some(CardState::Failed),
            _ => None,
        }
    }
}

/// A card instance and its visible data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Card {
    /// The caller's `outTrackId`.
    pub out_track_id: String,
    /// The template it was created from.
    pub template_id: String,
    /// The `openSpaceId` it was delivered to (empty until delivered).
    pub open_space_id: String,
    /// Creation time in ms since the emulator started.
    pub created_at_ms: u64,
    /// The current card data (what the user sees, per variable).
    pub param_map: BTreeMap<String, String>,
    /// Lifecycle state.
    pub state: CardState,
    /// Every applied data change, in order.
    pub updates: Vec<CardUpdate>,
    /// True once at least one space received the card.
    pub delivered: bool,
}

impl Card {
    /// What the user sees for `key`: the latest value written by streaming or by an instances update
    /// (empty when the variable is unset).
    pub fn text(&self, key: &str) -> String {
        self.param_map.get(key).cloned().unwrap_or_default()
    }

    /// The buttons the card shows now, read from its data the way the two common AI card templates
    /// draw them (pressing one is [`press_card`](super::DingTalkEmulator::press_card) with the button's
    /// id):
    /// - `sys_full_json_obj`, a JSON object in a string (the "msg_buttons" template
    ///   `382e4302-551d-4880-bf29-a30acfab2e71.schema` that DingTalk's Python SDK fills): each entry of
    ///   its `msgButtons` array with a non-empty string `id` is a button labelled by its `text`. When
    ///   the object has an `order` array (the components the template draws, in order) without
    ///   `"msgButtons"`, no button is drawn; a value that is not a JSON object shows none;
    /// - `stop_action` `"true"` (the published AI card templates with a built-in stop button): a button
    ///   `btn_stop` labelled "停止".
    ///
    /// In that order; an id already listed is not repeated. Emulator choice: DingTalk publishes no
    /// schema for either variable, so only these shapes are read.
    pub fn buttons(&self) -> Vec<CardButton> {
        let mut buttons = json_buttons(self.param_map.get("sys_full_json_obj"));
        if self.param_map.get("stop_action").map(String::as_str) == Some("true")
            && !buttons.iter().any(|b| b.id == STOP_BUTTON_ID)
        {
            buttons.push(CardButton {
                id: STOP_BUTTON_ID.into(),
                text: "停止".into(),
            });
        }
        buttons
    }
}

/// The action id of the stop button of templates with `stop_action`.
pub const STOP_BUTTON_ID: &str = "btn_stop";

/// A button a card shows (see [`Card::buttons`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardButton {
    /// The action id a press reports (`cardPrivateData.actionIds`).
    pub id: String,
    /// Its label (empty when the data gives none).
    pub text: String,
}

/// The `msgButtons` of a `sys_full_json_obj` value (see [`Card::buttons`]).
fn json_buttons(value: Option<&String>) -> Vec<CardButton> {
    let Some(obj) = value.and_then(|v| serde_json::from_str::<serde_json::Value>(v).ok()) else {
        return Vec::new();
    };
    if let Some(order) = obj.get("order").and_then(serde_json::Value::as_array) {
        if !order.iter().any(|o| o.as_str() == Some("msgButtons")) {
            return Vec::new();
        }
    }
    let mut buttons: Vec<CardButton> = Vec::new();
    let entries = obj.get("msgButtons").and_then(serde_json::Value::as_array);
    for entry in entries.into_iter().flatten() {
        let Some(id) = entry.get("id").and_then(serde_json::Value::as_str) else {
            continue;
        };
        if id.is_empty() || buttons.iter().any(|b| b.id == id) {
            continue;
        }
        let text = entry.get("text").and_then(serde_json::Value::as_str);
        buttons.push(CardButton {
            id: id.to_string(),
            text: text.unwrap_or_default().to_string(),
        });
    }
    buttons
}

/// One applied change to one card variable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CardUpdate {
    /// When it was applied, in ms since the emulator started.
    pub at_ms: u64,
    /// The variable.
    pub key: String,
    /// The value sent (for an appending stream update: the appended piece).
    pub content: String,
    /// The update finished the card (`isFinalize`, or `flowStatus` "3").
    pub finalize: bool,
    /// The update failed the card (`isError`, or `flowStatus` "5").
    pub error: bool,
    /// [`ApiKind::StreamingUpdate`], [`ApiKind::UpdateCardInstance`], or [`ApiKind::CardCallback`] for
    /// data from the answer to a card callback.
    pub via: ApiKind,
}

/// A plain robot message that was accepted for delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SentMessage {
    /// When it was accepted, in ms since the emulator started.
    pub at_ms: u64,
    /// [`ApiKind::SessionWebhook`], [`ApiKind::GroupSend`] or [`ApiKind::OtoSend`].
    pub via: ApiKind,
    /// Conversation id (webhook, group send) or comma-joined user ids (batch send).
    pub target: String,
    /// `msgtype` (webhook) or `msgKey` (robot API), e.g. `markdown` / `sampleMarkdown`.
    pub msgtype: String,
    /// Markdown title, if any.
    pub title: Option<String>,
    /// The text (text `content` or markdown `text`).
    pub text: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(data: &[(&str, &str)]) -> Card {
        Card {
            out_track_id: "card_1".into(),
            template_id: "382e4302-551d-4880-bf29-a30acfab2e71.schema".into(),
            open_space_id: "dtv1.card//IM_GROUP.cidGroup==".into(),
            created_at_ms: 0,
            param_map: data
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            state: CardState::Inputting,
            updates: Vec::new(),
            delivered: true,
        }
    }

    fn button(id: &str, text: &str) -> CardButton {
        CardButton {
            id: id.into(),
            text: text.into(),
        }
    }

    const ORDER: &str = r#""order":["msgTitle","msgContent","staticMsgContent","msgTextList","msgImages","msgSlider","msgButtons"]"#;

    #[test]
    fn msg_buttons_are_read_from_sys_full_json_obj() {
        let with = format!(
            r#"{{{ORDER},"msgButtons":[{{"text":"停止回答","color":"gray","id":"btn_stop","request":true}},{{"text":"没有 id 的按钮"}},{{"text":"重新生成","id":"btn_retry"}},{{"text":"重复","id":"btn_stop"}}]}}"#
        );
        assert_eq!(
            card(&[("sys_full_json_obj", &with), ("msgContent", "正在回答……")]).buttons(),
            [
                button("btn_stop", "停止回答"),
                button("btn_retry", "重新生成")
            ]
        );
        // Without `order` every button with an id is drawn; without `text` the label is empty.
        let no_order = r#"{"msgButtons":[{"id":"btn_stop"}]}"#;
        assert_eq!(
            card(&[("sys_full_json_obj", no_order)]).buttons(),
            [button("btn_stop", "")]
        );
        // An `order` without "msgButtons" draws none, nor does a value that is not JSON.
        let hidden =
            r#"{"order":["msgContent"],"msgButtons":[{"text":"停止回答","id":"btn_stop"}]}"#;
        assert!(card(&[("sys_full_json_obj", hidden)]).buttons().is_empty());
        assert!(card(&[("sys_full_json_obj", "停止回答")])
            .buttons()
            .is_empty());
    }

    #[test]
    fn a_removed_msg_buttons_key_removes_the_button() {
        // The reply ended: the same object without `msgButtons`.
        let ended = format!("{{{ORDER}}}");
        let c = card(&[("sys_full_json_obj", &ended), ("msgContent", "回答完毕。")]);
        assert!(c.buttons().is_empty());
        assert!(card(&[("msgContent", "没有按钮的卡片")])
            .buttons()
            .is_empty());
    }

    #[test]
    fn stop_action_shows_a_stop_button_while_true() {
        let live = card(&[
            ("hasAction", "true"),
            ("stop_action", "true"),
            ("content", "正在输入"),
        ]);
        assert_eq!(live.buttons(), [button(STOP_BUTTON_ID, "停止")]);
        let ended = card(&[
            ("hasAction", "true"),
            ("stop_action", "false"),
            ("content", "已完成"),
        ]);
        assert!(ended.buttons().is_empty());
        // Both styles at once: the stop button once, with the msgButtons label.
        let both = card(&[
            ("stop_action", "true"),
            (
                "sys_full_json_obj",
                r#"{"msgButtons":[{"text":"停止回答","id":"btn_stop"}]}"#,
            ),
        ]);
        assert_eq!(both.buttons(), [button("btn_stop", "停止回答")]);
    }
}
