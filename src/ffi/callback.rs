//! Ingress questions about a running skill: `stream_open_request`, `verify_callback`,
//! `handle_callback`.

use openclaw_skill_abi::{OcChunkStream, OcOwnedStr, OcRefusal, OcSkill, OcStatus, OcStr};

use super::skill::hosted;
use super::stream::StreamState;
use super::{arg, guard, put, report, required};
use crate::hosted::CallbackError;
use crate::ingress::Refused;
use crate::skill::SkillError;

/// See [`openclaw_skill_abi::OcSkillVTable::stream_open_request`].
///
/// # Safety
/// `skill` a live handle; `out_body` writable; `out_error` null or writable.
pub(super) unsafe extern "C" fn stream_open_request(
    skill: *const OcSkill,
    out_body: *mut OcOwnedStr,
    out_error: *mut OcOwnedStr,
) -> OcStatus {
    let result = guard(|| {
        // SAFETY: the caller passes a live handle.
        let hosted = unsafe { hosted(skill) }?;
        required(out_body, "out_body")?;
        let body = OcOwnedStr::from_string(hosted.stream_open_body().expose().to_owned());
        // SAFETY: checked non-null above; the caller passes a writable `out_body`.
        unsafe { out_body.write(body) };
        Ok(())
    });
    // SAFETY: the caller passes a null or writable `out_error`.
    unsafe { report(result, out_error) }
}

/// Splits a callback outcome into the plain result and the refusal to hand out.
fn refusal(result: Result<(), CallbackError>) -> (Result<(), SkillError>, Option<OcRefusal>) {
    match result {
        Ok(()) => (Ok(()), None),
        Err(CallbackError::Skill(e)) => (Err(e), None),
        Err(CallbackError::Refused(Refused {
            http_status,
            kind,
            reason,
        })) => (
            Err(SkillError::new(OcStatus::REFUSED, reason)),
            Some(OcRefusal {
                http_status: u32::from(http_status),
                kind: OcStr::borrow(kind),
            }),
        ),
    }
}

/// See [`openclaw_skill_abi::OcSkillVTable::verify_callback`].
///
/// # Safety
/// `skill` a live handle; `headers_json` readable for the call; out pointers null or writable.
pub(super) unsafe extern "C" fn verify_callback(
    skill: *const OcSkill,
    headers_json: OcStr,
    out_refusal: *mut OcRefusal,
    out_error: *mut OcOwnedStr,
) -> OcStatus {
    let mut refused = None;
    let result = guard(|| {
        // SAFETY: the caller passes a live handle.
        let hosted = unsafe { hosted(skill) }?;
        // SAFETY: the caller keeps the headers readable for the call.
        let headers = unsafe { arg(headers_json, "headers_json") }?;
        let (result, refusal) = refusal(hosted.verify_callback(headers));
        refused = refusal;
        result
    });
    if let Some(refusal) = refused {
        // SAFETY: the caller passes a null or writable `out_refusal`.
        unsafe { put(out_refusal, refusal) };
    }
    // SAFETY: the caller passes a null or writable `out_error`.
    unsafe { report(result, out_error) }
}

/// See [`openclaw_skill_abi::OcSkillVTable::handle_callback`].
///
/// # Safety
/// `skill` a live handle; the strings readable for the call; `out_stream` writable; the other
/// out pointers null or writable.
pub(super) unsafe extern "C" fn handle_callback(
    skill: *const OcSkill,
    headers_json: OcStr,
    body: OcStr,
    out_stream: *mut *mut OcChunkStream,
    out_refusal: *mut OcRefusal,
    out_error: *mut OcOwnedStr,
) -> OcStatus {
    let mut refused = None;
    let result = guard(|| {
        // SAFETY: the caller passes a live handle.
        let hosted = unsafe { hosted(skill) }?;
        required(out_stream, "out_stream")?;
        // SAFETY: the caller keeps the headers readable for the call.
        let headers = unsafe { arg(headers_json, "headers_json") }?;
        // SAFETY: the caller keeps the body readable for the call.
        let body = unsafe { arg(body, "body") }?;
        match hosted.handle_callback(headers, body) {
            Ok(reply) => {
                let state = StreamState::for_event(reply, body);
                // SAFETY: checked non-null above; the caller passes a writable `out_stream`.
                unsafe { out_stream.write(state.into_handle()) };
            }
            Err(e) => {
                let (result, refusal) = refusal(Err(e));
                refused = refusal;
                return result;
            }
        }
        Ok(())
    });
    if let Some(refusal) = refused {
        // SAFETY: the caller passes a null or writable `out_refusal`.
        unsafe { put(out_refusal, refusal) };
    }
    // SAFETY: the caller passes a null or writable `out_error`.
    unsafe { report(result, out_error) }
}
