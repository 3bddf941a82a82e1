//! The OpenClaw Gateway client: `POST /v1/chat/completions` with `stream: true`, parsed with
//! eventsource-stream, exactly as the real gateway streams (`docs/gateway.md`,
//! "Streaming", "Pre-stream errors", "In-stream errors"):
//! a role-only first chunk, content and `reasoning_content` deltas, `finish_reason`, the
//! usage chunk, `data: [DONE]`, and `{"error":…}` objects inside an HTTP 200 stream.

mod error;

use std::time::Duration;

use eventsource_stream::Eventsource;
use futures_util::{Stream, StreamExt};
use openclaw_skill_abi::Usage;
use serde_json::{json, Value};
use tokio::time::{sleep, timeout, timeout_at, Instant};

pub use error::{Deadline, GatewayError};

use crate::manifest::GatewayConfig;
use crate::secret::Secret;

/// One step of a streamed answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayEvent {
    /// Answer text.
    Delta(String),
    /// Reasoning text.
    Reasoning(String),
    /// `finish_reason` of the choice (e.g. `stop`, `length`).
    FinishReason(String),
    /// Token usage.
    Usage(Usage),
}

/// What to send for one DingTalk message.
#[derive(Debug, Clone)]
pub struct ChatRequest {
    /// Stable per-conversation session key (`x-openclaw-session-key`); the gateway keeps the history.
    pub session_key: String,
    /// Optional system text (the manifest's preamble).
    pub system: Option<String>,
    /// The new user message only.
    pub user_message: String,
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
    /// Builds the client from `gateway:`.
    pub fn new(config: &GatewayConfig) -> Result<GatewayClient, GatewayError> {
        let http = reqwest::Client::builder()
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

    /// Sends the request, retrying (with backoff) failures that happened before any byte
    /// of the stream arrived.
    async fn open(
        &self,
        request: &ChatRequest,
        deadline: Instant,
    ) -> Result<reqwest::Response, GatewayError> {
        let mut attempt = 0;
        loop {
            match self.open_once(request, deadline).await {
                Ok(response) => return Ok(response),
                Err(e) if e.is_retryable() && attempt < self.retries => {
                    let backoff = Duration::from_millis(250 * 2u64.pow(attempt));
                    if Instant::now() + backoff >= deadline {
                        return Err(e);
                    }
                    log::warn!(
                        "gateway request failed before streaming ({e}); retry {} in {backoff:?}",
                        attempt + 1
                    );
                    sleep(backoff).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn open_once(
        &self,
        request: &ChatRequest,
        deadline: Instant,
    ) -> Result<reqwest::Response, GatewayError> {
        let mut messages = Vec::new();
        if let Some(system) = request.system.as_deref().filter(|s| !s.is_empty()) {
            messages.push(json!({"role": "system", "content": system}));
        }
        messages.push(json!({"role": "user", "content": request.user_message}));
        let mut body = json!({"model": self.model, "stream": true, "messages": messages});
        if self.include_usage {
            body["stream_options"] = json!({"include_usage": true});
        }
        let mut builder = self
            .http
            .post(&self.url)
            .header("x-openclaw-session-key", &request.session_key)
            .header("x-openclaw-message-channel", "dingtalk")
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .json(&body);
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

/// Parses one SSE `data:` payload: a `chat.completion.chunk` or an `{"error":…}` object
/// (the `[DONE]` sentinel is handled by the caller).
pub fn parse_event_data(data: &str) -> Result<Vec<GatewayEvent>, GatewayError> {
    let msg: wire::Message<'_> = serde_json::from_str(data)
        .map_err(|e| GatewayError::Protocol(format!("{e} in {:.80}", data)))?;
    if let Some(err) = msg.error {
        return Err(GatewayError::InStream {
            message: err
                .message
                .map_or_else(|| "unknown error".to_owned(), |m| m.into_owned()),
            kind: err.kind.map(|k| k.into_owned()).unwrap_or_default(),
        });
    }
    if msg.choices.is_none() && msg.usage.is_none() {
        return Err(GatewayError::Protocol(format!(
            "neither choices nor error in {:.80}",
            data
        )));
    }
    let mut out = Vec::new();
    for choice in msg.choices.unwrap_or_default() {
        if let Some(delta) = choice.delta {
            if let Some(r) = delta.reasoning_content.filter(|r| !r.is_empty()) {
                out.push(GatewayEvent::Reasoning(r.into_owned()));
            }
            if let Some(c) = delta.content.filter(|c| !c.is_empty()) {
                out.push(GatewayEvent::Delta(c.into_owned()));
            }
        }
        if let Some(reason) = choice.finish_reason {
            out.push(GatewayEvent::FinishReason(reason.into_owned()));
        }
    }
    if let Some(u) = msg.usage {
        out.push(GatewayEvent::Usage(Usage {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
            total_tokens: u.total_tokens,
        }));
    }
    Ok(out)
}

/// The subset of the OpenAI chunk format the plugin reads; unknown fields are skipped and
/// strings are borrowed unless they contain escapes.
mod wire {
    use std::borrow::Cow;

    use serde::Deserialize;

    #[derive(Deserialize)]
    pub struct Message<'a> {
        #[serde(borrow)]
        pub choices: Option<Vec<Choice<'a>>>,
        #[serde(borrow)]
        pub error: Option<ErrorObject<'a>>,
        pub usage: Option<UsageObject>,
    }

    #[derive(Deserialize)]
    pub struct Choice<'a> {
        #[serde(borrow)]
        pub delta: Option<Delta<'a>>,
        #[serde(borrow)]
        pub finish_reason: Option<Cow<'a, str>>,
    }

    #[derive(Deserialize)]
    pub struct Delta<'a> {
        #[serde(borrow)]
        pub content: Option<Cow<'a, str>>,
        #[serde(borrow)]
        pub reasoning_content: Option<Cow<'a, str>>,
    }

    #[derive(Deserialize)]
    pub struct ErrorObject<'a> {
        #[serde(borrow)]
        pub message: Option<Cow<'a, str>>,
        #[serde(borrow, rename = "type")]
        pub kind: Option<Cow<'a, str>>,
    }

    #[derive(Deserialize)]
    pub struct UsageObject {
        #[serde(default)]
        pub prompt_tokens: u64,
        #[serde(default)]
        pub completion_tokens: u64,
        #[serde(default)]
        pub total_tokens: u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_role_chunk_yields_nothing_and_deltas_yield_text() {
        let role = r#"{"id":"chatcmpl_X","object":"chat.completion.chunk","created":1,"model":"openclaw/default","choices":[{"index":0,"delta":{"role":"assistant"},"finish_reason":null}]}"#;
        assert_eq!(parse_event_data(role).unwrap(), vec![]);
        let delta = r#"{"choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}]}"#;
        assert_eq!(
            parse_event_data(delta).unwrap(),
            vec![GatewayEvent::Delta("Hello".into())]
        );
        let fin = r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#;
        assert_eq!(
            parse_event_data(fin).unwrap(),
            vec![GatewayEvent::FinishReason("stop".into())]
        );
    }

    #[test]
    fn usage_reasoning_and_errors_are_recognised() {
        let usage =
            r#"{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":6,"total_tokens":11}}"#;
        assert_eq!(
            parse_event_data(usage).unwrap(),
            vec![GatewayEvent::Usage(Usage {
                prompt_tokens: 5,
                completion_tokens: 6,
                total_tokens: 11
            })]
        );
        let r = r#"{"choices":[{"delta":{"reasoning_content":"hmm"}}]}"#;
        assert_eq!(
            parse_event_data(r).unwrap(),
            vec![GatewayEvent::Reasoning("hmm".into())]
        );
        let e = r#"{"error":{"message":"upstream provider error","type":"api_error"}}"#;
        assert_eq!(
            parse_event_data(e).unwrap_err(),
            GatewayError::InStream {
                message: "upstream provider error".into(),
                kind: "api_error".into()
            }
        );
        assert!(matches!(
            parse_event_data("{oops").unwrap_err(),
            GatewayError::Protocol(_)
        ));
    }
}
