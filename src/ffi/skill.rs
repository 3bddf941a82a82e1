//! The skill's life: `init`, `handle_event`, `post_prompt`, `info`, `shutdown`, `skill_free`,
//! and `string_free`. An `OcSkill*` is a leaked `Box<HostedSkill>`, released only by `skill_free`.

use std::path::Path;
use std::time::Duration;

use openclaw_skill_abi::{OcChunkStream, OcOwnedStr, OcSkill, OcStatus, OcStr};

use super::stream::StreamState;
use super::vtable::{PLUGIN_NAME, PLUGIN_VERSION};
use super::{arg, guard, put, report, required};
use crate::hosted::HostedSkill;
use crate::skill::SkillError;

/// Borrows the skill behind a handle.
///
/// # Safety
/// `skill` must be null or a live handle from `init`.
pub(super) unsafe fn hosted<'a>(skill: *const OcSkill) -> Result<&'a HostedSkill, SkillError> {
    // SAFETY: per the contract above.
    unsafe { skill.cast::<HostedSkill>().as_ref() }
        .ok_or_else(|| SkillError::new(OcStatus::INVALID_ARGUMENT, "skill is null"))
}

/// See [`openclaw_skill_abi::OcSkillVTable::init`].
///
/// # Safety
/// String arguments readable for the call; `out_skill` writable; `out_error` null or writable.
pub(super) unsafe extern "C" fn init(
    manifest_yaml: OcStr,
    manifest_path: OcStr,
    out_skill: *mut *mut OcSkill,
    out_error: *mut OcOwnedStr,
) -> OcStatus {
    let result = guard(|| {
        crate::logging::install();
        required(out_skill, "out_skill")?;
        // SAFETY: the caller keeps the strings readable for the call.
        let yaml = unsafe { arg(manifest_yaml, "manifest_yaml") }?;
        // SAFETY: as above.
        let path = unsafe { arg(manifest_path, "manifest_path") }?;
        let skill = HostedSkill::init(yaml, Path::new(path))?;
        let handle = Box::into_raw(Box::new(skill)).cast::<OcSkill>();
        // SAFETY: checked non-null above; the caller passes a writable `out_skill`.
        unsafe { out_skill.write(handle) };
        Ok(())
    });
    // SAFETY: the caller passes a null or writable `out_error`.
    unsafe { report(result, out_error) }
}

/// See [`openclaw_skill_abi::OcSkillVTable::handle_event`].
///
/// # Safety
/// `skill` a live handle; `event_json` readable for the call; `out_stream` writable;
/// `out_error` null or writable.
pub(super) unsafe extern "C" fn handle_event(
    skill: *const OcSkill,
    event_json: OcStr,
    out_stream: *mut *mut OcChunkStream,
    out_error: *mut OcOwnedStr,
) -> OcStatus {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        open_stream(
            skill,
            event_json,
            "event_json",
            out_stream,
            out_error,
            |hosted, json| {
                #[cfg(feature = "test-hooks")]
                crate::test_hooks::check(json, crate::test_hooks::Hook::HandleEvent);
                hosted.skill.handle_event(json, None)
            },
        )
    }
}

/// See [`openclaw_skill_abi::OcSkillVTable::post_prompt`].
///
/// # Safety
/// `skill` a live handle; `request_json` readable for the call; `out_stream` writable;
/// `out_error` null or writable.
pub(super) unsafe extern "C" fn post_prompt(
    skill: *const OcSkill,
    request_json: OcStr,
    out_stream: *mut *mut OcChunkStream,
    out_error: *mut OcOwnedStr,
) -> OcStatus {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        open_stream(
            skill,
            request_json,
            "request_json",
            out_stream,
            out_error,
            |hosted, json| hosted.skill.post(json),
        )
    }
}

/// What `handle_event` and `post_prompt` share: `start` gets the JSON argument (named `name`
/// in errors) and returns the reply's chunks, which go to the host as a stream handle.
///
/// # Safety
/// `skill` a live handle; `json` readable for the call; `out_stream` writable; `out_error`
/// null or writable.
unsafe fn open_stream(
    skill: *const OcSkill,
    json: OcStr,
    name: &str,
    out_stream: *mut *mut OcChunkStream,
    out_error: *mut OcOwnedStr,
    start: impl FnOnce(
        &HostedSkill,
        &str,
    ) -> Result<
        tokio::sync::mpsc::UnboundedReceiver<openclaw_skill_abi::Chunk>,
        SkillError,
    >,
) -> OcStatus {
    let result = guard(|| {
        // SAFETY: the caller passes a live handle.
        let hosted = unsafe { hosted(skill) }?;
        required(out_stream, "out_stream")?;
        // SAFETY: the caller keeps the argument readable for the call.
        let json = unsafe { arg(json, name) }?;
        let state = StreamState::for_event(start(hosted, json)?, json);
        // SAFETY: checked non-null above; the caller passes a writable `out_stream`.
        unsafe { out_stream.write(state.into_handle()) };
        Ok(())
    });
    // SAFETY: the caller passes a null or writable `out_error`.
    unsafe { report(result, out_error) }
}

/// See [`openclaw_skill_abi::OcSkillVTable::info`].
///
/// # Safety
/// `skill` null or a live handle; `out_json` null or writable.
pub(super) unsafe extern "C" fn info(skill: *const OcSkill, out_json: *mut OcOwnedStr) -> OcStatus {
    let result = guard(|| {
        let mut json = serde_json::json!({
            "plugin": {"name": PLUGIN_NAME, "version": PLUGIN_VERSION},
            "abi_version": openclaw_skill_abi::OC_SKILL_ABI_VERSION,
            "log_records_dropped": crate::logging::dropped_total(),
        });
        if !skill.is_null() {
            // SAFETY: non-null, so the caller passes a live handle.
            let hosted = unsafe { hosted(skill) }?;
            if let (Some(obj), serde_json::Value::Object(more)) =
                (json.as_object_mut(), hosted.skill.info())
            {
                obj.extend(more);
            }
        }
        // SAFETY: the caller passes a null or writable `out_json`.
        unsafe { put(out_json, OcOwnedStr::from_string(json.to_string())) };
        Ok(())
    });
    // SAFETY: a null `out_error` is always allowed.
    unsafe { report(result, std::ptr::null_mut()) }
}

/// See [`openclaw_skill_abi::OcSkillVTable::shutdown`].
///
/// # Safety
/// `skill` a live handle.
pub(super) unsafe extern "C" fn shutdown(skill: *const OcSkill, deadline_ms: u32) -> OcStatus {
    let result = guard(|| {
        // SAFETY: the caller passes a live handle.
        let hosted = unsafe { hosted(skill) }?;
        hosted
            .skill
            .shutdown(Duration::from_millis(u64::from(deadline_ms)));
        Ok(())
    });
    // SAFETY: a null `out_error` is always allowed.
    unsafe { report(result, std::ptr::null_mut()) }
}

/// See [`openclaw_skill_abi::OcSkillVTable::skill_free`].
///
/// # Safety
/// `skill` null or a live handle no other thread uses; not used afterwards.
pub(super) unsafe extern "C" fn skill_free(skill: *mut OcSkill) {
    let _ = guard(|| {
        if !skill.is_null() {
            // SAFETY: the caller hands back a handle made by `init` (a leaked Box), once.
            drop(unsafe { Box::from_raw(skill.cast::<HostedSkill>()) });
        }
        Ok(())
    });
}

/// See [`openclaw_skill_abi::OcSkillVTable::string_free`].
///
/// # Safety
/// `s` handed out by this plugin and not yet released (or empty).
pub(super) unsafe extern "C" fn string_free(s: OcOwnedStr) {
    let _ = guard(|| {
        // SAFETY: the caller hands back a string this plugin allocated, once.
        drop(unsafe { s.into_string() });
        Ok(())
    });
}
