//! The C vtable: the long-term contract for C, C++ and Node (koffi) hosts.
//!
//! Version 2 makes the plugin the single owner of the manifest and of DingTalk's ingress
//! rules: hosts ask it for their settings (`host_settings`), for the Stream-mode
//! `connections/open` body (`stream_open_request`) and whether an HTTP callback is genuine
//! (`verify_callback`, `handle_callback`). Logs are pulled (`next_log`), never pushed into a
//! host callback.

use abi_stable::StableAbi;

use crate::codes::{OcLogLevel, OcStatus};
use crate::records::{OcChunk, OcChunkStream, OcLogRecord, OcRefusal, OcSkill};
use crate::strings::{OcOwnedStr, OcStr};

/// The version of the C contract. A breaking change bumps it and gets a new entry symbol
/// (`openclaw_skill_vtable_v2` for this one); additive changes append vtable fields instead.
pub const OC_SKILL_ABI_VERSION: u32 = 2;

/// The skill's function table, returned by `openclaw_skill_vtable_v2()`.
///
/// Ownership: a static inside the plugin; valid for the life of the process (the library
/// is never unloaded). Evolution: `struct_size` and `abi_version` come first and fields are
/// only ever appended; a host checks `abi_version == OC_SKILL_ABI_VERSION` and
/// `struct_size >= sizeof(OcSkillVTable)` as it knows it.
///
/// Every function catches panics inside the plugin and reports `OC_STATUS_PANICKED`
/// instead of unwinding into the host. Error texts never contain secrets. Out pointers may be
/// null where not stated otherwise; owned out strings are released with `string_free`.
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
    /// `manifest_yaml` is the file's text, `manifest_path` its path as the operator gave it
    /// (error messages name it; relative paths inside resolve against its directory); both
    /// are borrowed for the call. Besides the file it checks what `init` will need (a
    /// writable `state_dir`, which it creates). On `OC_STATUS_OK` `*out_summary` receives a
    /// JSON summary (secrets redacted); on `OC_STATUS_CONFIG` `*out_error` lists every problem
    /// found, one per line, each naming the file, the key and its line. Threads: any.
    pub check_manifest: unsafe extern "C" fn(
        manifest_yaml: OcStr,
        manifest_path: OcStr,
        out_summary: *mut OcOwnedStr,
        out_error: *mut OcOwnedStr,
    ) -> OcStatus,

    /// What a host needs from the manifest to run the skill's ingress, resolved (defaults
    /// applied, `${VAR}` interpolated) and validated, as JSON without secrets:
    /// `{"ingress":{"mode":"stream"|"http","http":{"listen","path","max_body_bytes",
    /// "read_timeout_ms","max_connections","signature_window_secs"},"stream":{"open_url",
    /// "silence_timeout_ms"},"metrics_listen":null|"host:port"},"network":{"ca_file":null|path},
    /// "app_key","apps":[{"name","app_key","robot_code","open_url"}],"state_dir"}`: `apps` lists
    /// every DingTalk app in order (`app_key` and `stream.open_url` are the first app's).
    /// Arguments as for `check_manifest`. Threads: any.
    pub host_settings: unsafe extern "C" fn(
        manifest_yaml: OcStr,
        manifest_path: OcStr,
        out_json: *mut OcOwnedStr,
        out_error: *mut OcOwnedStr,
    ) -> OcStatus,

    /// Starts a skill: parses the manifest (arguments as for `check_manifest`), starts the
    /// plugin's own runtime and finalizes cards a crashed process left in flight (in the
    /// background).
    ///
    /// On `OC_STATUS_OK` `*out_skill` (required) receives a handle owned by the caller
    /// (release with `skill_free`). Threads: any.
    pub init: unsafe extern "C" fn(
        manifest_yaml: OcStr,
        manifest_path: OcStr,
        out_skill: *mut *mut OcSkill,
        out_error: *mut OcOwnedStr,
    ) -> OcStatus,

    /// Hands one raw DingTalk robot event (the Stream frame's `data`, as JSON text borrowed
    /// for the call) to the skill and returns at once.
    ///
    /// On `OC_STATUS_OK` `*out_stream` (required) receives the reply's chunk stream, owned by
    /// the caller (release with `stream_free`). The reply proceeds on plugin threads whether or
    /// not the stream is read. Errors: `OC_STATUS_INVALID_ARGUMENT` (the text names the bad
    /// field), `OC_STATUS_SHUTTING_DOWN`. Threads: any, concurrently.
    pub handle_event: unsafe extern "C" fn(
        skill: *const OcSkill,
        event_json: OcStr,
        out_stream: *mut *mut OcChunkStream,
        out_error: *mut OcOwnedStr,
    ) -> OcStatus,

    /// The body of the Stream-mode `POST {open_url}` (`connections/open`): the app's
    /// credentials and the topics the skill subscribes to.
    ///
    /// `*out_body` (required) receives JSON text that **contains the app secret**: send it and
    /// release it with `string_free` at once; never log it. Threads: any.
    pub stream_open_request: unsafe extern "C" fn(
        skill: *const OcSkill,
        out_body: *mut OcOwnedStr,
        out_error: *mut OcOwnedStr,
    ) -> OcStatus,

    /// Checks an HTTP callback's headers before its body is read: the signature, the
    /// timestamp window (`ingress.http.signature_window_secs`) and that this signed timestamp
    /// was not accepted before (a replay).
    ///
    /// `headers_json` is a JSON object of the request's headers (`{"timestamp":"…","sign":"…"}`
    /// for a robot message, `x-ddpaas-signature-timestamp` and `x-ddpaas-signature` for a card
    /// callback; names in any case; other headers are ignored), borrowed for the call. `OC_STATUS_OK`:
    /// read the body and call `handle_callback`. `OC_STATUS_REFUSED`: answer with
    /// `out_refusal->http_status`; `*out_error` is the reason. Threads: any.
    pub verify_callback: unsafe extern "C" fn(
        skill: *const OcSkill,
        headers_json: OcStr,
        out_refusal: *mut OcRefusal,
        out_error: *mut OcOwnedStr,
    ) -> OcStatus,

    /// Verifies an HTTP callback as `verify_callback` does, claims its signed timestamp (a
    /// second copy is refused as a replay) and hands its body (the raw robot event, borrowed
    /// for the call) to the skill as `handle_event` does. The claim is kept only when the
    /// event was accepted, so a callback refused for another reason can be delivered again.
    ///
    /// Statuses: `OC_STATUS_OK` (`*out_stream` as for `handle_event`), `OC_STATUS_REFUSED`
    /// (`*out_refusal`), `OC_STATUS_SHUTTING_DOWN`. Threads: any, concurrently.
    pub handle_callback: unsafe extern "C" fn(
        skill: *const OcSkill,
        headers_json: OcStr,
        body: OcStr,
        out_stream: *mut *mut OcChunkStream,
        out_refusal: *mut OcRefusal,
        out_error: *mut OcOwnedStr,
    ) -> OcStatus,

    /// Pulls the next chunk, blocking the calling thread for at most `timeout_ms`
    /// (0 = just look). Returns `OC_STATUS_OK` with `*out_chunk` (required) filled,
    /// `OC_STATUS_TIMEOUT`, or `OC_STATUS_END` after the terminal chunk. The chunk's text stays
    /// valid until the next call on this stream. Meant for a host worker thread (e.g. a koffi
    /// async call). Threads: one at a time per stream.
    pub next_chunk: unsafe extern "C" fn(
        stream: *mut OcChunkStream,
        timeout_ms: u32,
        out_chunk: *mut OcChunk,
    ) -> OcStatus,

    /// Releases a stream: the host stops listening. The reply and its card updates carry on
    /// and the card is still finalized. `stream` must not be used afterwards; null is ignored.
    pub stream_free: unsafe extern "C" fn(stream: *mut OcChunkStream),

    /// Describes the skill as JSON (plugin name and version, ABI version, skill name and
    /// version, counters, DingTalk budgets, dropped log records). `skill` may be null for the
    /// static part. `*out_json` is owned by the caller. Threads: any.
    pub info: unsafe extern "C" fn(skill: *const OcSkill, out_json: *mut OcOwnedStr) -> OcStatus,

    /// Stops taking events (later `handle_event` calls get `OC_STATUS_SHUTTING_DOWN`),
    /// finalizes every reply in flight and returns within about `deadline_ms`; replies still
    /// running at the deadline are finalized as interrupted. The handle stays valid until
    /// `skill_free`. Threads: any.
    pub shutdown: unsafe extern "C" fn(skill: *const OcSkill, deadline_ms: u32) -> OcStatus,

    /// Releases the handle. Call once, after `shutdown`, when no other thread uses it.
    /// Null is ignored.
    pub skill_free: unsafe extern "C" fn(skill: *mut OcSkill),

    /// Sets the most verbose level the plugin records (default `OC_LOG_LEVEL_INFO`);
    /// `OC_LOG_LEVEL_OFF` stops recording. Process-wide. Threads: any.
    pub set_log_level: unsafe extern "C" fn(max_level: OcLogLevel) -> OcStatus,

    /// Pulls the plugin's next log record, blocking the calling thread for at most
    /// `timeout_ms` (0 = just look): `OC_STATUS_OK` with `*out_record` (required) filled, or
    /// `OC_STATUS_TIMEOUT`. Records wait in a bounded process-wide queue; when it is full the
    /// oldest are dropped and counted (`dropped_before`, and `info`). The record's strings stay
    /// valid until the next `next_log` call. Plugin threads never wait for the host. Threads:
    /// one at a time (a single log-draining thread per process).
    pub next_log: unsafe extern "C" fn(timeout_ms: u32, out_record: *mut OcLogRecord) -> OcStatus,

    /// Releases a string the plugin handed out. The empty string is accepted.
    pub string_free: unsafe extern "C" fn(s: OcOwnedStr),

    // Appended fields: a host checks that `struct_size` covers a field before it calls it.
    /// Answers a prompt the robot posts on its own, with no inbound message, into a new AI
    /// Card of a group or a 1:1 chat (`openclaw-skill send`).
    ///
    /// `request_json` (borrowed for the call) is `{"group": "cid…"}` or `{"user": "staffId"}`
    /// with `"prompt"`, and optionally `"route"` (a route's name), `"app"` (an app's name,
    /// required when the manifest has several) and `"label"` (who asks, for the model and the
    /// logs). On `OC_STATUS_OK` `*out_stream` (required) receives the
    /// reply's chunk stream as for `handle_event`. Errors: `OC_STATUS_INVALID_ARGUMENT` (the
    /// text names the field, or the unknown route and the routes there are),
    /// `OC_STATUS_SHUTTING_DOWN`. Threads: any, concurrently.
    pub post_prompt: unsafe extern "C" fn(
        skill: *const OcSkill,
        request_json: OcStr,
        out_stream: *mut *mut OcChunkStream,
        out_error: *mut OcOwnedStr,
    ) -> OcStatus,

    /// The body of the Stream-mode `POST {open_url}` of the app named `app` (one of
    /// `host_settings`' `apps[].name`, borrowed for the call): a host opens one Stream
    /// connection per app, each at that app's `open_url`. `stream_open_request` is this for
    /// the first app.
    ///
    /// `*out_body` (required) receives JSON text that **contains the app's secret**: send it
    /// and release it with `string_free` at once; never log it. Errors:
    /// `OC_STATUS_INVALID_ARGUMENT` (no app has that name; the text lists the names).
    /// Threads: any.
    pub stream_open_request_app: unsafe extern "C" fn(
        skill: *const OcSkill,
        app: OcStr,
        out_body: *mut OcOwnedStr,
        out_error: *mut OcOwnedStr,
    ) -> OcStatus,
}

/// `struct_size` of the first v2 vtables, which end with `string_free`: a plugin must offer
/// at least these; fields after it are used only when `struct_size` covers them.
pub const OC_SKILL_VTABLE_V2_BASE_SIZE: usize = std::mem::offset_of!(OcSkillVTable, post_prompt);
