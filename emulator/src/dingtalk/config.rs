//! Emulator configuration: the app's credentials, its card templates, granted scopes and limits.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::stream::StreamConfig;

/// How the emulated DingTalk app is set up.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// The app's clientId (AppKey). Default `dingemulatorappkey`.
    pub app_key: String,
    /// The app's clientSecret (AppSecret). Default `emulator-app-secret`.
    pub app_secret: String,
    /// The robot code; for enterprise-internal bots it equals the AppKey (the default).
    pub robot_code: String,
    /// Access-token lifetime reported as `expireIn`. Default 7200 s.
    pub token_ttl: Duration,
    /// Calls allowed per one-second window; `None` disables flow control. Default `Some(20)`.
    pub qps_limit: Option<u32>,
    /// What a QPS budget covers. Default [`QpsScope::PerApi`].
    pub qps_scope: QpsScope,
    /// Card templates that exist for the app.
    pub templates: Vec<Template>,
    /// Permission scopes granted to the app's tokens.
    pub granted_scopes: Vec<String>,
    /// Largest accepted card variable value, in UTF-8 **bytes** (a CJK character is 3 bytes). Default 3000.
    ///
    /// Applies to the value a `PUT /v1.0/card/streaming` would leave (HTTP 400 `param.stream.content`) and
    /// to every `cardParamMap` value of `createAndDeliver`, `POST /v1.0/card/instances` and
    /// `PUT /v1.0/card/instances` (HTTP 400 `param.cardParamMapValueTooLarge`, an emulator choice of code).
    /// DingTalk documents its sizes in bytes: at most 1 K per streaming call and about 3 K in total for a
    /// variable, and cards are reported to break beyond about 3000 bytes of markdown; 3000 is that total.
    pub max_card_value_bytes: usize,
    /// Every Nth card call (createAndDeliver, instances create/deliver, streaming, `PUT` instances) that
    /// reaches its handler is applied and then answered HTTP 504, like
    /// [`FaultResponse::AppliedGatewayTimeout`](super::FaultResponse::AppliedGatewayTimeout).
    /// Deterministic (counted in arrival order), so runs are reproducible. Default `None` (off).
    pub applied_timeout_every: Option<u32>,
    /// Calls allowed per org (app) per calendar month (Beijing time); `None` = unmetered (the default).
    /// Over it, new-API calls get HTTP 403 `Forbidden.AccessDenied.ApiCountLimitForOrg` and session-webhook
    /// posts errcode 90020. See [`DingTalkEmulator::monthly_calls`](super::DingTalkEmulator::monthly_calls).
    pub monthly_call_quota: Option<u64>,
    /// Lifetime of a `sessionWebhook`. Default 90 min.
    pub session_webhook_ttl: Duration,
    /// Stream mode (WebSocket) behaviour.
    pub stream: StreamConfig,
    /// Files users send and media the app uploads: URL lifetime and upload limits.
    pub media: MediaConfig,
    /// How long an HTTP-mode card callback may take before the emulator gives up on it (and applies no
    /// card update from its answer). Default 2 s: DingTalk's card-callback guide ("事件回调", open.dingtalk.com
    /// `event-callback-card`) asks for an answer "在 2 秒内".
    pub card_callback_timeout: Duration,
    /// Keeps the records of a long session bounded: with `Some(n)` (an `n` of 0 counts as 1) the emulator
    /// keeps only the newest `n` [`calls`](super::DingTalkEmulator::calls), sent messages, stream frames and
    /// [`applied_timeouts`](super::DingTalkEmulator::applied_timeouts), and at most `n` cards (a finished or
    /// failed card is evicted before one still in progress), session webhooks (the oldest issued go; a
    /// reply uses its webhook within seconds), pushed robot messages awaiting or past their ACK, unanswered
    /// pings, unused and used Stream tickets, and closed Stream connections. An evicted card or webhook is
    /// unknown from then on (a card call gets the card-not-found error, a post errcode
    /// [`SESSION_INVALID_ERRCODE`](super::SESSION_INVALID_ERRCODE)). Default `None`: everything is kept.
    pub record_limit: Option<usize>,
}

/// Limits of the file and media APIs.
///
/// Upload limits are DingTalk's ("上传媒体文件", open.dingtalk.com `upload-media-files`): image ≤ 20 MB
/// (jpg, gif, png, bmp), voice ≤ 2 MB (amr, mp3, wav), video ≤ 20 MB (mp4), file ≤ 20 MB (doc, docx, xls,
/// xlsx, ppt, pptx, zip, pdf, rar). "MB" is read strictly as 10^6 bytes (the page does not say which).
#[derive(Debug, Clone)]
pub struct MediaConfig {
    /// Lifetime of a `downloadUrl` from `messageFiles/download`. Default 60 s (DingTalk publishes none;
    /// a short one catches clients that keep URLs instead of fetching at once).
    pub download_url_ttl: Duration,
    /// Largest `type=image` upload, in bytes. Default 20 000 000.
    pub max_image_bytes: usize,
    /// Largest `type=voice` upload. Default 2 000 000.
    pub max_voice_bytes: usize,
    /// Largest `type=video` upload. Default 20 000 000.
    pub max_video_bytes: usize,
    /// Largest `type=file` upload. Default 20 000 000.
    pub max_file_bytes: usize,
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self {
            download_url_ttl: super::files::DEFAULT_URL_TTL,
            max_image_bytes: 20_000_000,
            max_voice_bytes: 2_000_000,
            max_video_bytes: 20_000_000,
            max_file_bytes: 20_000_000,
        }
    }
}

/// The template id of the default published AI-card template.
pub const DEFAULT_TEMPLATE_ID: &str = "emulator-ai-card.schema";

impl Default for EmulatorConfig {
    fn default() -> Self {
        let app_key = "dingemulatorappkey".to_string();
        Self {
            robot_code: app_key.clone(),
            app_key,
            app_secret: "emulator-app-secret".into(),
            token_ttl: Duration::from_secs(7200),
            qps_limit: Some(20),
            qps_scope: QpsScope::PerApi,
            templates: vec![Template::published(DEFAULT_TEMPLATE_ID, &["content"])],
            granted_scopes: [
                "Card.Instance.Write",
                "Card.Streaming.Write",
                "qyapi_robot_sendmsg",
                "qyapi_base",
            ]
            .map(String::from)
            .to_vec(),
            max_card_value_bytes: 3000,
            applied_timeout_every: None,
            monthly_call_quota: None,
            session_webhook_ttl: Duration::from_secs(90 * 60),
            stream: StreamConfig::default(),
            media: MediaConfig::default(),
            card_callback_timeout: Duration::from_secs(2),
            record_limit: None,
        }
    }
}

/// A card template as registered in the DingTalk card platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    /// Template id, e.g. `675cde2f-….schema`.
    pub id: String,
    /// Only published templates can be instantiated (`param.templateUnpublished` otherwise).
    pub published: bool,
    /// Variables bound to a markdown (streaming) component; streaming them requires `isFull: true`.
    pub markdown_keys: Vec<String>,
}

impl Template {
    /// A published template with the given markdown keys.
    pub fn published(id: &str, markdown_keys: &[&str]) -> Self {
        Self {
            id: id.into(),
            published: true,
            markdown_keys: markdown_keys.iter().map(|k| k.to_string()).collect(),
        }
    }
}

/// What one QPS budget covers.
///
/// DingTalk's flow-control algorithm is unpublished. The emulator counts calls in fixed one-second windows
/// aligned to its own clock (Alibaba API-gateway style per-second flow control).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum QpsScope {
    /// One budget per app *and* API (the third-party figure "约每应用每接口 20 QPS"); rejected with
    /// `Forbidden.AccessDenied.QpsLimitForApi`.
    #[default]
    PerApi,
    /// One budget shared by all APIs of the app; rejected with `Forbidden.AccessDenied.QpsLimitForAppkeyAndApi`
    /// (the other code DingTalk is documented to use; which code maps to which budget is not published).
    App,
}

impl QpsScope {
    /// The error `code` of a call rejected by this budget.
    pub fn error_code(self) -> &'static str {
        match self {
            QpsScope::PerApi => "Forbidden.AccessDenied.QpsLimitForApi",
            QpsScope::App => "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi",
        }
    }
}
