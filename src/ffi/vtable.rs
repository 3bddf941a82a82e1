//! `openclaw_skill_vtable_v2`: the C entry point and the static vtable it returns.

use openclaw_skill_abi::{OcSkillVTable, OcStr};

use super::{callback, logs, manifest, skill, stream};

/// The ABI version this plugin implements, pinned to the contract crate's value.
const OC_SKILL_ABI_VERSION: u32 = openclaw_skill_abi::OC_SKILL_ABI_VERSION;
const _: () = assert!(
    OC_SKILL_ABI_VERSION == 2,
    "the entry symbol below names version 2"
);

pub(crate) const PLUGIN_NAME: &str = env!("CARGO_PKG_NAME");
pub(crate) const PLUGIN_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The vtable lives in a static; the raw pointers in it only point at other statics.
struct StaticVTable(OcSkillVTable);
// SAFETY: the vtable is immutable and its pointers refer to 'static, immutable data.
unsafe impl Sync for StaticVTable {}

static VTABLE: StaticVTable = StaticVTable(OcSkillVTable {
    struct_size: std::mem::size_of::<OcSkillVTable>() as u32,
    abi_version: OC_SKILL_ABI_VERSION,
    plugin_name: OcStr {
        ptr: PLUGIN_NAME.as_ptr(),
        len: PLUGIN_NAME.len(),
    },
    plugin_version: OcStr {
        ptr: PLUGIN_VERSION.as_ptr(),
        len: PLUGIN_VERSION.len(),
    },
    check_manifest: manifest::check_manifest,
    host_settings: manifest::host_settings,
    init: skill::init,
    handle_event: skill::handle_event,
    stream_open_request: callback::stream_open_request,
    verify_callback: callback::verify_callback,
    handle_callback: callback::handle_callback,
    next_chunk: stream::next_chunk,
    stream_free: stream::stream_free,
    info: skill::info,
    shutdown: skill::shutdown,
    skill_free: skill::skill_free,
    set_log_level: logs::set_log_level,
    next_log: logs::next_log,
    string_free: skill::string_free,
    post_prompt: skill::post_prompt,
    stream_open_request_app: callback::stream_open_request_app,
});

/// Returns the skill's function table (a static, valid for the life of the process; the
/// library is never unloaded). Thread-safe; never fails.
#[no_mangle]
pub extern "C" fn openclaw_skill_vtable_v2() -> *const OcSkillVTable {
    &VTABLE.0
}

/// The same vtable as a reference, for the Rust root module.
pub(super) fn vtable() -> &'static OcSkillVTable {
    &VTABLE.0
}
