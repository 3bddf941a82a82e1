//! The owned, safe view of a reply chunk, shared by the plugin (which produces chunks) and
//! Rust hosts (which read them).

use crate::codes::{OcChunkKind, OcFailureKind};
use crate::records::{OcChunk, OcUsage};
use crate::strings::OcStr;

/// Token usage as reported by the gateway.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Total tokens.
    pub total_tokens: u64,
}

/// One step of a reply, in order. Exactly one terminal chunk (`Finished`, `Failed`,
/// `Replied`, `Skipped`) ends every stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Chunk {
    /// The AI Card exists; its id (DingTalk `outTrackId`).
    Started {
        /// The card id.
        card_id: String,
    },
    /// New answer text.
    Delta(String),
    /// New reasoning text.
    Reasoning(String),
    /// The answer is complete and the card finalized.
    Finished {
        /// Usage, when the gateway sent it.
        usage: Option<Usage>,
    },
    /// The reply failed; the card was finalized as failed with the text received so far.
    Failed {
        /// Why.
        kind: OcFailureKind,
        /// One-line reason (the gateway's own text for gateway errors).
        message: String,
    },
    /// A plain message was sent instead of a model reply (command, refusal, unsupported type).
    Replied(String),
    /// Nothing was done (duplicate delivery).
    Skipped(String),
    /// A kind this build does not know (from a newer plugin); not terminal. Hosts ignore it.
    Other {
        /// The kind's value.
        kind: OcChunkKind,
        /// Its text.
        text: String,
    },
}

impl Chunk {
    /// Whether this chunk ends its stream.
    pub fn is_terminal(&self) -> bool {
        self.kind().is_terminal()
    }

    /// The C kind of this chunk.
    pub fn kind(&self) -> OcChunkKind {
        match self {
            Chunk::Started { .. } => OcChunkKind::STARTED,
            Chunk::Delta(_) => OcChunkKind::DELTA,
            Chunk::Reasoning(_) => OcChunkKind::REASONING,
            Chunk::Finished { .. } => OcChunkKind::FINISHED,
            Chunk::Failed { .. } => OcChunkKind::FAILED,
            Chunk::Replied(_) => OcChunkKind::REPLIED,
            Chunk::Skipped(_) => OcChunkKind::SKIPPED,
            Chunk::Other { kind, .. } => *kind,
        }
    }

    /// The C view of this chunk; its text borrows from `self`.
    pub fn as_oc(&self) -> OcChunk {
        let (text, failure, usage) = match self {
            Chunk::Started { card_id } => (card_id.as_str(), OcFailureKind::NONE, None),
            Chunk::Delta(t)
            | Chunk::Reasoning(t)
            | Chunk::Replied(t)
            | Chunk::Skipped(t)
            | Chunk::Other { text: t, .. } => (t.as_str(), OcFailureKind::NONE, None),
            Chunk::Finished { usage } => ("", OcFailureKind::NONE, *usage),
            Chunk::Failed { kind, message } => (message.as_str(), *kind, None),
        };
        OcChunk {
            kind: self.kind(),
            failure,
            text: OcStr::borrow(text),
            usage: usage.map_or(OcUsage::default(), |u| OcUsage {
                known: true,
                prompt_tokens: u.prompt_tokens,
                completion_tokens: u.completion_tokens,
                total_tokens: u.total_tokens,
            }),
        }
    }

    /// Copies a C chunk into an owned one.
    ///
    /// # Safety
    /// `chunk.text` must be readable (it is, until the next call on the stream that filled it).
    pub unsafe fn from_oc(chunk: &OcChunk) -> Chunk {
        // SAFETY: forwarded to the caller's guarantee.
        let text = unsafe { chunk.text.as_str() }
            .unwrap_or_default()
            .to_owned();
        match chunk.kind {
            OcChunkKind::STARTED => Chunk::Started { card_id: text },
            OcChunkKind::DELTA => Chunk::Delta(text),
            OcChunkKind::REASONING => Chunk::Reasoning(text),
            OcChunkKind::FINISHED => Chunk::Finished {
                usage: chunk.usage.known.then_some(Usage {
                    prompt_tokens: chunk.usage.prompt_tokens,
                    completion_tokens: chunk.usage.completion_tokens,
                    total_tokens: chunk.usage.total_tokens,
                }),
            },
            OcChunkKind::FAILED => Chunk::Failed {
                kind: chunk.failure,
                message: text,
            },
            OcChunkKind::REPLIED => Chunk::Replied(text),
            OcChunkKind::SKIPPED => Chunk::Skipped(text),
            kind => Chunk::Other { kind, text },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_chunk_round_trips_through_the_c_view() {
        let chunks = [
            Chunk::Started {
                card_id: "card_1".into(),
            },
            Chunk::Delta("你好".into()),
            Chunk::Reasoning("thinking".into()),
            Chunk::Finished { usage: None },
            Chunk::Finished {
                usage: Some(Usage {
                    prompt_tokens: 5,
                    completion_tokens: 6,
                    total_tokens: 11,
                }),
            },
            Chunk::Failed {
                kind: OcFailureKind::GATEWAY,
                message: "upstream provider error".into(),
            },
            Chunk::Replied("已开始新会话".into()),
            Chunk::Skipped("duplicate".into()),
            Chunk::Other {
                kind: OcChunkKind(77),
                text: "来自更新的插件".into(),
            },
        ];
        for chunk in chunks {
            let oc = chunk.as_oc();
            // SAFETY: `oc` borrows from `chunk`, which is alive.
            let back = unsafe { Chunk::from_oc(&oc) };
            assert_eq!(back, chunk);
        }
    }
}
