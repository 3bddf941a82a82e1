//! The integer codes that cross the boundary: statuses, chunk kinds, failure kinds and log
//! levels.
//!
//! Each is a `#[repr(transparent)]` newtype over `u32` with named constants, never a Rust
//! `enum`: a value this side does not know (from a newer plugin or host) is data that can be
//! printed and compared, not undefined behaviour. In C they are `uint32_t` typedefs plus
//! constants. (The constants are written out, not generated, so that cbindgen sees them.)

use std::fmt;

use abi_stable::StableAbi;

/// `name()` and a `Debug` that prints the constant's name, for a code type and its constants.
macro_rules! named {
    ($name:ident: $($konst:ident),* $(,)?) => {
        impl $name {
            /// The constant's name, or `None` for a value this build does not know.
            pub fn name(self) -> Option<&'static str> {
                $(if self == $name::$konst {
                    return Some(stringify!($konst));
                })*
                None
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.name() {
                    Some(name) => f.write_str(name),
                    None => write!(f, "{}({})", stringify!($name), self.0),
                }
            }
        }
    };
}

/// Result of a vtable call.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OcStatus(pub u32);

impl OcStatus {
    /// Success.
    pub const OK: OcStatus = OcStatus(0);
    /// `next_chunk`/`next_log`: nothing arrived within the timeout; call again.
    pub const TIMEOUT: OcStatus = OcStatus(1);
    /// `next_chunk`: the stream is over (its terminal chunk was already delivered).
    pub const END: OcStatus = OcStatus(2);
    /// A null or malformed argument, or an event that is not a DingTalk robot message; the
    /// error text names the field.
    pub const INVALID_ARGUMENT: OcStatus = OcStatus(3);
    /// The manifest is invalid; the error text names the file, the key and its line.
    pub const CONFIG: OcStatus = OcStatus(4);
    /// `shutdown` was called: the skill takes no new events.
    pub const SHUTTING_DOWN: OcStatus = OcStatus(5);
    /// The plugin panicked inside this call; the panic was caught and the process is intact.
    pub const PANICKED: OcStatus = OcStatus(6);
    /// Any other failure; see the error text.
    pub const INTERNAL: OcStatus = OcStatus(7);
    /// `verify_callback`/`handle_callback`: the HTTP callback is refused; `OcRefusal` says
    /// with which HTTP status, the error text says why.
    pub const REFUSED: OcStatus = OcStatus(8);
}

named!(OcStatus: OK, TIMEOUT, END, INVALID_ARGUMENT, CONFIG, SHUTTING_DOWN, PANICKED, INTERNAL, REFUSED);

/// What a chunk of the reply stream carries.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OcChunkKind(pub u32);

impl OcChunkKind {
    /// The AI Card was created; `text` is its card id (DingTalk `outTrackId`). First chunk of
    /// a reply that has a card.
    pub const STARTED: OcChunkKind = OcChunkKind(1);
    /// Answer text from the gateway; `text` is the new piece (append it).
    pub const DELTA: OcChunkKind = OcChunkKind(2);
    /// Reasoning text from the gateway (`reasoning_content`); `text` is the new piece.
    pub const REASONING: OcChunkKind = OcChunkKind(3);
    /// Terminal: the answer is complete and reached the user; `usage` when the gateway sent it.
    pub const FINISHED: OcChunkKind = OcChunkKind(4);
    /// Terminal: the reply failed; `failure` says why, `text` is a one-line reason. The card
    /// was finalized as failed with the text received so far.
    pub const FAILED: OcChunkKind = OcChunkKind(5);
    /// Terminal: the event was answered with a plain message instead of a model reply (a
    /// command such as `/new`, an access refusal, an unsupported message type); `text` is the
    /// message that was sent.
    pub const REPLIED: OcChunkKind = OcChunkKind(6);
    /// Terminal: nothing was done (a duplicate delivery of a message already handled); `text`
    /// says why.
    pub const SKIPPED: OcChunkKind = OcChunkKind(7);
}

named!(OcChunkKind: STARTED, DELTA, REASONING, FINISHED, FAILED, REPLIED, SKIPPED);

/// Why a reply failed (`OC_CHUNK_KIND_FAILED`).
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OcFailureKind(pub u32);

impl OcFailureKind {
    /// Not a failure.
    pub const NONE: OcFailureKind = OcFailureKind(0);
    /// The gateway answered with an error (HTTP status or an error inside the stream); `text`
    /// carries the gateway's own message.
    pub const GATEWAY: OcFailureKind = OcFailureKind(1);
    /// The gateway could not be reached, or the stream broke off without `[DONE]`.
    pub const GATEWAY_UNREACHABLE: OcFailureKind = OcFailureKind(2);
    /// A deadline passed (connect, first byte, idle between events, total).
    pub const TIMEOUT: OcFailureKind = OcFailureKind(3);
    /// The user stopped the reply (`/stop`, `停止`).
    pub const STOPPED: OcFailureKind = OcFailureKind(4);
    /// DingTalk refused to create or update the card and no fallback reached the user.
    pub const DING_TALK: OcFailureKind = OcFailureKind(5);
    /// The skill shut down before the reply finished.
    pub const SHUTTING_DOWN: OcFailureKind = OcFailureKind(6);
    /// A bug inside the plugin (for example a panic in the reply task).
    pub const INTERNAL: OcFailureKind = OcFailureKind(7);
}

named!(OcFailureKind: NONE, GATEWAY, GATEWAY_UNREACHABLE, TIMEOUT, STOPPED, DING_TALK, SHUTTING_DOWN, INTERNAL);

/// Log levels, numerically equal to the `log` crate's levels.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OcLogLevel(pub u32);

impl OcLogLevel {
    /// Logging off (only meaningful for `set_log_level`).
    pub const OFF: OcLogLevel = OcLogLevel(0);
    /// Errors.
    pub const ERROR: OcLogLevel = OcLogLevel(1);
    /// Warnings.
    pub const WARN: OcLogLevel = OcLogLevel(2);
    /// Informational lines.
    pub const INFO: OcLogLevel = OcLogLevel(3);
    /// Debugging detail.
    pub const DEBUG: OcLogLevel = OcLogLevel(4);
    /// Very verbose tracing.
    pub const TRACE: OcLogLevel = OcLogLevel(5);
}

named!(OcLogLevel: OFF, ERROR, WARN, INFO, DEBUG, TRACE);

impl OcChunkKind {
    /// Whether this is the last chunk of its stream. Unknown kinds are not terminal.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            OcChunkKind::FINISHED
                | OcChunkKind::FAILED
                | OcChunkKind::REPLIED
                | OcChunkKind::SKIPPED
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_code_is_data_not_undefined_behaviour() {
        let from_a_newer_plugin = OcStatus(42);
        assert_eq!(from_a_newer_plugin.name(), None);
        assert_eq!(format!("{from_a_newer_plugin:?}"), "OcStatus(42)");
        assert_ne!(from_a_newer_plugin, OcStatus::OK);
        assert!(!OcChunkKind(99).is_terminal());
        assert_eq!(format!("{:?}", OcFailureKind::GATEWAY), "GATEWAY");
    }
}
