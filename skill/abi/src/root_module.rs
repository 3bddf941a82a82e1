//! The abi_stable root module: the entry point for Rust hosts, with load-time layout and
//! version checks. It carries the same C vtable plus an async, waker-bridged pull.

use abi_stable::{
    declare_root_module_statics, library::RootModule, package_version_strings,
    sabi_types::VersionStrings, StableAbi,
};
use async_ffi::{FfiContext, FfiPoll};

use crate::codes::OcStatus;
use crate::records::{OcChunk, OcChunkStream};
use crate::vtable::OcSkillVTable;

/// The plugin's root module (a prefix type: fields are only ever appended after
/// `poll_chunk`, and old hosts keep working with newer plugins).
///
/// Ownership: a static inside the plugin, valid for the life of the process.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = SkillModRef)))]
pub struct SkillMod {
    /// The C vtable; every synchronous operation goes through it.
    pub c_vtable: extern "C" fn() -> &'static OcSkillVTable,

    /// Async pull of the next chunk of `stream`, for hosts that await on their own runtime.
    ///
    /// Returns `Pending` after arranging for the waker in `cx` to be woken from a plugin
    /// thread, `Ready(OC_STATUS_OK)` with `*out_chunk` filled (text valid until the next call
    /// on the stream), `Ready(OC_STATUS_END)` after the terminal chunk, or `Panicked`.
    /// Threads: one at a time per stream, any host thread.
    #[sabi(last_prefix_field)]
    pub poll_chunk: unsafe extern "C" fn(
        stream: *mut OcChunkStream,
        cx: *mut FfiContext,
        out_chunk: *mut OcChunk,
    ) -> FfiPoll<OcStatus>,
}

impl RootModule for SkillModRef {
    declare_root_module_statics! {SkillModRef}
    const BASE_NAME: &'static str = "openclaw_dingtalk";
    const NAME: &'static str = "openclaw_dingtalk";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}
