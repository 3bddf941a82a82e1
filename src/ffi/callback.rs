//! Ingress questions about a running skill: `stream_open_request`,
//! `stream_open_request_app`, `verify_callback`, `handle_callback`.

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
        let body = OcOwnedStr::from_string(hosted.stream_open_body(None)?.expose().to_owned());
        // SAFETY: checked non-null above; the caller passes a writable `out_body`.
        unsafe { out_body.write(body) };
        Ok(())
    });
    // SAFETY: the caller passes a null or writable `out_error`.
    unsafe { report(result, out_error) }
}

/// See [`openclaw_skill_abi::OcSkillVTable::stream_open_request_app`].
///
/// # Safety
/// `skill` a live handle; `app` valid for the call; `out_body` writable; `out_error` null or
/// writable.
pub(super) unsafe extern "C" fn stream_open_request_app(
    skill: *const OcSkill,
    app: OcStr,
    out_body: *mut OcOwnedStr,
    out_error: *mut OcOwnedStr,
) -> OcStatus {
    let result = guard(|| {
        // SAFETY: the caller passes a live handle.
        let hosted = unsafe { hosted(skill) }?;
        // SAFETY: the caller passes a valid `app` for the call.
        let app = unsafe { arg(app, "app") }?;
        required(out_body, "out_body")?;
        let body = hosted.stream_open_body(Some(app))?;
        let body = OcOwnedStr::from_string(body.expose().to_owned());
        // SAFETY: checked non-null above; the caller passes a writable `out_body`.
        unsafe { out_body.write(body) };
        Ok(())
    });
    // SAFETY: the caller passes a null or writable `out_error`.
    unsafe { report(result, out_error) }
}

/// The error a refused or failed callback reports; a refusal also goes to `refused`, for the
/// host's `out_refusal`.
fn callback_error(e: CallbackError, refused: &mut Option<OcRefusal>) -> SkillError {
    match e {
        CallbackError::Skill(e) => e,
        CallbackError::Refused(Refused {
            http_status,
            kind,
            reason,
        }) => {
            *refused = Some(OcRefusal {
                http_status: u32::from(http_status),
                kind: OcStr::borrow(kind),
            });
            SkillError::new(OcStatus::REFUSED, reason)
        }
    }
}

/// As [`report`], also handing a refusal to `out_refusal`.
///
/// # Safety
/// `out_refusal` and `out_error` must each be null or writable.
unsafe fn report_refusal(
    result: Result<(), SkillError>,
    refused: Option<OcRefusal>,
    out_refusal: *mut OcRefusal,
    out_error: *mut OcOwnedStr,
) -> OcStatus {
    if let Some(refusal) = refused {
        // SAFETY: forwarded to the caller.
        unsafe { put(out_refusal, refusal) };
    }
    // SAFETY: forwarded to the caller.
    unsafe { report(result, out_error) }
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
        hosted
            .verify_callback(headers)
            .map_err(|e| callback_error(e, &mut refused))
    });
    // SAFETY: the caller passes null or writable `out_refusal` and `out_error`.
    unsafe { report_refusal(result, refused, out_refusal, out_error) }
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
        let reply = hosted
            .handle_callback(headers, body)
            .map_err(|e| callback_error(e, &mut refused))?;
        let state = StreamState::for_event(reply, body);
        // SAFETY: checked non-null above; the caller passes a writable `out_stream`.
        unsafe { out_stream.write(state.into_handle()) };
        Ok(())
    });
    // SAFETY: the caller passes null or writable `out_refusal` and `out_error`.
    unsafe { report_refusal(result, refused, out_refusal, out_error) }
}
