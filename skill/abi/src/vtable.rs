//! The C vtable: the long-term contract for C, C++ and Node (koffi) hosts.

use abi_stable::StableAbi;

use crate::types::{OcChunk, OcChunkStream, OcLogSink, OcOwnedStr, OcSkill, OcStatus, OcStr};

/// The skill's function table, returned by `openclaw_skill_vtable_v1()`.
///
/// Ownership: a static inside the plugin; valid for the life of the process (the library
/// is never unloaded). Evolution: `struct_size` and `abi_version` come first and fields are
/// only ever appended; a host checks `struct_size >= sizeof(OcSkillVTable)` as it knows it
/// and `abi_version == OC_SKILL_ABI_VERSION`.
///
/// Every function catches panics inside the plugin and reports `OC_STATUS_PANICKED`
/// instead of unwinding into the host. Error texts never contain secrets.
#[repr(C)]
#[derive(StableAbi, Debug)]
pub struct OcSkillVTable {
    /// `sizeof(OcSkillVTable)` as built into the plugin.
    pub struct_size: u32,
    /// `OC_SKILL_ABI_VERSION` of the plugin.
    pub abi_version: u32,
    /// Plugin package name, static (valid for the process lifetime).
    pub plugin_name: OcStr,
    /// Plugin package version, static.
    pub plugin_version: OcStr,

    /// Validates a manifest without starting anything and describes it.
    ///
    /// `manifest_yaml` is the text of `openclaw-skill.yaml`, `manifest_dir` the directory
    /// relative paths resolve against; both are borrowed for the call. On `OC_STATUS_OK`
    /// `*out_summary` receives a JSON summary (secrets redacted); otherwise `*out_error`
    /// receives a one-line reason naming the key and line. Out strings are owned by the
    /// caller (release with `string_free`); either out pointer may be null. Threads: any.
    pub check_manifest: unsafe extern "C" fn(
        manifest_yaml: OcStr,
        manifest_dir: OcStr,
        out_summary: *mut OcOwnedStr,
        out_error: *mut OcOwnedStr,
    ) -> OcStatus,

    /// Starts a skill: parses the manifest, starts the plugin's own runtime, installs
    /// `log_sink` (copied; may be null) and finalizes cards a crashed process left in flight.
    ///
    /// On `OC_STATUS_OK` `*out_skill` receives a handle owned by the caller (release with
    /// `skill_free`). On error `*out_error` (nullable) receives the reason. Threads: any.
    pub init: unsafe extern "C" fn(
        manifest_yaml: OcStr,
        manifest_dir: OcStr,
        log_sink: *const OcLogSink,
        out_skill: *mut *mut OcSkill,
        out_error: *mut OcOwnedStr,
    ) -> OcStatus,

    /// Hands one raw DingTalk robot event (the Stream frame's `data` or an HTTP callback
    /// body, as JSON text borrowed for the call) to the skill and returns at once.
    ///
    /// On `OC_STATUS_OK` `*out_stream` receives the reply's chunk stream, owned by the caller
    /// (release with `stream_free`). The reply proceeds on plugin threads whether or not the
    /// stream is read. Errors: `OC_STATUS_INVALID_ARGUMENT` (the text names the bad field),
    /// `OC_STATUS_SHUTTING_DOWN`. Threads: any, concurrently.
    pub handle_event: unsafe extern "C" fn(
        skill: *const OcSkill,
        event_json: OcStr,
        out_stream: *mut *mut OcChunkStream,
        out_error: *mut OcOwnedStr,
    ) -> OcStatus,

    /// Pulls the next chunk, blocking the calling thread for at most `timeout_ms`
    /// (0 = just look). Returns `OC_STATUS_OK` with `*out_chunk` filled, `OC_STATUS_TIMEOUT`,
    /// or `OC_STATUS_END` after the terminal chunk. The chunk's text stays valid until the
    /// next call on this stream. Meant for a host worker thread (e.g. a koffi async call);
    /// never call it from a plugin log callback. Threads: one at a time per stream.
    pub next_chunk: unsafe extern "C" fn(
        stream: *mut OcChunkStream,
        timeout_ms: u32,
        out_chunk: *mut OcChunk,
    ) -> OcStatus,

    /// Releases a stream: the host stops listening. The reply and its card updates carry on
    /// and the card is still finalized. `stream` must not be used afterwards; null is ignored.
    pub stream_free: unsafe extern "C" fn(stream: *mut OcChunkStream),

    /// Describes the skill as JSON (plugin name and version, ABI version, skill name and
    /// version, counters). `skill` may be null for the static part. `*out_json` is owned by
    /// the caller (release with `string_free`). Threads: any.
    pub info: unsafe extern "C" fn(skill: *const OcSkill, out_json: *mut OcOwnedStr) -> OcStatus,

    /// Stops taking events (later `handle_event` calls get `OC_STATUS_SHUTTING_DOWN`),
    /// finalizes every reply in flight and returns within about `deadline_ms`; replies still
    /// running at the deadline are finalized as interrupted. The handle stays valid until
    /// `skill_free`. Threads: any.
    pub shutdown: unsafe extern "C" fn(skill: *const OcSkill, deadline_ms: u32) -> OcStatus,

    /// Releases the handle. Call once, after `shutdown`, when no other thread uses it.
    /// Null is ignored.
    pub skill_free: unsafe extern "C" fn(skill: *mut OcSkill),

    /// Releases a string the plugin handed out. The empty string is accepted.
    pub string_free: unsafe extern "C" fn(s: OcOwnedStr),
}
