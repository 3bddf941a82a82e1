//! `check_manifest` and `host_settings`: manifest questions that need no running skill.

use std::path::Path;

use openclaw_skill_abi::{OcOwnedStr, OcStatus, OcStr};

use super::{arg, guard, put, report};
use crate::hosted::{check_manifest as check_manifest_file, load_manifest};
use crate::manifest::Manifest;
use crate::skill::SkillError;

/// Loads the manifest named by the two string arguments with `how`.
///
/// # Safety
/// Both strings readable for the call.
unsafe fn load(
    yaml: OcStr,
    path: OcStr,
    how: fn(&str, &Path) -> Result<Manifest, SkillError>,
) -> Result<Manifest, SkillError> {
    crate::logging::install();
    // SAFETY: forwarded to the caller.
    let yaml = unsafe { arg(yaml, "manifest_yaml") }?;
    // SAFETY: forwarded to the caller.
    let path = unsafe { arg(path, "manifest_path") }?;
    how(yaml, Path::new(path))
}

/// See [`openclaw_skill_abi::OcSkillVTable::check_manifest`].
///
/// # Safety
/// String arguments readable for the call; out pointers null or writable.
pub(super) unsafe extern "C" fn check_manifest(
    manifest_yaml: OcStr,
    manifest_path: OcStr,
    out_summary: *mut OcOwnedStr,
    out_error: *mut OcOwnedStr,
) -> OcStatus {
    let result = guard(|| {
        // SAFETY: the caller keeps both strings readable for the call.
        let manifest = unsafe { load(manifest_yaml, manifest_path, check_manifest_file) }?;
        let summary = OcOwnedStr::from_string(manifest.summary().to_string());
        // SAFETY: the caller passes a null or writable `out_summary`.
        unsafe { put(out_summary, summary) };
        Ok(())
    });
    // SAFETY: the caller passes a null or writable `out_error`.
    unsafe { report(result, out_error) }
}

/// See [`openclaw_skill_abi::OcSkillVTable::host_settings`].
///
/// # Safety
/// String arguments readable for the call; out pointers null or writable.
pub(super) unsafe extern "C" fn host_settings(
    manifest_yaml: OcStr,
    manifest_path: OcStr,
    out_json: *mut OcOwnedStr,
    out_error: *mut OcOwnedStr,
) -> OcStatus {
    let result = guard(|| {
        // SAFETY: the caller keeps both strings readable for the call.
        let manifest = unsafe { load(manifest_yaml, manifest_path, load_manifest) }?;
        let json = OcOwnedStr::from_string(crate::ingress::host_settings(&manifest).to_string());
        // SAFETY: the caller passes a null or writable `out_json`.
        unsafe { put(out_json, json) };
        Ok(())
    });
    // SAFETY: the caller passes a null or writable `out_error`.
    unsafe { report(result, out_error) }
}
