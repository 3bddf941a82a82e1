//! The manifest's typed model. Every field but the core ones (`name`, `version`,
//! `gateway.endpoint`, `dingtalk.app_key`, `dingtalk.app_secret`) has a default; the doc comment
//! of each field is its documentation (mirrored in docs/manifest.md).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::secret::Secret;

/// `openclaw-skill.yaml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Skill name, e.g. `dingtalk-bot`.
    pub name: String,
    /// Skill version, a string such as `"1.0"`.
    pub version: String,
    /// Path of the plugin library, relative to the manifest (read by hosts). Default:
    /// `libopenclaw_dingtalk.so` next to the manifest.
    #[serde(default)]
    pub library: Option<String>,
    /// The OpenClaw Gateway.
    pub gateway: GatewayConfig,
    /// The DingTalk app and robot (one app; write `apps:` instead for several). Read through
    /// [`Manifest::apps`] once loaded.
    #[serde(default)]
    pub dingtalk: Option<DingTalkConfig>,
    /// Several DingTalk apps (robots) served by this one process, each with its own
    /// credentials, robot, card template, Stream connection, learned budget, quota,
    /// conversations and sessions. Each entry has the keys of `dingtalk:` plus a required
    /// `name`. Once loaded this holds every app, the `dingtalk:` block's included (first).
    #[serde(default)]
    pub apps: Vec<DingTalkConfig>,
    /// How answers reach the card.
    #[serde(default)]
    pub streaming: StreamingConfig,
    /// Conversations, sessions and access.
    #[serde(default)]
    pub conversation: ConversationConfig,
    /// Pictures and files users send: whether they are read, and the limits.
    #[serde(default)]
    pub attachments: AttachmentsConfig,
    /// Ordered rules that send a message to a gateway agent other than `gateway.model` (and
    /// with another preamble); the first that matches wins, a message no rule matches uses
    /// `gateway.model`. Default none.
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    /// Prompts the robot answers on its own at set times, each into a new card in its groups
    /// and 1:1 chats; a schedule may first collect tagged messages (the stand-up). Default none.
    #[serde(default)]
    pub schedules: Vec<ScheduleConfig>,
    /// How the host receives DingTalk events (read by hosts; validated here).
    #[serde(default)]
    pub ingress: IngressConfig,
    /// How the plugin and hosts reach the network (corporate CAs; proxies come from the
    /// environment).
    #[serde(default)]
    pub network: NetworkConfig,
    /// State several hosts of the same apps share through Redis: the DingTalk call budget,
    /// dedup, session generations, the callback replay cache and the card journal's leases.
    /// Default none (every host keeps its own, in-process). `shared_state: redis://…` is short
    /// for `shared_state: {url: redis://…}`.
    #[serde(default)]
    pub shared_state: Option<SharedStateConfig>,
    /// Directory for the in-flight card journal and session state, relative to the
    /// manifest. Default `.openclaw-dingtalk`.
    #[serde(default = "default_state_dir")]
    pub state_dir: String,
    /// The manifest's directory (set by the loader, not a key).
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// One `routes:` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// The route's name, for log lines and `info` (unique).
    pub name: String,
    /// What a message must be for the route to take it (every condition given must hold;
    /// none given: every message).
    #[serde(default, rename = "match")]
    pub when: RouteMatch,
    /// The agent target sent as `model`. Default `gateway.model`.
    #[serde(default)]
    pub model: Option<String>,
    /// System text sent with the message instead of `conversation.preamble`. Default
    /// `conversation.preamble`.
    #[serde(default)]
    pub preamble: Option<String>,
}

/// `routes[].match:` (all given conditions must hold).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteMatch {
    /// A leading keyword, e.g. `/hr`: the message's text must start with it, followed by a
    /// space or the end; it is stripped before the text goes to the model.
    #[serde(default)]
    pub keyword: Option<String>,
    /// The DingTalk apps (app keys) whose messages match.
    #[serde(default)]
    pub apps: Option<Vec<String>>,
    /// The conversations (`cid…`) whose messages match.
    #[serde(default)]
    pub conversations: Option<Vec<String>>,
    /// `group` or `direct` (1:1).
    #[serde(default)]
    pub chat: Option<ChatKind>,
    /// The senders (staff ids) whose messages match.
    #[serde(default)]
    pub senders: Option<Vec<String>>,
}

/// A kind of chat (`routes[].match.chat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatKind {
    /// A group chat.
    Group,
    /// A 1:1 chat with the robot.
    Direct,
}

/// One `schedules:` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    /// The schedule's name, for log lines and the state it keeps (unique).
    pub name: String,
    /// The app (its `name`) whose robot posts the cards and, for a collecting schedule, hears
    /// the tagged messages. Required with several apps; default: the only app.
    #[serde(default)]
    pub app: Option<String>,
    /// When: a cron pattern of 5 fields (minute hour day-of-month month day-of-week) or 6
    /// (seconds first), e.g. `30 9 * * 1-5` (9:30 on weekdays).
    pub cron: String,
    /// The IANA time zone the pattern is read in. Default `Asia/Shanghai`.
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
    /// Groups (`openConversationId`, `cid…`) that get a card at each tick.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Users (staff ids) whose 1:1 chat with the robot gets a card at each tick.
    #[serde(default)]
    pub users: Vec<String>,
    /// What the model is asked at each tick.
    pub prompt: String,
    /// The route (by name) whose agent answers. Default: `gateway.model`.
    #[serde(default)]
    pub route: Option<String>,
    /// A tick missed while the process was down is run at the next start when it is at most
    /// this many seconds old (only the latest one); older ones are skipped with a log line.
    /// Default 900.
    #[serde(default = "default_catch_up")]
    pub catch_up_secs: u64,
    /// Collect the groups' tagged messages between two ticks and summarize them at the tick.
    #[serde(default)]
    pub collect: Option<CollectConfig>,
}

/// `schedules[].collect:` (the stand-up).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectConfig {
    /// The tag a message must contain (with the @-mention of the robot) to be collected,
    /// e.g. `#standup`; it is removed from the collected text.
    pub tag: String,
    /// The reply to a collected message. Default: a short bilingual note.
    #[serde(default = "default_collect_ack")]
    pub ack: String,
    /// What a tick with nothing collected does: `note` (a short message to the group) or
    /// `skip` (nothing). Default `note`.
    #[serde(default)]
    pub when_empty: WhenEmpty,
    /// Most messages kept per group between two ticks; later ones are answered that the
    /// list is full. Default 200.
    #[serde(default = "default_max_collected")]
    pub max_messages: usize,
}

/// `schedules[].collect.when_empty`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WhenEmpty {
    /// A short message to the group says nothing was collected.
    #[default]
    Note,
    /// Nothing is posted.
    Skip,
}

/// `gateway:`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// Base URL of the OpenClaw Gateway; `/v1/chat/completions` is appended.
    pub endpoint: String,
    /// Bearer token (`gateway.auth.token`). May be empty for a gateway without auth.
    #[serde(default)]
    pub auth_token: Secret,
    /// Agent target sent as `model`: `openclaw`, `openclaw/<agentId>`. Default `openclaw/main`.
    #[serde(default = "default_model")]
    pub model: String,
    /// Ask for the usage chunk (`stream_options.include_usage`). Default true.
    #[serde(default = "yes")]
    pub include_usage: bool,
    /// TCP/TLS connect deadline. Default 10 000 ms.
    #[serde(default = "default_connect_ms")]
    pub connect_timeout_ms: u64,
    /// Deadline for the response head after the request was sent. Default 30 000 ms.
    #[serde(default = "default_first_byte_ms")]
    pub first_byte_timeout_ms: u64,
    /// Longest silence between two SSE events. The real gateway stays silent for up to ~95 s
    /// while it retries a failing upstream, so the default is 120 000 ms.
    #[serde(default = "default_idle_ms")]
    pub idle_timeout_ms: u64,
    /// Deadline for a whole reply. Default 600 000 ms.
    #[serde(default = "default_total_ms")]
    pub total_timeout_ms: u64,
    /// Retries of a request that failed before any content arrived (connect errors, 429,
    /// 5xx), with exponential backoff. Default 2.
    #[serde(default = "default_retries")]
    pub retries: u32,
}

/// `dingtalk:`, or one entry of `apps:`: a DingTalk app and its robot.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DingTalkConfig {
    /// The app's name: routes (`match.apps`), schedules (`app`), `openclaw-skill send --app`,
    /// logs, `info` and (with several apps) session keys name it. Letters, digits, `-`, `_`.
    /// Required under `apps:`; under `dingtalk:` it defaults to `default`.
    #[serde(default)]
    pub name: String,
    /// AppKey (clientId).
    pub app_key: String,
    /// AppSecret (clientSecret).
    pub app_secret: Secret,
    /// Robot code; for enterprise-internal robots it equals the AppKey (used when empty).
    #[serde(default)]
    pub robot_code: String,
    /// New OpenAPI base. Default `https://api.dingtalk.com`.
    #[serde(default = "default_api_base")]
    pub api_base_url: String,
    /// Legacy OpenAPI base; session webhooks must live on this origin or on `api_base_url`.
    /// Default `https://oapi.dingtalk.com`.
    #[serde(default = "default_oapi_base")]
    pub oapi_base_url: String,
    /// AI Card template id. Default: DingTalk's official AI markdown card template
    /// `382e4302-551d-4880-bf29-a30acfab2e71.schema`; operators should publish their own.
    #[serde(default = "default_template")]
    pub card_template_id: String,
    /// The template's markdown variable that receives the streamed answer. Default `msgContent`.
    #[serde(default = "default_content_key")]
    pub card_content_key: String,
    /// Ceiling of the call rate of each DingTalk API (card creation, streaming updates,
    /// card data updates, robot sends, token), in calls per second. DingTalk limits each app
    /// per API at rates it does not publish; the plugin learns the real rate from
    /// `403 …QpsLimit…` answers and stays under it. Default 20.
    #[serde(default = "default_qps")]
    pub api_qps: u32,
    /// Optional ceiling of all DingTalk calls of the app together, in calls per second, for
    /// tenants whose limit is app-wide. Default: none (an app-wide limit is still learned
    /// when DingTalk answers 403 while several APIs are busy).
    #[serde(default)]
    pub app_qps: Option<u32>,
    /// Optional monthly DingTalk API call quota of the organisation (free tiers report
    /// 5 000). The plugin counts its calls per calendar month (China time), warns at 80 %,
    /// spaces card updates out as the quota runs low, and from 95 % sends only card creation
    /// and the final update. Default: none (calls are still counted).
    #[serde(default)]
    pub monthly_call_quota: Option<u64>,
    /// Also set the template's `flowStatus` variable when a card ends (`PUT /v1.0/card/instances`,
    /// one more call per reply), for templates that show a status from it, such as the
    /// default template. Default true.
    #[serde(default = "yes")]
    pub card_flow_status: bool,
    /// Which card variables show the stop button while an answer streams: `msg_buttons`
    /// (the `msgButtons` list inside `sys_full_json_obj`, as the default template has),
    /// `stop_action` (`hasAction`/`stop_action`, as other published AI Card templates have) or
    /// `none` (the card tells the user to send `/stop`). Default: `msg_buttons` with the
    /// default template, `none` with any other.
    #[serde(default)]
    pub card_stop_button: Option<StopButtonStyle>,
}

/// How a card template shows the stop button (`dingtalk.card_stop_button`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopButtonStyle {
    /// A `msgButtons` entry in the `sys_full_json_obj` variable.
    MsgButtons,
    /// The `hasAction` and `stop_action` variables.
    StopAction,
    /// No button: the card says to send `/stop`.
    None,
}

/// `streaming:`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamingConfig {
    /// Stream into an AI Card (true) or send one markdown reply at the end (false). Default true.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Minimum time between two updates of one card. Default 300 ms.
    #[serde(default = "default_interval")]
    pub card_update_interval_ms: u64,
    /// Largest card value in UTF-8 bytes (DingTalk limits card values in bytes, about 3 KB;
    /// a Chinese character takes 3); a longer answer continues in a follow-up card.
    /// Default 2800.
    #[serde(default = "default_card_bytes")]
    pub card_max_bytes: usize,
    /// How long creating a card may take (DingTalk rate limits, 5xx answers, timeouts, all
    /// retried) before the reply falls back to a markdown message. Default 30 000 ms.
    #[serde(default = "default_create_timeout")]
    pub card_create_timeout_ms: u64,
    /// Retired: replaced by `card_max_bytes` (read only to say so).
    #[serde(default)]
    pub card_max_chars: Option<serde_yaml::Value>,
    /// Show the model's reasoning above the answer in the card. Default false.
    #[serde(default)]
    pub show_reasoning: bool,
    /// Upload the `data:` images of the answer (`![alt](data:image/png;base64,…)`) to DingTalk
    /// and show them in the card by their media id; when false they are replaced by a note.
    /// Default true.
    #[serde(default = "yes")]
    pub upload_images: bool,
}

impl Default for StreamingConfig {
    fn default() -> Self {
        StreamingConfig {
            enabled: true,
            card_update_interval_ms: default_interval(),
            card_max_bytes: default_card_bytes(),
            card_create_timeout_ms: default_create_timeout(),
            card_max_chars: None,
            show_reasoning: false,
            upload_images: true,
        }
    }
}

/// `conversation:`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConversationConfig {
    /// Text put before every message sent to the gateway (e.g. house rules). Default empty.
    #[serde(default)]
    pub preamble: String,
    /// In groups, one gateway session per sender instead of one per group. Default false.
    #[serde(default)]
    pub per_sender_sessions: bool,
    /// Who may talk to the robot.
    #[serde(default)]
    pub access: AccessConfig,
    /// How long a message id is remembered to drop redeliveries. Default 600 s.
    #[serde(default = "default_dedup_ttl")]
    pub dedup_ttl_secs: u64,
    /// At most this many remembered message ids. Default 10 000.
    #[serde(default = "default_dedup_capacity")]
    pub dedup_capacity: usize,
    /// Messages of one conversation that may wait behind the reply being answered; one more
    /// gets `busy_message` instead of a card. Default 5.
    #[serde(default = "default_max_queued")]
    pub max_queued: usize,
    /// Messages one sender may send per minute (across conversations); more get
    /// `busy_message`. Default 20.
    #[serde(default = "default_sender_rate")]
    pub sender_messages_per_minute: u32,
    /// What a user over either limit is told (at most once per conversation every 30 s).
    /// Default: a short bilingual notice.
    #[serde(default = "default_busy_message")]
    pub busy_message: String,
}

impl Default for ConversationConfig {
    fn default() -> Self {
        ConversationConfig {
            preamble: String::new(),
            per_sender_sessions: false,
            access: AccessConfig::default(),
            dedup_ttl_secs: default_dedup_ttl(),
            dedup_capacity: default_dedup_capacity(),
            max_queued: default_max_queued(),
            sender_messages_per_minute: default_sender_rate(),
            busy_message: default_busy_message(),
        }
    }
}

/// `attachments:`: pictures and files users send (or quote). Pictures go to the gateway as
/// image parts of the user message; text files go into the text; other files are named to
/// the model and the card says what was not read.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachmentsConfig {
    /// Send pictures to the model. Turn off for a text-only model: a lone picture then gets
    /// the polite "text only" reply, and a picture inside rich text stays a `[图片]`
    /// placeholder. Default true.
    #[serde(default = "yes")]
    pub images: bool,
    /// Read files (text files into the prompt, others named as not read). Off: a file gets
    /// the polite "text only" reply. Default true.
    #[serde(default = "yes")]
    pub files: bool,
    /// Largest picture or file downloaded; the download stops reading past it. Default
    /// 20 MiB (20 971 520 bytes).
    #[serde(default = "default_max_download")]
    pub max_download_bytes: u64,
    /// Deadline for fetching one picture or file (the download link from DingTalk and the
    /// download itself); a late one is left out and the reply goes on. Default 15 000 ms.
    #[serde(default = "default_download_timeout")]
    pub download_timeout_ms: u64,
    /// Largest picture sent to the gateway (the gateway's own default cap is 10 MiB per
    /// picture, 20 MiB per request body). Default 5 MiB (5 242 880 bytes).
    #[serde(default = "default_max_image")]
    pub max_image_bytes: u64,
    /// Most text of one file put into the prompt, in UTF-8 bytes; the rest is cut at a
    /// character boundary and the model is told how much was left out. Default 64 KiB
    /// (65 536 bytes).
    #[serde(default = "default_max_file_text")]
    pub max_file_text_bytes: u64,
}

impl Default for AttachmentsConfig {
    fn default() -> Self {
        AttachmentsConfig {
            images: true,
            files: true,
            max_download_bytes: default_max_download(),
            download_timeout_ms: default_download_timeout(),
            max_image_bytes: default_max_image(),
            max_file_text_bytes: default_max_file_text(),
        }
    }
}

/// `conversation.access:`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessConfig {
    /// `open` (default) or `allowlist`.
    #[serde(default)]
    pub policy: AccessPolicy,
    /// With `allowlist`: staff ids allowed in 1:1 chats.
    #[serde(default)]
    pub allowed_senders: Vec<String>,
    /// With `allowlist`: group conversation ids (`cid…`) allowed.
    #[serde(default)]
    pub allowed_groups: Vec<String>,
    /// What a refused user is told. Default: a short bilingual notice.
    #[serde(default = "default_refusal")]
    pub refusal_message: String,
}

/// Access policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessPolicy {
    /// Everyone who can reach the robot.
    #[default]
    Open,
    /// Only the listed senders (1:1) and groups.
    Allowlist,
}

/// `shared_state:` (written as a mapping, or as its URL alone).
#[derive(Debug, Clone)]
pub struct SharedStateConfig {
    /// `redis://[user:password@]host:port[/db]` or `rediss://…` (TLS); the password best comes
    /// from the environment (`${REDIS_PASSWORD}`). Never logged with its credentials.
    pub url: String,
    /// How many hosts share the apps. While Redis is unreachable each host keeps to this share
    /// of every DingTalk budget (the configured or learned rate divided by it). Default 2.
    pub expected_hosts: u32,
    /// The prefix of every Redis key. Default `openclaw-dingtalk`.
    pub key_prefix: String,
    /// How long a card stays its host's without a renewal, in ms: when a host dies, another
    /// host finalizes its cards once their leases expired. Default 15000.
    pub lease_ms: u64,
}

/// `shared_state:` as a mapping.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SharedStateKeys {
    url: String,
    #[serde(default = "default_expected_hosts")]
    expected_hosts: u32,
    #[serde(default = "default_key_prefix")]
    key_prefix: String,
    #[serde(default = "default_lease_ms")]
    lease_ms: u64,
}

impl<'de> Deserialize<'de> for SharedStateConfig {
    /// A URL alone, or the mapping; an error names the unknown or mistyped key.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<SharedStateConfig, D::Error> {
        use serde::de::Error;
        let keys = match serde_yaml::Value::deserialize(d)? {
            serde_yaml::Value::String(url) => SharedStateKeys {
                url,
                expected_hosts: default_expected_hosts(),
                key_prefix: default_key_prefix(),
                lease_ms: default_lease_ms(),
            },
            value @ serde_yaml::Value::Mapping(_) => {
                serde_yaml::from_value(value).map_err(D::Error::custom)?
            }
            _ => {
                return Err(D::Error::custom(
                    "must be a redis:// URL or a mapping with `url` (and optionally expected_hosts, key_prefix, lease_ms)",
                ))
            }
        };
        Ok(SharedStateConfig {
            url: keys.url,
            expected_hosts: keys.expected_hosts,
            key_prefix: keys.key_prefix,
            lease_ms: keys.lease_ms,
        })
    }
}

fn default_expected_hosts() -> u32 {
    2
}
fn default_key_prefix() -> String {
    "openclaw-dingtalk".into()
}
fn default_lease_ms() -> u64 {
    15_000
}

/// `network:`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    /// A PEM file of extra CA certificates (a company's root, a TLS-inspecting proxy's CA),
    /// trusted in addition to the system's for every HTTPS and WSS connection of the plugin and
    /// the hosts (DingTalk, the gateway, Stream mode). Relative to the manifest. Default none.
    /// `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` and `SSL_CERT_FILE` are read from the environment.
    #[serde(default)]
    pub ca_file: Option<String>,
}

/// `ingress:` (used by the host).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngressConfig {
    /// `stream` (default; DingTalk Stream mode, no public IP needed) or `http` (signed callbacks).
    #[serde(default)]
    pub mode: IngressMode,
    /// HTTP callback mode settings.
    #[serde(default)]
    pub http: HttpIngressConfig,
    /// Stream mode settings.
    #[serde(default)]
    pub stream: StreamIngressConfig,
    /// Optional Prometheus `/metrics` listen address, e.g. `127.0.0.1:9464`. Default off.
    #[serde(default)]
    pub metrics_listen: Option<String>,
}

/// Ingress mode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IngressMode {
    /// DingTalk Stream mode (WebSocket).
    #[default]
    Stream,
    /// Signed HTTP callbacks.
    Http,
}

/// `ingress.http:`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpIngressConfig {
    /// Listen address. Default `127.0.0.1:8790`.
    #[serde(default = "default_http_listen")]
    pub listen: String,
    /// Callback path. Default `/dingtalk/callback`.
    #[serde(default = "default_http_path")]
    pub path: String,
    /// Largest accepted body. Default 1 048 576 bytes.
    #[serde(default = "default_body_limit")]
    pub max_body_bytes: usize,
    /// How far a callback's `timestamp` may be from now, in seconds; a signed callback is
    /// accepted once within this window (a replayed `timestamp`/`sign` pair is refused).
    /// DingTalk's own rule is one hour. Default 3600 (60..=3600).
    #[serde(default = "default_signature_window")]
    pub signature_window_secs: u64,
    /// Deadline for reading a request's headers and for reading its body. Default 10 000 ms.
    #[serde(default = "default_read_timeout")]
    pub read_timeout_ms: u64,
    /// Requests served at once; more wait (slow clients cannot take every connection).
    /// Default 256.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// The public `https://` URL at which DingTalk reaches this callback route, registered
    /// for the cards' button callbacks (the stop button). Without it, in HTTP mode, cards have
    /// no stop button and say to send `/stop`. Default none.
    #[serde(default)]
    pub card_callback_url: Option<String>,
}

impl Default for HttpIngressConfig {
    fn default() -> Self {
        HttpIngressConfig {
            listen: default_http_listen(),
            path: default_http_path(),
            max_body_bytes: default_body_limit(),
            signature_window_secs: default_signature_window(),
            read_timeout_ms: default_read_timeout(),
            max_connections: default_max_connections(),
            card_callback_url: None,
        }
    }
}

/// `ingress.stream:`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamIngressConfig {
    /// A socket silent for longer than this is considered dead. Default 90 000 ms.
    #[serde(default = "default_stream_silence")]
    pub silence_timeout_ms: u64,
}

impl Default for StreamIngressConfig {
    fn default() -> Self {
        StreamIngressConfig {
            silence_timeout_ms: default_stream_silence(),
        }
    }
}

fn yes() -> bool {
    true
}
fn default_time_zone() -> String {
    "Asia/Shanghai".into()
}
fn default_catch_up() -> u64 {
    900
}
fn default_collect_ack() -> String {
    "已记下，到点一起汇总。(Noted for the summary.)".into()
}
fn default_max_collected() -> usize {
    200
}
fn default_state_dir() -> String {
    ".openclaw-dingtalk".into()
}
fn default_model() -> String {
    "openclaw/main".into()
}
fn default_connect_ms() -> u64 {
    10_000
}
fn default_first_byte_ms() -> u64 {
    30_000
}
fn default_idle_ms() -> u64 {
    120_000
}
fn default_total_ms() -> u64 {
    600_000
}
fn default_retries() -> u32 {
    2
}
fn default_api_base() -> String {
    "https://api.dingtalk.com".into()
}
fn default_oapi_base() -> String {
    "https://oapi.dingtalk.com".into()
}
/// DingTalk's official AI markdown card template, the default `dingtalk.card_template_id`.
/// The name of the app of a `dingtalk:` block without a `name`.
pub const DEFAULT_APP_NAME: &str = "default";

/// DingTalk's official AI markdown card template.
pub const DEFAULT_CARD_TEMPLATE_ID: &str = "382e4302-551d-4880-bf29-a30acfab2e71.schema";

fn default_template() -> String {
    DEFAULT_CARD_TEMPLATE_ID.into()
}
fn default_content_key() -> String {
    "msgContent".into()
}
fn default_qps() -> u32 {
    20
}
fn default_interval() -> u64 {
    300
}
fn default_create_timeout() -> u64 {
    30_000
}
fn default_card_bytes() -> usize {
    2800
}
fn default_dedup_ttl() -> u64 {
    600
}
fn default_signature_window() -> u64 {
    3600
}
fn default_read_timeout() -> u64 {
    10_000
}
fn default_max_connections() -> usize {
    256
}
fn default_max_queued() -> usize {
    5
}
fn default_sender_rate() -> u32 {
    20
}
fn default_busy_message() -> String {
    "正在回答之前的问题，请稍后再发。(Still answering your earlier messages; please wait a moment.)"
        .into()
}
fn default_max_download() -> u64 {
    20 * 1024 * 1024
}
fn default_download_timeout() -> u64 {
    15_000
}
fn default_max_image() -> u64 {
    5 * 1024 * 1024
}
fn default_max_file_text() -> u64 {
    64 * 1024
}
fn default_dedup_capacity() -> usize {
    10_000
}
fn default_refusal() -> String {
    "抱歉，你没有使用此机器人的权限。Sorry, you are not allowed to use this robot.".into()
}
fn default_http_listen() -> String {
    "127.0.0.1:8790".into()
}
fn default_http_path() -> String {
    "/dingtalk/callback".into()
}
fn default_body_limit() -> usize {
    1024 * 1024
}
fn default_stream_silence() -> u64 {
    90_000
}
