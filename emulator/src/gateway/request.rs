//! Reading and validating `/v1/chat/completions` requests (docs/gateway.md, "Request",
//! "Agent selection", "Sessions", "Pre-stream errors").

use axum::http::HeaderMap;
use serde_json::Value;

use super::{reject::Rejection, FakeGatewayConfig};

/// Session-key prefixes reserved for the gateway's internal sessions.
const RESERVED_SESSION_PREFIXES: [&str; 3] = ["subagent:", "cron:", "acp:"];

/// Marker of the internal-context user message the real gateway appends (docs/gateway.md,
/// "Upstream requests").
pub(crate) const INTERNAL_CONTEXT_MARKER: &str = "<<<BEGIN_OPENCLAW_INTERNAL_CONTEXT>>>";

/// One chat message, reduced to what the fake needs.
#[derive(Debug, Clone)]
pub(crate) struct Message {
    pub(crate) role: String,
    pub(crate) text: String,
    has_image: bool,
}

/// The messages of a body: text from a string `content` or from `text`/`input_text` parts (joined by
/// newlines, as the gateway does); entries without a string `role` are skipped.
pub(crate) fn messages(body: &Value) -> Vec<Message> {
    let Some(list) = body.get("messages").and_then(Value::as_array) else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|m| {
            let role = m.get("role")?.as_str()?.trim().to_string();
            let content = m.get("content").unwrap_or(&Value::Null);
            let (text, has_image) = match content {
                Value::String(s) => (s.clone(), false),
                Value::Array(parts) => {
                    let texts: Vec<&str> = parts
                        .iter()
                        .filter_map(part_text)
                        .filter(|t| !t.is_empty())
                        .collect();
                    let image = parts
                        .iter()
                        .any(|p| p.get("type").and_then(Value::as_str) == Some("image_url"));
                    (texts.join("\n"), image)
                }
                _ => (String::new(), false),
            };
            Some(Message {
                role,
                text,
                has_image,
            })
        })
        .collect()
}

fn part_text(part: &Value) -> Option<&str> {
    match part.get("type").and_then(Value::as_str) {
        Some("text" | "input_text") => part.get("text").and_then(Value::as_str),
        _ => part.get("input_text").and_then(Value::as_str),
    }
}

/// The texts of all user messages (where triggers are searched).
pub(crate) fn user_texts(messages: &[Message]) -> Vec<String> {
    messages
        .iter()
        .filter(|m| m.role == "user")
        .map(|m| m.text.clone())
        .collect()
}

/// True when the `Authorization: Bearer <token>` header carries `expected` (any token when `None`).
pub(crate) fn authorized(expected: Option<&str>, headers: &HeaderMap) -> bool {
    let Some(expected) = expected else {
        return true;
    };
    let value = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .trim();
    let bearer = value
        .get(..7)
        .filter(|p| p.eq_ignore_ascii_case("bearer "))
        .map(|_| value[7..].trim());
    bearer == Some(expected)
}

/// A validated gateway-mode request.
#[derive(Debug, Clone)]
pub(crate) struct ChatRequest {
    /// `model` as sent (echoed verbatim), `openclaw` when absent.
    pub(crate) model: String,
    /// The internal session key.
    pub(crate) session_key: String,
    /// The session key is a fresh random one (the request named no session nor `user`).
    pub(crate) ephemeral_session: bool,
    pub(crate) stream: bool,
    pub(crate) include_usage: bool,
    pub(crate) user_texts: Vec<String>,
    /// Rough prompt size for the usage numbers (words in all messages).
    pub(crate) prompt_words: u64,
    /// The active user turn's images (set once they are resolved).
    pub(crate) images: Vec<super::images::ImagePart>,
}

impl ChatRequest {
    /// The last user message, trimmed.
    pub(crate) fn last_user_text(&self) -> &str {
        self.user_texts.last().map(|t| t.trim()).unwrap_or_default()
    }
}

/// Gateway-mode checks after the body parsed: model → agent → session key → user message.
///
/// `model` may be `openclaw`, `openclaw/<agent>`, `openclaw:<agent>` or `agent:<agent>`; the header
/// `x-openclaw-agent-id` takes precedence over the agent named in `model`. Agent ids compare
/// case-insensitively and `default` names the default (first) agent. A request without a non-empty user
/// message (or image) is `Missing user message in \`messages\`.`
pub(crate) fn parse_gateway(
    config: &FakeGatewayConfig,
    headers: &HeaderMap,
    body: &Value,
) -> Result<ChatRequest, Rejection> {
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("openclaw")
        .to_string();
    let agent = resolve_agent(config, &model, header(headers, "x-openclaw-agent-id"))?;
    let mut ephemeral_session = false;
    let session_key = match header(headers, "x-openclaw-session-key") {
        Some(key) => {
            let lower = key.to_ascii_lowercase();
            if RESERVED_SESSION_PREFIXES
                .iter()
                .any(|p| lower.starts_with(p))
            {
                return Err(Rejection::invalid(
                    "`x-openclaw-session-key` cannot use reserved internal session namespaces.",
                ));
            }
            format!("agent:{agent}:{key}")
        }
        None => match body
            .get("user")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|u| !u.is_empty())
        {
            Some(user) => format!("agent:{agent}:openai-user:{user}"),
            None => {
                ephemeral_session = true;
                format!("agent:{agent}:openai:{}", uuid::Uuid::new_v4())
            }
        },
    };
    let messages = messages(body);
    let has_user_input = messages
        .iter()
        .any(|m| m.role == "user" && (!m.text.trim().is_empty() || m.has_image));
    if !has_user_input {
        return Err(Rejection::invalid("Missing user message in `messages`."));
    }
    Ok(ChatRequest {
        model,
        session_key,
        ephemeral_session,
        stream: body.get("stream").is_some_and(truthy),
        include_usage: body
            .pointer("/stream_options/include_usage")
            .is_some_and(truthy),
        user_texts: user_texts(&messages),
        prompt_words: messages
            .iter()
            .map(|m| m.text.split_whitespace().count() as u64)
            .sum::<u64>()
            .max(1),
        images: Vec::new(),
    })
}

/// JavaScript truthiness of a JSON value (the gateway reads `Boolean(payload.stream)`).
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fn resolve_agent(
    config: &FakeGatewayConfig,
    model: &str,
    header: Option<&str>,
) -> Result<String, Rejection> {
    let invalid_model =
        || Rejection::invalid("Invalid `model`. Use `openclaw` or `openclaw/<agentId>`.");
    let from_model = if model == "openclaw" {
        None
    } else {
        let id = ["openclaw/", "openclaw:", "agent:"]
            .iter()
            .find_map(|p| model.strip_prefix(p))
            .ok_or_else(invalid_model)?;
        if id.trim().is_empty() {
            return Err(invalid_model());
        }
        Some(id.trim())
    };
    let default_agent = config.agents.first().map(String::as_str).unwrap_or("main");
    match header.or(from_model) {
        None => Ok(default_agent.to_string()),
        Some(id) if id.eq_ignore_ascii_case("default") => Ok(default_agent.to_string()),
        Some(id) => config
            .agents
            .iter()
            .find(|a| a.eq_ignore_ascii_case(id))
            .map(|a| a.to_ascii_lowercase())
            .ok_or_else(|| Rejection::invalid(&format!("Unknown agent '{id}'."))),
    }
}

/// A validated upstream-mode (fake model) request.
#[derive(Debug, Clone)]
pub(crate) struct UpstreamRequest {
    pub(crate) model: String,
    pub(crate) stream: bool,
    pub(crate) user_texts: Vec<String>,
    /// The user's words as the gateway forwarded them, unwrapped (see [`upstream_echo_text`]).
    pub(crate) echo_text: String,
    pub(crate) assistant_turns: usize,
    pub(crate) prompt_words: u64,
    /// The images of the current turn that parse (upstream mode refuses nothing).
    pub(crate) images: Vec<super::images::ImagePart>,
}

/// Upstream mode: any model id is accepted; the body only needs to be a JSON object.
pub(crate) fn parse_upstream(body: &Value) -> UpstreamRequest {
    let messages = messages(body);
    let last_assistant = messages.iter().rposition(|m| m.role == "assistant");
    let after = last_assistant.map_or(0, |i| i + 1);
    let echo = messages[after..]
        .iter()
        .find(|m| m.role == "user" && !m.text.trim_start().starts_with(INTERNAL_CONTEXT_MARKER))
        .map(|m| upstream_echo_text(&m.text))
        .unwrap_or_default();
    UpstreamRequest {
        model: body
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        stream: body.get("stream").is_some_and(truthy),
        user_texts: user_texts(&messages),
        echo_text: echo,
        assistant_turns: messages.iter().filter(|m| m.role == "assistant").count(),
        prompt_words: messages
            .iter()
            .map(|m| m.text.split_whitespace().count() as u64)
            .sum::<u64>()
            .max(1),
        images: super::images::lenient(body),
    }
}

/// The user's own words inside the message the real gateway forwards upstream (docs/gateway.md,
/// "Upstream requests", "Request"): after the flattened-history marker `[Current message - respond to this]`
/// (then `User: `), without the leading timestamp `[Tue 2026-11-24 18:06 UTC] ` and without the trailing
/// `Runtime: agent=…` line.
pub(crate) fn upstream_echo_text(text: &str) -> String {
    let mut t = text;
    if let Some((_, current)) = t.rsplit_once("[Current message - respond to this]") {
        t = current.trim_start();
        t = t.strip_prefix("User: ").unwrap_or(t);
    }
    if t.starts_with('[') {
        if let Some(end) = t.find("] ").filter(|&e| e <= 64) {
            t = &t[end + 2..];
        }
    }
    if let Some(i) = t
        .find("Runtime: agent=")
        .filter(|&i| i == 0 || t[..i].ends_with('\n'))
    {
        t = &t[..i];
    }
    t.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn upstream_echo_unwraps_the_gateway_prompt() {
        let forwarded = "[Tue 2026-11-24 18:06 UTC] hello there\n\nRuntime: agent=main | session=x | channel=webchat";
        assert_eq!(upstream_echo_text(forwarded), "hello there");
        let flattened = "[Chat messages since your last reply - for context]\nUser: a\nAssistant: b\n\n[Current message - respond to this]\nUser: second q";
        assert_eq!(upstream_echo_text(flattened), "second q");
    }

    #[test]
    fn upstream_turns_and_internal_context() {
        let body = json!({"model":"fake-model","messages":[
            {"role":"system","content":"prompt"},
            {"role":"user","content":"[Tue 2026-11-24 18:06 UTC] first"},
            {"role":"assistant","content":"answer"},
            {"role":"user","content":"[Tue 2026-11-24 18:07 UTC] second TOKENS:2"},
            {"role":"user","content":"<<<BEGIN_OPENCLAW_INTERNAL_CONTEXT>>>\nstuff"}]});
        let r = parse_upstream(&body);
        assert_eq!(r.assistant_turns, 1);
        assert_eq!(r.echo_text, "second TOKENS:2");
        assert_eq!(r.user_texts.len(), 3);
    }

    #[test]
    fn content_parts_are_joined() {
        let body = json!({"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":"x"},{"type":"input_text","text":"b"}]}]});
        assert_eq!(messages(&body)[0].text, "a\nb");
    }
}
