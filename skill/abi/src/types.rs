//! Plain `repr(C)` value types shared by the plugin and every host (C, C++, Node, Rust).
//!
//! Everything here is described in `include/openclaw_skill.h`. Only integers, `bool`,
//! pointer + length strings, enums with explicit values, function pointers and opaque
//! handles cross the boundary.

use std::ffi::c_void;

use abi_stable::StableAbi;

/// The version of the C contract. Bumped only for a breaking change, which also gets a new
/// entry symbol (`openclaw_skill_vtable_v2`); additive changes append vtable fields instead.
pub const OC_SKILL_ABI_VERSION: u32 = 1;

/// A borrowed UTF-8 string: pointer + length in bytes, not NUL-terminated.
///
/// Ownership: never owned by the receiver. Lifetime: as stated by the function or struct
/// that hands it over. A `len` of 0 may come with a null `ptr`.
#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug)]
pub struct OcStr {
    /// First byte, or null when `len` is 0.
    pub ptr: *const u8,
    /// Length in bytes.
    pub len: usize,
}

impl OcStr {
    /// Borrows `s` for as long as `s` lives; the caller keeps `s` alive while the `OcStr` is used.
    pub fn borrow(s: &str) -> OcStr {
        OcStr {
            ptr: s.as_ptr(),
            len: s.len(),
        }
    }

    /// The empty string (null pointer, length 0).
    pub const fn empty() -> OcStr {
        OcStr {
            ptr: std::ptr::null(),
            len: 0,
        }
    }

    /// Reads the bytes as UTF-8.
    ///
    /// # Safety
    /// `ptr` must point to `len` readable bytes that stay valid and unchanged for `'a`
    /// (or `len` must be 0).
    pub unsafe fn as_str<'a>(self) -> Result<&'a str, std::str::Utf8Error> {
        if self.len == 0 || self.ptr.is_null() {
            return Ok("");
        }
        // SAFETY: the caller guarantees `ptr..ptr+len` is readable for 'a.
        let bytes = unsafe { std::slice::from_raw_parts(self.ptr, self.len) };
        std::str::from_utf8(bytes)
    }
}

/// A UTF-8 string allocated by the plugin and owned by the host.
///
/// Ownership: the host owns it and must give it back exactly once with
/// `OcSkillVTable::string_free` (never `free()`). Threads: any.
#[repr(C)]
#[derive(StableAbi, Debug)]
pub struct OcOwnedStr {
    /// First byte, or null for the empty string.
    pub ptr: *mut u8,
    /// Length in bytes (also the allocation size).
    pub len: usize,
}

impl OcOwnedStr {
    /// The empty string; `string_free` accepts it and does nothing.
    pub const fn empty() -> OcOwnedStr {
        OcOwnedStr {
            ptr: std::ptr::null_mut(),
            len: 0,
        }
    }

    /// Leaks `s` into an owned C string; release with [`OcOwnedStr::into_string`] in the
    /// library that allocated it (the plugin's `string_free`).
    pub fn from_string(s: String) -> OcOwnedStr {
        if s.is_empty() {
            return OcOwnedStr::empty();
        }
        let boxed: Box<[u8]> = s.into_bytes().into_boxed_slice();
        let len = boxed.len();
        let ptr = Box::into_raw(boxed) as *mut u8;
        OcOwnedStr { ptr, len }
    }

    /// Takes the allocation back.
    ///
    /// # Safety
    /// `self` must come from [`OcOwnedStr::from_string`] **in this same library copy**
    /// (allocators are per `.so`) and must not have been released before.
    pub unsafe fn into_string(self) -> String {
        if self.ptr.is_null() {
            return String::new();
        }
        // SAFETY: ptr/len were produced by Box::into_raw of a Box<[u8]> of this length.
        let boxed =
            unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(self.ptr, self.len)) };
        String::from_utf8(boxed.into_vec()).unwrap_or_default()
    }

    /// Borrows the contents.
    ///
    /// # Safety
    /// `self` must be a live string handed out by the plugin and not yet released.
    pub unsafe fn as_str(&self) -> &str {
        // SAFETY: forwarded to the caller's guarantee.
        unsafe {
            OcStr {
                ptr: self.ptr,
                len: self.len,
            }
            .as_str()
        }
        .unwrap_or("")
    }
}

/// Result of a vtable call.
#[repr(u32)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OcStatus {
    /// Success.
    Ok = 0,
    /// `next_chunk`: no chunk arrived within the timeout; call again.
    Timeout = 1,
    /// `next_chunk`: the stream is over (its terminal chunk was already delivered).
    End = 2,
    /// A null or malformed argument, or an event that is not a DingTalk robot message; the
    /// error text names the field.
    InvalidArgument = 3,
    /// The manifest is invalid; the error text names the key and its line.
    Config = 4,
    /// `shutdown` was called: the skill takes no new events.
    ShuttingDown = 5,
    /// The plugin panicked inside this call; the panic was caught and the process is intact.
    Panicked = 6,
    /// Any other failure; see the error text.
    Internal = 7,
}

/// What a chunk of the reply stream carries.
#[repr(u32)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OcChunkKind {
    /// The AI Card was created; `text` is its card id (DingTalk `outTrackId`). First chunk of a reply.
    Started = 1,
    /// Answer text from the gateway; `text` is the new piece (append it).
    Delta = 2,
    /// Reasoning text from the gateway (`reasoning_content`); `text` is the new piece.
    Reasoning = 3,
    /// Terminal: the answer is complete and the card finalized; `usage` when the gateway sent it.
    Finished = 4,
    /// Terminal: the reply failed; `failure` says why, `text` is a one-line reason. The card
    /// was finalized as failed with the text received so far.
    Failed = 5,
    /// Terminal: the event was answered with a plain message instead of a model reply
    /// (a command such as `/new`, an access refusal, an unsupported message type); `text`
    /// is the message that was sent.
    Replied = 6,
    /// Terminal: nothing was done (a duplicate delivery of a message already handled); `text`
    /// says why.
    Skipped = 7,
}

impl OcChunkKind {
    /// Whether this is the last chunk of its stream.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            OcChunkKind::Finished
                | OcChunkKind::Failed
                | OcChunkKind::Replied
                | OcChunkKind::Skipped
        )
    }
}

/// Why a reply failed (`OcChunkKind::Failed`).
#[repr(u32)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OcFailureKind {
    /// Not a failure.
    None = 0,
    /// The gateway answered with an error (HTTP status or an error inside the stream); `text`
    /// carries the gateway's own message.
    Gateway = 1,
    /// The gateway could not be reached, or the stream broke off without `[DONE]`.
    GatewayUnreachable = 2,
    /// A deadline passed (connect, first byte, idle between events, total).
    Timeout = 3,
    /// The user stopped the reply (`/stop`, `停止`).
    Stopped = 4,
    /// DingTalk refused to create or update the card and no fallback reached the user.
    DingTalk = 5,
    /// The skill shut down before the reply finished.
    ShuttingDown = 6,
    /// A bug inside the plugin (for example a panic in the reply task).
    Internal = 7,
}

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
    /// Why the reply failed; `None` unless `kind` is `Failed`.
    pub failure: OcFailureKind,
    /// Card id, text piece, or reason, depending on `kind`.
    pub text: OcStr,
    /// Usage, for `Finished`.
    pub usage: OcUsage,
}

impl OcChunk {
    /// A zeroed chunk to pass as an out-parameter.
    pub const fn empty() -> OcChunk {
        OcChunk {
            kind: OcChunkKind::Skipped,
            failure: OcFailureKind::None,
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

/// Log levels used by [`OcLogSink`], numerically equal to the `log` crate's levels.
#[repr(u32)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OcLogLevel {
    /// Logging off (only meaningful as `max_level`).
    Off = 0,
    /// Errors.
    Error = 1,
    /// Warnings.
    Warn = 2,
    /// Informational lines.
    Info = 3,
    /// Debugging detail.
    Debug = 4,
    /// Very verbose tracing.
    Trace = 5,
}

/// The host's logger, handed to `init`. The plugin forwards its `log` records here.
///
/// Ownership: the host owns `user`; the plugin copies this struct and keeps calling `log`
/// until the process exits (the library is never unloaded), so `user` must stay valid for
/// the life of the process. Threads: `log` is called from any plugin thread, concurrently;
/// it must be thread-safe and must not call back into the plugin.
#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug)]
pub struct OcLogSink {
    /// Opaque host pointer passed back to `log`.
    pub user: *mut c_void,
    /// Most verbose level to forward, as an `OcLogLevel` value (0 = off).
    pub max_level: u32,
    /// Receives one record: level (`OcLogLevel` value), target (module path) and message.
    /// The strings are valid only during the call. Null = discard logs.
    pub log:
        Option<unsafe extern "C" fn(user: *mut c_void, level: u32, target: OcStr, message: OcStr)>,
}

/// Opaque handle to an initialised skill. Created by `init`, released by `skill_free`.
/// Threads: any thread may call `handle_event`, `info` and `shutdown` concurrently.
#[repr(C)]
#[derive(StableAbi)]
pub struct OcSkill {
    _private: [u8; 0],
}

/// Opaque handle to one reply's chunk stream. Created by `handle_event`, released by
/// `stream_free`. Threads: one thread at a time (it may move between threads).
#[repr(C)]
#[derive(StableAbi)]
pub struct OcChunkStream {
    _private: [u8; 0],
}
