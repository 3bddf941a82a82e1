//! The unsafe boundary — the only place raw pointers are touched.
//!
//! - [`c`]: `openclaw_skill_vtable_v1`, the C vtable (C, C++, Node via koffi);
//! - [`rust`]: the abi_stable root module (Rust hosts), carrying the same vtable plus an
//!   async, waker-bridged pull;
//! - [`stream`]: the chunk stream handle both of them hand out.
//!
//! Every `extern "C"` function runs its body under [`guard`], which catches panics and turns
//! them into `OC_STATUS_PANICKED`, so no unwind ever crosses into the host.

pub mod c;
pub mod rust;
pub mod stream;

use std::panic::{catch_unwind, AssertUnwindSafe};

use openclaw_skill_abi::{OcOwnedStr, OcStatus, OcStr};

use crate::skill::SkillError;

/// Runs `body`, converting an `Err` or a panic into a status and (when `out_error` is not
/// null) an owned error string for the host.
///
/// # Safety
/// `out_error` must be null or valid for a write of one `OcOwnedStr`.
pub(crate) unsafe fn guard(
    out_error: *mut OcOwnedStr,
    body: impl FnOnce() -> Result<(), SkillError>,
) -> OcStatus {
    let (status, message) = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => return OcStatus::Ok,
        Ok(Err(e)) => (e.status, e.message),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            (OcStatus::Panicked, format!("the plugin panicked: {what}"))
        }
    };
    if !out_error.is_null() {
        // SAFETY: the caller guarantees `out_error` is writable.
        unsafe { out_error.write(OcOwnedStr::from_string(message)) };
    }
    status
}

/// Reads a borrowed string argument.
///
/// # Safety
/// `s` must satisfy [`OcStr::as_str`]'s contract for the duration of the call.
pub(crate) unsafe fn arg<'a>(s: OcStr, name: &str) -> Result<&'a str, SkillError> {
    // SAFETY: forwarded to the caller.
    unsafe { s.as_str() }.map_err(|_| {
        SkillError::new(
            OcStatus::InvalidArgument,
            format!("{name} is not valid UTF-8"),
        )
    })
}
