//! The unsafe boundary: the only module (with the abi crate's loader) where raw pointers are
//! touched. Each `extern "C"` function is a few lines that turn pointers into references and
//! call safe code (`crate::hosted`, `crate::logging`, `crate::manifest`).
//!
//! - [`vtable`]: `openclaw_skill_vtable_v2`, the C entry point, and the vtable it returns;
//! - [`manifest`]: `check_manifest`, `host_settings` (no skill needed);
//! - [`skill`]: `init`, `handle_event`, `post_prompt`, `info`, `shutdown`, `skill_free`, `string_free`;
//! - [`callback`]: `stream_open_request`, `verify_callback`, `handle_callback`;
//! - [`stream`]: the chunk stream handle, `next_chunk`, `stream_free`;
//! - [`logs`]: `set_log_level`, `next_log`;
//! - [`rust`]: the abi_stable root module for Rust hosts (the same vtable plus an async pull).
//!
//! Every `extern "C"` function runs its body under [`guard`], which catches panics and turns
//! them into `OC_STATUS_PANICKED`, so no unwind ever crosses into the host; [`report`] hands
//! the outcome over. Each `unsafe {}` block is one call with a `SAFETY:` comment.
#![allow(unsafe_code)]

mod callback;
mod logs;
mod manifest;
mod rust;
mod skill;
mod stream;
pub mod vtable;

use std::panic::{catch_unwind, AssertUnwindSafe};

use openclaw_skill_abi::{OcOwnedStr, OcStatus, OcStr};

use crate::skill::SkillError;

/// Runs `body`, turning a panic into an `OC_STATUS_PANICKED` error.
fn guard(body: impl FnOnce() -> Result<(), SkillError>) -> Result<(), SkillError> {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|panic| {
        Err(SkillError::new(
            OcStatus::PANICKED,
            format!("the plugin panicked: {}", panic_text(&*panic)),
        ))
    })
}

/// The status of `result`; an error's message goes to `out_error` when it is not null.
///
/// # Safety
/// `out_error` must be null or valid for a write of one `OcOwnedStr`.
unsafe fn report(result: Result<(), SkillError>, out_error: *mut OcOwnedStr) -> OcStatus {
    match result {
        Ok(()) => OcStatus::OK,
        Err(e) => {
            // SAFETY: forwarded to the caller.
            unsafe { put(out_error, OcOwnedStr::from_string(e.message)) };
            e.status
        }
    }
}

/// The text of a caught panic payload.
fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// Reads a borrowed string argument.
///
/// # Safety
/// `s` must satisfy [`OcStr::as_str`]'s contract for the duration of the call.
unsafe fn arg<'a>(s: OcStr, name: &str) -> Result<&'a str, SkillError> {
    // SAFETY: forwarded to the caller.
    unsafe { s.as_str() }.map_err(|_| {
        SkillError::new(
            OcStatus::INVALID_ARGUMENT,
            format!("{name} is not valid UTF-8"),
        )
    })
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

/// Checks that a required out pointer is not null.
fn required<T>(out: *mut T, name: &str) -> Result<(), SkillError> {
    if out.is_null() {
        return Err(SkillError::new(
            OcStatus::INVALID_ARGUMENT,
            format!("{name} is null"),
        ));
    }
    Ok(())
}
