//! The callback gate: the one interface through which the HTTP ingress has callbacks checked
//! and handed to the skill. The gate the host runs asks the plugin, which owns DingTalk's
//! signature rules (`ingress/plugin_rules.rs`); tests may put another one in its place.

use std::borrow::Cow;

use axum::http::{HeaderMap, StatusCode};
use openclaw_skill_abi::{ChunkStream, PluginError};

/// A refused callback: its answer's status, the `reason` label of
/// `openclaw_http_callback_rejected_total`, and what the answer and the log line say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackRefusal {
    /// The HTTP status it is answered with.
    pub status: StatusCode,
    /// The metric's `reason` label (`bad_signature`, `replay`, …).
    pub kind: Cow<'static, str>,
    /// A short reason, safe to log and to answer (never a secret).
    pub reason: String,
}

impl CallbackRefusal {
    /// A refusal with a fixed kind.
    pub fn new(status: StatusCode, kind: &'static str, reason: impl Into<String>) -> Self {
        CallbackRefusal {
            status,
            kind: Cow::Borrowed(kind),
            reason: reason.into(),
        }
    }
}

/// Why [`CallbackGate::accept`] did not give a reply.
#[derive(Debug)]
pub enum Rejected {
    /// The gate refused the callback (a replay, or headers no longer valid); the skill did not
    /// see it.
    Refused(CallbackRefusal),
    /// The skill refused the event (counted and answered like a Stream event's refusal).
    Skill(PluginError),
}

/// Checks DingTalk's HTTP callbacks and hands the good ones to the skill. Shared by every
/// connection (`Send + Sync`); both calls are synchronous and short (no I/O), made on the
/// runtime's worker threads.
pub trait CallbackGate: Send + Sync {
    /// Checks a callback's headers before its body is read. Changes nothing: a callback that
    /// passes may still be refused by [`CallbackGate::accept`].
    fn verify(&self, headers: &HeaderMap) -> Result<(), CallbackRefusal>;

    /// Hands a callback whose body was read to the skill: claims its signed pair (refused as a
    /// replay when that pair was accepted before), hands `event` to the skill, and keeps the
    /// pair only when the skill took the event (so DingTalk's retry of a refused one is
    /// answered).
    fn accept(&self, headers: &HeaderMap, event: &str) -> Result<ChunkStream, Rejected>;

    /// How callbacks are checked, for the start-up log line (e.g. `signature window 3600 s`).
    fn describe(&self) -> String;
}
