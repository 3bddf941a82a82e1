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
