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
}
