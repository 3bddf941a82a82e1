//! `openclaw_skill_vtable_v1`: the C entry point and the functions of the vtable.
//!
//! Handles: an `OcSkill*` is a leaked `Box<Skill>`; an `OcChunkStream*` is a leaked
//! `Box<StreamState>`. Both are released only by their `*_free` function.

use std::path::Path;
use std::time::Duration;

use openclaw_skill_abi::{
    OcChunk, OcChunkStream, OcLogSink, OcOwnedStr, OcSkill, OcSkillVTable, OcStatus, OcStr,
};

use super::stream::{Pull, StreamState};
use super::{arg, guard};
use crate::logging;
use crate::skill::{Skill, SkillError};

/// The ABI version this plugin implements (`#define OC_SKILL_ABI_VERSION` in the header);
/// pinned to the contract crate's value at compile time.
pub const OC_SKILL_ABI_VERSION: u32 = 1;
const _: () = assert!(OC_SKILL_ABI_VERSION == openclaw_skill_abi::OC_SKILL_ABI_VERSION);

const PLUGIN_NAME: &str = env!("CARGO_PKG_NAME");
const PLUGIN_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The vtable lives in a static; raw pointers in it only point at other statics.
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
    check_manifest,
    init,
    handle_event,
    next_chunk,
    stream_free,
    info,
    shutdown,
    skill_free,
    string_free,
});

/// Returns the skill's function table (a static, valid for the life of the process; the
/// library is never unloaded). Thread-safe; never fails.
#[no_mangle]
pub extern "C" fn openclaw_skill_vtable_v1() -> *const OcSkillVTable {
    &VTABLE.0
}

/// The same vtable as a reference, for the Rust root module.
pub(crate) fn vtable() -> &'static OcSkillVTable {
    &VTABLE.0
}

/// Borrows the skill behind a handle.
///
/// # Safety
/// `skill` must be null or a live handle from `init`.
unsafe fn skill_ref<'a>(skill: *const OcSkill) -> Result<&'a Skill, SkillError> {
    // SAFETY: per the contract above.
    unsafe { skill.cast::<Skill>().as_ref() }
        .ok_or_else(|| SkillError::new(OcStatus::InvalidArgument, "skill is null"))
}

/// Writes `value` through `out` when `out` is not null.
///
/// # Safety
/// `out` must be null or valid for a write of one `T`.
unsafe fn put<T>(out: *mut T, value: T) {
    if !out.is_null() {
        // SAFETY: per the contract above.
        unsafe { out.write(value) };
    }
}

/// See [`OcSkillVTable::check_manifest`].
///
/// # Safety
/// String arguments must be readable for the call; out pointers null or writable.
unsafe extern "C" fn check_manifest(
    manifest_yaml: OcStr,
    manifest_dir: OcStr,
    out_summary: *mut OcOwnedStr,
    out_error: *mut OcOwnedStr,
) -> OcStatus {
    // SAFETY: forwarded to the caller's guarantees.
    unsafe {
        guard(out_error, || {
            let yaml = arg(manifest_yaml, "manifest_yaml")?;
            let dir = arg(manifest_dir, "manifest_dir")?;
            let manifest = crate::manifest::Manifest::load(yaml, Path::new(dir))
                .map_err(|e| SkillError::new(OcStatus::Config, e.to_string()))?;
            put(
                out_summary,
                OcOwnedStr::from_string(manifest.summary().to_string()),
            );
            Ok(())
        })
    }
}

/// See [`OcSkillVTable::init`].
///
/// # Safety
/// String arguments readable for the call; `log_sink` null or readable (it is copied);
/// out pointers null or writable.
unsafe extern "C" fn init(
    manifest_yaml: OcStr,
    manifest_dir: OcStr,
    log_sink: *const OcLogSink,
    out_skill: *mut *mut OcSkill,
    out_error: *mut OcOwnedStr,
) -> OcStatus {
    // SAFETY: forwarded to the caller's guarantees.
    unsafe {
        guard(out_error, || {
            if out_skill.is_null() {
                return Err(SkillError::new(
                    OcStatus::InvalidArgument,
                    "out_skill is null",
                ));
            }
            logging::install(log_sink.as_ref().copied());
            let yaml = arg(manifest_yaml, "manifest_yaml")?;
            let dir = arg(manifest_dir, "manifest_dir")?;
            let skill = Skill::init(yaml, Path::new(dir))?;
            out_skill.write(Box::into_raw(Box::new(skill)).cast());
            Ok(())
        })
    }
}

/// See [`OcSkillVTable::handle_event`].
///
/// # Safety
/// `skill` a live handle; `event_json` readable for the call; out pointers null or writable.
unsafe extern "C" fn handle_event(
    skill: *const OcSkill,
    event_json: OcStr,
    out_stream: *mut *mut OcChunkStream,
    out_error: *mut OcOwnedStr,
) -> OcStatus {
    // SAFETY: forwarded to the caller's guarantees.
    unsafe {
        guard(out_error, || {
            let skill = skill_ref(skill)?;
            if out_stream.is_null() {
                return Err(SkillError::new(
                    OcStatus::InvalidArgument,
                    "out_stream is null",
                ));
            }
            let json = arg(event_json, "event_json")?;
            #[cfg(feature = "test-hooks")]
            crate::test_hooks::check(json, crate::test_hooks::Hook::HandleEvent);
            let rx = skill.handle_event(json)?;
            #[allow(unused_mut)]
            let mut state = StreamState::new(rx);
            #[cfg(feature = "test-hooks")]
            {
                state.panic_on_poll = crate::test_hooks::has(json, crate::test_hooks::Hook::Poll);
            }
            out_stream.write(state.into_handle());
            Ok(())
        })
    }
}

/// See [`OcSkillVTable::next_chunk`].
///
/// # Safety
/// `stream` a live handle used by this thread only; `out_chunk` writable.
unsafe extern "C" fn next_chunk(
    stream: *mut OcChunkStream,
    timeout_ms: u32,
    out_chunk: *mut OcChunk,
) -> OcStatus {
    let mut status = OcStatus::Ok;
    // SAFETY: forwarded to the caller's guarantees.
    let guarded = unsafe {
        guard(std::ptr::null_mut(), || {
            let state = StreamState::from_handle(stream)
                .ok_or_else(|| SkillError::new(OcStatus::InvalidArgument, "stream is null"))?;
            if out_chunk.is_null() {
                return Err(SkillError::new(
                    OcStatus::InvalidArgument,
                    "out_chunk is null",
                ));
            }
            status = match state.pull_blocking(Duration::from_millis(u64::from(timeout_ms))) {
                Pull::Chunk => {
                    out_chunk.write(state.current());
                    OcStatus::Ok
                }
                Pull::Pending => OcStatus::Timeout,
                Pull::End => OcStatus::End,
            };
            Ok(())
        })
    };
    if guarded == OcStatus::Ok {
        status
    } else {
        guarded
    }
}

/// See [`OcSkillVTable::stream_free`].
///
/// # Safety
/// `stream` null or a live handle, not used afterwards.
unsafe extern "C" fn stream_free(stream: *mut OcChunkStream) {
    // SAFETY: forwarded to the caller's guarantees.
    unsafe {
        guard(std::ptr::null_mut(), || {
            StreamState::free(stream);
            Ok(())
        });
    }
}

/// See [`OcSkillVTable::info`].
///
/// # Safety
/// `skill` null or a live handle; `out_json` null or writable.
unsafe extern "C" fn info(skill: *const OcSkill, out_json: *mut OcOwnedStr) -> OcStatus {
    // SAFETY: forwarded to the caller's guarantees.
    unsafe {
        guard(std::ptr::null_mut(), || {
            let mut json = serde_json::json!({
                "plugin": {"name": PLUGIN_NAME, "version": PLUGIN_VERSION},
                "abi_version": OC_SKILL_ABI_VERSION,
            });
            if let Some(skill) = skill.cast::<Skill>().as_ref() {
                if let (Some(obj), serde_json::Value::Object(more)) =
                    (json.as_object_mut(), skill.info())
                {
                    obj.extend(more);
                }
            }
            put(out_json, OcOwnedStr::from_string(json.to_string()));
            Ok(())
        })
    }
}

/// See [`OcSkillVTable::shutdown`].
///
/// # Safety
/// `skill` a live handle.
unsafe extern "C" fn shutdown(skill: *const OcSkill, deadline_ms: u32) -> OcStatus {
    // SAFETY: forwarded to the caller's guarantees.
    unsafe {
        guard(std::ptr::null_mut(), || {
            skill_ref(skill)?.shutdown(Duration::from_millis(u64::from(deadline_ms)));
            Ok(())
        })
    }
}

/// See [`OcSkillVTable::skill_free`].
///
/// # Safety
/// `skill` null or a live handle no other thread uses; not used afterwards.
unsafe extern "C" fn skill_free(skill: *mut OcSkill) {
    // SAFETY: forwarded to the caller's guarantees.
    unsafe {
        guard(std::ptr::null_mut(), || {
            if !skill.is_null() {
                drop(Box::from_raw(skill.cast::<Skill>()));
            }
            Ok(())
        });
    }
}

/// See [`OcSkillVTable::string_free`].
///
/// # Safety
/// `s` handed out by this plugin and not yet released (or empty).
unsafe extern "C" fn string_free(s: OcOwnedStr) {
    // SAFETY: forwarded to the caller's guarantees.
    unsafe {
        guard(std::ptr::null_mut(), || {
            drop(s.into_string());
            Ok(())
        });
    }
}
