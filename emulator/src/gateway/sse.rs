//! Byte-exact SSE events of `/v1/chat/completions` (docs/gateway.md, "Streaming").
//!
//! Each event is `data: <json>\n\n` with no `event:` lines, comments or keepalives; the stream ends with
//! `data: [DONE]\n\n`. JSON keys are written in the order the real gateway writes them.

use bytes::Bytes;
use serde::Serialize;

/// Token counts of a reply.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Usage {
    pub(crate) prompt_tokens: u64,
    pub(crate) completion_tokens: u64,
    pub(crate) total_tokens: u64,
}

impl Usage {
    pub(crate) fn new(prompt_tokens: u64, completion_tokens: u64) -> Self {
        Self {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens + completion_tokens,
        }
    }
}

#[derive(Serialize)]
struct Chunk<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: Vec<Choice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Usage>,
}

#[derive(Serialize)]
struct Choice {
    index: u32,
    delta: Delta,
    finish_reason: Option<&'static str>,
}

#[derive(Serialize, Default)]
struct Delta {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_content: Option<String>,
}

#[derive(Serialize)]
struct ErrorEvent<'a> {
    error: ErrorBody<'a>,
}

/// `{"message","type"}` of an error object (also used for HTTP error bodies).
#[derive(Serialize)]
pub(crate) struct ErrorBody<'a> {
    pub(crate) message: &'a str,
    #[serde(rename = "type")]
    pub(crate) kind: &'a str,
}

/// Builds the events of one completion.
#[derive(Debug, Clone)]
pub(crate) struct Framer {
    pub(crate) id: String,
    pub(crate) created: u64,
    pub(crate) model: String,
}

impl Framer {
    /// A framer with a fresh id: `chatcmpl_<uuid>` (gateway) or `chatcmpl-<hex>` (OpenAI-style upstream).
    pub(crate) fn new(model: &str, openai_style_id: bool) -> Self {
        let uuid = uuid::Uuid::new_v4();
        let id = if openai_style_id {
            format!("chatcmpl-{}", uuid.simple())
        } else {
            format!("chatcmpl_{uuid}")
        };
        let created = u64::try_from(crate::clock::epoch_ms_now() / 1000).unwrap_or_default();
        Self {
            id,
            created,
            model: model.to_string(),
        }
    }

    fn chunk(&self, delta: Delta, finish_reason: Option<&'static str>) -> Bytes {
        let choices = vec![Choice {
            index: 0,
            delta,
            finish_reason,
        }];
        event(&Chunk {
            id: &self.id,
            object: "chat.completion.chunk",
            created: self.created,
            model: &self.model,
            choices,
            usage: None,
        })
    }

    /// The first chunk: `delta {"role":"assistant"}`, plus `"content":""` in the upstream (OpenAI) style.
    pub(crate) fn role(&self, with_empty_content: bool) -> Bytes {
        let content = with_empty_content.then(String::new);
        self.chunk(
            Delta {
                role: Some("assistant"),
                content,
                ..Delta::default()
            },
            None,
        )
    }

    /// One content token.
    pub(crate) fn content(&self, text: &str) -> Bytes {
        self.chunk(
            Delta {
                content: Some(text.to_string()),
                ..Delta::default()
            },
            None,
        )
    }

    /// One reasoning delta.
    pub(crate) fn reasoning(&self, text: &str) -> Bytes {
        self.chunk(
            Delta {
                reasoning_content: Some(text.to_string()),
                ..Delta::default()
            },
            None,
        )
    }

    /// `delta {}` with `finish_reason "stop"`.
    pub(crate) fn finish(&self) -> Bytes {
        self.chunk(Delta::default(), Some("stop"))
    }

    /// `choices: []` with the usage.
    pub(crate) fn usage(&self, usage: Usage) -> Bytes {
        event(&Chunk {
            id: &self.id,
            object: "chat.completion.chunk",
            created: self.created,
            model: &self.model,
            choices: Vec::new(),
            usage: Some(usage),
        })
    }

    /// The non-streaming `chat.completion` JSON.
    pub(crate) fn completion(&self, content: &str, usage: Usage) -> String {
        #[derive(Serialize)]
        struct Completion<'a> {
            id: &'a str,
            object: &'static str,
            created: u64,
            model: &'a str,
            choices: [FullChoice<'a>; 1],
            usage: Usage,
        }
        #[derive(Serialize)]
        struct FullChoice<'a> {
            index: u32,
            message: Message<'a>,
            finish_reason: &'static str,
        }
        #[derive(Serialize)]
        struct Message<'a> {
            role: &'static str,
            content: &'a str,
        }
        let choice = FullChoice {
            index: 0,
            message: Message {
                role: "assistant",
                content,
            },
            finish_reason: "stop",
        };
        let body = Completion {
            id: &self.id,
            object: "chat.completion",
            created: self.created,
            model: &self.model,
            choices: [choice],
            usage,
        };
        serde_json::to_string(&body).unwrap_or_default()
    }
}

/// `data: {"error":{"message":…,"type":…}}\n\n` (no id, no choices).
pub(crate) fn error_event(message: &str, kind: &str) -> Bytes {
    event(&ErrorEvent {
        error: ErrorBody { message, kind },
    })
}

/// `data: [DONE]\n\n`.
pub(crate) fn done() -> Bytes {
    Bytes::from_static(b"data: [DONE]\n\n")
}

fn event<T: Serialize>(value: &T) -> Bytes {
    Bytes::from(format!(
        "data: {}\n\n",
        serde_json::to_string(value).unwrap_or_default()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_match_the_captured_transcript() {
        let f = Framer {
            id: "chatcmpl_X".into(),
            created: 1795543609,
            model: "openclaw/default".into(),
        };
        assert_eq!(
            f.role(false),
            "data: {\"id\":\"chatcmpl_X\",\"object\":\"chat.completion.chunk\",\"created\":1795543609,\"model\":\"openclaw/default\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"},\"finish_reason\":null}]}\n\n"
        );
        assert_eq!(
            f.content("Hello"),
            "data: {\"id\":\"chatcmpl_X\",\"object\":\"chat.completion.chunk\",\"created\":1795543609,\"model\":\"openclaw/default\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"},\"finish_reason\":null}]}\n\n"
        );
        assert_eq!(
            f.finish(),
            "data: {\"id\":\"chatcmpl_X\",\"object\":\"chat.completion.chunk\",\"created\":1795543609,\"model\":\"openclaw/default\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
        );
        assert_eq!(
            f.usage(Usage::new(5, 6)),
            "data: {\"id\":\"chatcmpl_X\",\"object\":\"chat.completion.chunk\",\"created\":1795543609,\"model\":\"openclaw/default\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":6,\"total_tokens\":11}}\n\n"
        );
        assert_eq!(
            error_event("upstream provider error", "api_error"),
            "data: {\"error\":{\"message\":\"upstream provider error\",\"type\":\"api_error\"}}\n\n"
        );
    }
}
