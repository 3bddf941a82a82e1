//! The `repr(C)` records filled in by the plugin for the host: reply chunks, log records and
//! callback refusals, plus the opaque handles.

use abi_stable::StableAbi;

use crate::codes::{OcChunkKind, OcFailureKind, OcLogLevel};
use crate::strings::OcStr;

/// Token usage reported by the gateway.
#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OcUsage {
    /// False when the gateway reported no usage; the counts are then 0.
    pub known: bool,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Total tokens.
    pub total_tokens: u64,
}

/// One chunk of a reply stream, as filled in by `next_chunk`.
///
/// Ownership: `text` is owned by the stream and stays valid until the next call on that
/// stream (`next_chunk`, `stream_free`); copy it to keep it.
#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug)]
pub struct OcChunk {
    /// What this chunk is.
    pub kind: OcChunkKind,
    /// Why the reply failed; `OC_FAILURE_KIND_NONE` unless `kind` is `FAILED`.
    pub failure: OcFailureKind,
    /// Card id, text piece, or reason, depending on `kind`.
    pub text: OcStr,
    /// Usage, for `FINISHED`.
    pub usage: OcUsage,
}

impl OcChunk {
    /// A zeroed chunk to pass as an out-parameter.
    pub const fn empty() -> OcChunk {
        OcChunk {
            kind: OcChunkKind(0),
            failure: OcFailureKind::NONE,
            text: OcStr::empty(),
            usage: OcUsage {
                known: false,
                prompt_tokens: 0,
                completion_tokens: 0,
                total_tokens: 0,
            },
        }
    }
}

/// One log record of the plugin, as filled in by `next_log`.
///
/// Ownership: `target` and `message` are owned by the plugin's log queue and stay valid until
/// the next `next_log` call; copy them to keep them.
#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug)]
pub struct OcLogRecord {
    /// Severity.
    pub level: OcLogLevel,
    /// The module path that logged it (e.g. `openclaw_dingtalk::reply`).
    pub target: OcStr,
    /// The message (never contains secrets).
    pub message: OcStr,
    /// Records dropped because the queue was full since the previous record was handed out.
    pub dropped_before: u64,
}

impl OcLogRecord {
    /// A zeroed record to pass as an out-parameter.
    pub const fn empty() -> OcLogRecord {
        OcLogRecord {
            level: OcLogLevel::OFF,
            target: OcStr::empty(),
            message: OcStr::empty(),
            dropped_before: 0,
        }
    }
}

/// How an HTTP callback is refused (`OC_STATUS_REFUSED` from `verify_callback` or
/// `handle_callback`); the error text is the reason, safe to log and to answer with.
#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug)]
pub struct OcRefusal {
    /// The HTTP status to answer with (401 no signature, 403 a bad or stale signature or a
    /// replay).
    pub http_status: u32,
    /// A stable machine label (`missing_signature`, `bad_timestamp`, `stale_timestamp`,
    /// `bad_signature`, `replay`), static in the plugin: valid for the life of the process.
    pub kind: OcStr,
}

impl OcRefusal {
    /// A zeroed refusal to pass as an out-parameter.
    pub const fn empty() -> OcRefusal {
        OcRefusal {
            http_status: 0,
            kind: OcStr::empty(),
        }
    }
}

/// Opaque handle to an initialised skill. Created by `init`, released by `skill_free`.
/// Threads: any thread may call the skill's functions concurrently, except `skill_free`.
#[repr(C)]
#[derive(StableAbi)]
pub struct OcSkill {
    _private: [u8; 0],
}

/// Opaque handle to one reply's chunk stream. Created by `handle_event`/`handle_callback`,
/// released by `stream_free`. Threads: one thread at a time (it may move between threads).
#[repr(C)]
#[derive(StableAbi)]
pub struct OcChunkStream {
    _private: [u8; 0],
}
