//! The OpenClaw Gateway client: `POST /v1/chat/completions` with `stream: true`, read with
//! eventsource-stream into [`GatewayEvent`]s under the connect, first-byte, idle and total
//! deadlines (`docs/gateway.md`, "Streaming", "Pre-stream errors"). Failures before the
//! first byte are retried.

use crate::network::Network;
use std::time::Duration;

use backon::Retryable;
use eventsource_stream::Eventsource;
use futures_util::{Stream, StreamExt};
use serde_json::{json, Value};
use tokio::time::{timeout, timeout_at, Instant};

use super::error::{Deadline, GatewayError};
use super::events::{parse_event_data, GatewayEvent};
use super::message::UserMessage;
use crate::manifest::GatewayConfig;
use crate::retry::{before, GATEWAY};
use crate::secret::Secret;

/// What to send for one DingTalk message.
#[derive(Debug, Clone)]
pub struct ChatRequest {
    /// Stable per-conversation session key (`x-openclaw-session-key`); the gateway keeps the history.
    pub session_key: String,
    /// The agent target (`model`) when not `gateway.model` (a route's).
    pub model: Option<String>,
    /// Optional system text (the manifest's preamble).
    pub system: Option<String>,
    /// The new user message only: its text and pictures.
    pub user_message: UserMessage,
}

/// A cheap-to-clone client. Threads: any.
#[derive(Clone)]
pub struct GatewayClient {
    http: reqwest::Client,
    url: String,
    token: Secret,
    model: String,
    include_usage: bool,
    first_byte: Duration,
    idle: Duration,
    total: Duration,
    retries: u32,
}

impl GatewayClient {
    /// Builds the client from `gateway:`, trusting `network`'s CAs.
    pub fn new(config: &GatewayConfig, network: &Network) -> Result<GatewayClient, GatewayError> {
        let http = network
            .client_builder()
            .connect_timeout(Duration::from_millis(config.connect_timeout_ms))
            .user_agent(concat!("openclaw-dingtalk/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| GatewayError::Transport(e.to_string()))?;
        Ok(GatewayClient {
            http,
            url: format!(
                "{}/v1/chat/completions",
                config.endpoint.trim_end_matches('/')
            ),
            token: config.auth_token.clone(),
            model: config.model.clone(),
            include_usage: config.include_usage,
            first_byte: Duration::from_millis(config.first_byte_timeout_ms),
            idle: Duration::from_millis(config.idle_timeout_ms),
            total: Duration::from_millis(config.total_timeout_ms),
            retries: config.retries,
        })
    }

    /// Streams the answer. The stream ends after `[DONE]`, or with one `Err` item. Dropping
    /// it closes the connection, which cancels the run in the gateway.
    pub fn stream_chat(
        &self,
        request: ChatRequest,
    ) -> impl Stream<Item = Result<GatewayEvent, GatewayError>> + Send + 'static {
        let client = self.clone();
        async_stream::stream! {
            let deadline = Instant::now() + client.total;
            let response = match client.open(&request, deadline).await {
                Ok(r) => r,
                Err(e) => {
                    yield Err(e);
                    return;
                }
            };
            let mut events = response.bytes_stream().eventsource();
            loop {
                let idle_deadline = (Instant::now() + client.idle).min(deadline);
                let next = match timeout_at(idle_deadline, events.next()).await {
                    Ok(next) => next,
                    Err(_) => {
                        let which = if idle_deadline >= deadline { Deadline::Total } else { Deadline::Idle };
                        yield Err(GatewayError::Timeout(which));
                        return;
                    }
                };
                let event = match next {
                    None => {
                        yield Err(GatewayError::Truncated);
                        return;
                    }
                    Some(Err(e)) => {
                        // The body broke off mid-stream (connection reset, bad chunk framing).
                        log::debug!("gateway stream read failed: {e}");
                        yield Err(GatewayError::Truncated);
                        return;
                    }
                    Some(Ok(event)) => event,
                };
                if event.data.trim() == "[DONE]" {
                    return;
                }
                match parse_event_data(&event.data) {
                    Ok(parsed) => {
                        for item in parsed {
                            yield Ok(item);
                        }
                    }
                    Err(e) => {
                        yield Err(e);
                        return;
                    }
                }
            }
        }
    }

    /// Sends the request, retrying failures that happened before any byte of the stream
    /// arrived (`gateway.retries` times, under [`GATEWAY`], never past `deadline`).
    async fn open(
        &self,
        request: &ChatRequest,
        deadline: Instant,
    ) -> Result<reqwest::Response, GatewayError> {
        let body = self.body(request);
        let mut retry = 0;
        (|| self.open_once(request, &body, deadline))
            .retry(GATEWAY.retries(Some(self.retries as usize)))
            .when(GatewayError::is_retryable)
            .adjust(|_, pause| before(Some(deadline), pause?))
            .notify(|e, pause| {
                retry += 1;
                log::warn!(
                    "gateway request failed before streaming ({e}); retry {retry} in {pause:?}"
                );
            })
            .await
    }

    /// The request body: the optional system text and the user message (`docs/gateway.md`,
    /// "Request").
    fn body(&self, request: &ChatRequest) -> Value {
        let mut messages = Vec::new();
        if let Some(system) = request.system.as_deref().filter(|s| !s.is_empty()) {
            messages.push(json!({"role": "system", "content": system}));
        }
        messages.push(json!({"role": "user", "content": request.user_message.content()}));
        let model = request.model.as_deref().unwrap_or(&self.model);
        let mut body = json!({"model": model, "stream": true, "messages": messages});
        if self.include_usage {
            body["stream_options"] = json!({"include_usage": true});
        }
        body
    }

    /// One attempt: the request under the first-byte deadline; an error status is typed
    /// with the gateway's own message.
    async fn open_once(
        &self,
        request: &ChatRequest,
        body: &Value,
        deadline: Instant,
    ) -> Result<reqwest::Response, GatewayError> {
        let mut builder = self
            .http
            .post(&self.url)
            .header("x-openclaw-session-key", &request.session_key)
            .header("x-openclaw-message-channel", "dingtalk")
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .json(body);
        if !self.token.is_empty() {
            builder = builder.bearer_auth(self.token.expose());
        }
        let wait = self
            .first_byte
            .min(deadline.saturating_duration_since(Instant::now()));
        let response = match timeout(wait, builder.send()).await {
            Err(_) => return Err(GatewayError::Timeout(Deadline::FirstByte)),
            Ok(Err(e)) if e.is_connect() => {
                return Err(GatewayError::Connect(crate::net_error::describe(e)))
            }
            Ok(Err(e)) if e.is_timeout() => return Err(GatewayError::Timeout(Deadline::Connect)),
            Ok(Err(e)) => return Err(GatewayError::Transport(crate::net_error::describe(e))),
            Ok(Ok(r)) => r,
        };
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let text = timeout(self.first_byte, response.text())
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        Err(GatewayError::Status {
            status: status.as_u16(),
            message: error_message(&text).unwrap_or_else(|| {
                let t = text.trim();
                if t.is_empty() {
                    status.canonical_reason().unwrap_or("error").to_owned()
                } else {
                    t.chars().take(300).collect()
                }
            }),
        })
    }
}

/// `{"error":{"message":…}}` → message.
fn error_message(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    v.get("error")?.get("message")?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::ImagePart;
    use crate::manifest::GatewayConfig;

    /// A client of the agent `openclaw/main` (no connection is made).
    fn client() -> GatewayClient {
        let config = GatewayConfig {
            endpoint: "http://127.0.0.1:18789".into(),
            auth_token: Secret::new("t"),
            model: "openclaw/main".into(),
            include_usage: true,
            connect_timeout_ms: 1_000,
            first_byte_timeout_ms: 1_000,
            idle_timeout_ms: 1_000,
            total_timeout_ms: 1_000,
            retries: 0,
        };
        GatewayClient::new(&config, &Default::default()).unwrap()
    }

    #[test]
    fn a_request_with_a_picture_has_the_preamble_then_the_text_and_image_parts() {
        let client = client();
        let request = ChatRequest {
            session_key: "dingtalk:dm:16650698".into(),
            model: None,
            system: Some("请用中文回答。".into()),
            user_message: UserMessage {
                text: "[DingTalk 1:1 | 小张]\n[图片]".into(),
                images: vec![ImagePart::new("image/gif", b"GIF89a")],
            },
        };
        assert_eq!(
            client.body(&request),
            json!({
                "model": "openclaw/main",
                "stream": true,
                "messages": [
                    {"role": "system", "content": "请用中文回答。"},
                    {"role": "user", "content": [
                        {"type": "text", "text": "[DingTalk 1:1 | 小张]\n[图片]"},
                        {"type": "image_url", "image_url": {"url": "data:image/gif;base64,R0lGODlh"}},
                    ]},
                ],
                "stream_options": {"include_usage": true},
            })
        );
    }

    #[test]
    fn a_route_s_agent_replaces_gateway_model() {
        let client = client();
        let request = ChatRequest {
            session_key: "dingtalk:group:cid1".into(),
            model: Some("openclaw/hr".into()),
            system: None,
            user_message: "年假怎么算".into(),
        };
        assert_eq!(client.body(&request)["model"], "openclaw/hr");
    }
}
