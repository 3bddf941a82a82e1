//! The answer's events as the gateway streams them: one SSE `data:` payload (a
//! `chat.completion.chunk` or an `{"error":…}` object) becomes [`GatewayEvent`]s, exactly as
//! the real gateway streams (`docs/gateway.md`, "Streaming", "In-stream errors"): a
//! role-only first chunk, content and `reasoning_content` deltas, `finish_reason`, the usage
//! chunk, and error objects inside an HTTP 200 stream.

use openclaw_skill_abi::Usage;

use super::error::GatewayError;

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

    /// One `data:` payload: a `chat.completion.chunk`, or an error object.
    #[derive(Deserialize)]
    pub struct Message<'a> {
        /// `choices` (one in practice).
        #[serde(borrow)]
        pub choices: Option<Vec<Choice<'a>>>,
        /// `error`, sent inside an HTTP 200 stream.
        #[serde(borrow)]
        pub error: Option<ErrorObject<'a>>,
        /// `usage`, in the usage chunk.
        pub usage: Option<UsageObject>,
    }

    /// `choices[i]`.
    #[derive(Deserialize)]
    pub struct Choice<'a> {
        /// `delta`.
        #[serde(borrow)]
        pub delta: Option<Delta<'a>>,
        /// `finish_reason`.
        #[serde(borrow)]
        pub finish_reason: Option<Cow<'a, str>>,
    }

    /// `choices[i].delta`.
    #[derive(Deserialize)]
    pub struct Delta<'a> {
        /// Answer text.
        #[serde(borrow)]
        pub content: Option<Cow<'a, str>>,
        /// Reasoning text.
        #[serde(borrow)]
        pub reasoning_content: Option<Cow<'a, str>>,
    }

    /// `error`.
    #[derive(Deserialize)]
    pub struct ErrorObject<'a> {
        /// `error.message`.
        #[serde(borrow)]
        pub message: Option<Cow<'a, str>>,
        /// `error.type`.
        #[serde(borrow, rename = "type")]
        pub kind: Option<Cow<'a, str>>,
    }

    /// `usage`.
    #[derive(Deserialize)]
    pub struct UsageObject {
        /// `usage.prompt_tokens`.
        #[serde(default)]
        pub prompt_tokens: u64,
        /// `usage.completion_tokens`.
        #[serde(default)]
        pub completion_tokens: u64,
        /// `usage.total_tokens`.
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
