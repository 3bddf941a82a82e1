//! The abi_stable root module for Rust hosts: the C vtable plus a waker-bridged async pull.

use std::panic::{catch_unwind, AssertUnwindSafe};

use abi_stable::export_root_module;
use abi_stable::prefix_type::PrefixTypeTrait;
use async_ffi::{FfiContext, FfiPoll};
use openclaw_skill_abi::{OcChunk, OcChunkStream, OcSkillVTable, OcStatus, SkillMod, SkillModRef};

use super::stream::{Pull, StreamState};

/// Exported as abi_stable's root-module symbol; checked for layout and version by the loader.
#[export_root_module]
pub fn get_root_module() -> SkillModRef {
    SkillMod {
        c_vtable,
        poll_chunk,
    }
    .leak_into_prefix()
}

/// The C vtable, reached through the layout-checked root module (a static; any thread).
extern "C" fn c_vtable() -> &'static OcSkillVTable {
    super::vtable::vtable()
}

/// See [`SkillMod::poll_chunk`].
///
/// # Safety
/// `stream` a live handle used by this task only; `cx` valid for the call; `out_chunk` writable.
unsafe extern "C" fn poll_chunk(
    stream: *mut OcChunkStream,
    cx: *mut FfiContext,
    out_chunk: *mut OcChunk,
) -> FfiPoll<OcStatus> {
    let result = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: per the contract above.
        let (Some(state), Some(cx)) = (unsafe { StreamState::from_handle(stream) }, unsafe {
            cx.as_mut()
        }) else {
            return FfiPoll::Ready(OcStatus::INVALID_ARGUMENT);
        };
        if out_chunk.is_null() {
            return FfiPoll::Ready(OcStatus::INVALID_ARGUMENT);
        }
        match cx.with_context(|cx| state.poll(cx)) {
            Pull::Chunk => {
                // SAFETY: checked non-null; the caller guarantees it is writable.
                unsafe { out_chunk.write(state.current()) };
                FfiPoll::Ready(OcStatus::OK)
            }
            Pull::Pending => FfiPoll::Pending,
            Pull::End => FfiPoll::Ready(OcStatus::END),
        }
    }));
    result.unwrap_or(FfiPoll::Panicked)
}
