//! [`Skill`]: a running skill, driven from a Rust host.

use std::ptr::NonNull;
use std::time::Duration;

use super::error::PluginError;
use super::plugin::Plugin;
use super::stream::ChunkStream;
use crate::codes::OcStatus;
use crate::records::{OcChunkStream, OcRefusal, OcSkill};
use crate::secret::Secret;
use crate::strings::{OcOwnedStr, OcStr};

/// A running skill. Dropping it releases the handle (call [`Skill::shutdown`] first to
/// finalize replies in flight). Threads: any, concurrently.
pub struct Skill {
    plugin: Plugin,
    handle: NonNull<OcSkill>,
}

// SAFETY: the C contract makes `OcSkill` usable from any thread concurrently; `skill_free`
// happens once, in Drop, with `&mut self`.
unsafe impl Send for Skill {}
// SAFETY: as above.
unsafe impl Sync for Skill {}

/// Why the plugin refused an HTTP callback.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Not genuine, stale, replayed or not a robot message: answer with `http_status`.
    Callback {
        /// The HTTP status to answer with.
        http_status: u16,
        /// A stable label for metrics (`bad_signature`, `replayed`, …).
        kind: &'static str,
        /// Why, safe to log and to answer with.
        reason: String,
    },
    /// Any other error of the call (shutting down, a plugin panic).
    Plugin(PluginError),
}

impl Skill {
    pub(super) fn new(plugin: Plugin, handle: NonNull<OcSkill>) -> Skill {
        Skill { plugin, handle }
    }

    /// The plugin this skill runs in.
    pub fn plugin(&self) -> Plugin {
        self.plugin
    }

    /// Hands one raw DingTalk event (JSON) to the skill and returns its reply stream.
    pub fn handle_event(&self, event_json: &str) -> Result<ChunkStream, PluginError> {
        let mut stream: *mut OcChunkStream = std::ptr::null_mut();
        let mut error = OcOwnedStr::empty();
        // SAFETY: live handle; the event text outlives the call; out pointers are locals.
        let status = unsafe {
            (self.plugin.vtable.handle_event)(
                self.handle.as_ptr(),
                OcStr::borrow(event_json),
                &mut stream,
                &mut error,
            )
        };
        self.plugin.result(status, error)?;
        self.stream(stream)
    }

    /// Answers a prompt the robot posts on its own (`request_json` as described on
    /// [`OcSkillVTable::post_prompt`](crate::OcSkillVTable::post_prompt)) and returns its
    /// reply stream. A plugin built before the entry existed gets an error saying so.
    pub fn post_prompt(&self, request_json: &str) -> Result<ChunkStream, PluginError> {
        let vtable = self.plugin.vtable;
        let needed = std::mem::offset_of!(crate::OcSkillVTable, post_prompt)
            + std::mem::size_of_val(&vtable.post_prompt);
        if (vtable.struct_size as usize) < needed {
            return Err(PluginError::internal(
                "this plugin predates post_prompt (proactive cards): install the plugin built with this host",
            ));
        }
        let mut stream: *mut OcChunkStream = std::ptr::null_mut();
        let mut error = OcOwnedStr::empty();
        // SAFETY: live handle; `struct_size` covers the field (checked above); the request
        // text outlives the call; out pointers are locals.
        let status = unsafe {
            (vtable.post_prompt)(
                self.handle.as_ptr(),
                OcStr::borrow(request_json),
                &mut stream,
                &mut error,
            )
        };
        self.plugin.result(status, error)?;
        self.stream(stream)
    }

    /// The Stream-mode `connections/open` request body (it carries the app secret).
    pub fn stream_open_request(&self) -> Result<Secret, PluginError> {
        let mut body = OcOwnedStr::empty();
        let mut error = OcOwnedStr::empty();
        // SAFETY: live handle; out pointers are locals.
        let status = unsafe {
            (self.plugin.vtable.stream_open_request)(self.handle.as_ptr(), &mut body, &mut error)
        };
        let body = Secret::new(self.plugin.take_string(body));
        self.plugin.result(status, error).map(|()| body)
    }

    /// The `connections/open` body of the app named `app` (it carries that app's secret). A
    /// plugin built before the entry existed serves one app: its body is the first app's.
    pub fn stream_open_request_app(&self, app: &str) -> Result<Secret, PluginError> {
        let vtable = self.plugin.vtable;
        let needed = std::mem::offset_of!(crate::OcSkillVTable, stream_open_request_app)
            + std::mem::size_of_val(&vtable.stream_open_request_app);
        if (vtable.struct_size as usize) < needed {
            return self.stream_open_request();
        }
        let mut body = OcOwnedStr::empty();
        let mut error = OcOwnedStr::empty();
        // SAFETY: live handle; `struct_size` covers the field (checked above); the name
        // outlives the call; out pointers are locals.
        let status = unsafe {
            (vtable.stream_open_request_app)(
                self.handle.as_ptr(),
                OcStr::borrow(app),
                &mut body,
                &mut error,
            )
        };
        let body = Secret::new(self.plugin.take_string(body));
        self.plugin.result(status, error).map(|()| body)
    }

    /// Checks an HTTP callback's headers (`(name, value)` pairs) before its body is read.
    pub fn verify_callback<'h>(
        &self,
        headers: impl IntoIterator<Item = (&'h str, &'h str)>,
    ) -> Result<(), Refusal> {
        let headers = headers_json(headers);
        let mut refusal = OcRefusal::empty();
        let mut error = OcOwnedStr::empty();
        // SAFETY: live handle; the headers outlive the call; out pointers are locals.
        let status = unsafe {
            (self.plugin.vtable.verify_callback)(
                self.handle.as_ptr(),
                OcStr::borrow(&headers),
                &mut refusal,
                &mut error,
            )
        };
        self.refusal(status, refusal, error)
    }

    /// Verifies an HTTP callback, claims its signed timestamp and hands its body to the skill.
    pub fn handle_callback<'h>(
        &self,
        headers: impl IntoIterator<Item = (&'h str, &'h str)>,
        body: &str,
    ) -> Result<ChunkStream, Refusal> {
        let headers = headers_json(headers);
        let mut stream: *mut OcChunkStream = std::ptr::null_mut();
        let mut refusal = OcRefusal::empty();
        let mut error = OcOwnedStr::empty();
        // SAFETY: live handle; headers and body outlive the call; out pointers are locals.
        let status = unsafe {
            (self.plugin.vtable.handle_callback)(
                self.handle.as_ptr(),
                OcStr::borrow(&headers),
                OcStr::borrow(body),
                &mut stream,
                &mut refusal,
                &mut error,
            )
        };
        self.refusal(status, refusal, error)?;
        self.stream(stream).map_err(Refusal::Plugin)
    }

    /// The skill's description and counters, as JSON.
    pub fn info(&self) -> Result<String, PluginError> {
        let mut out = OcOwnedStr::empty();
        // SAFETY: live handle; `out` is a valid local.
        let status = unsafe { (self.plugin.vtable.info)(self.handle.as_ptr(), &mut out) };
        let json = self.plugin.take_string(out);
        self.plugin
            .result(status, OcOwnedStr::empty())
            .map(|()| json)
    }

    /// Stops intake and finalizes replies in flight, waiting at most about `deadline`.
    pub fn shutdown(&self, deadline: Duration) -> Result<(), PluginError> {
        let ms = u32::try_from(deadline.as_millis()).unwrap_or(u32::MAX);
        // SAFETY: live handle.
        let status = unsafe { (self.plugin.vtable.shutdown)(self.handle.as_ptr(), ms) };
        self.plugin.result(status, OcOwnedStr::empty())
    }

    fn stream(&self, stream: *mut OcChunkStream) -> Result<ChunkStream, PluginError> {
        let handle = NonNull::new(stream)
            .ok_or_else(|| PluginError::internal("plugin returned OK without a stream"))?;
        Ok(ChunkStream::new(self.plugin, handle))
    }

    fn refusal(
        &self,
        status: OcStatus,
        refusal: OcRefusal,
        error: OcOwnedStr,
    ) -> Result<(), Refusal> {
        if status != OcStatus::REFUSED {
            return self.plugin.result(status, error).map_err(Refusal::Plugin);
        }
        let reason = self.plugin.take_string(error);
        Err(Refusal::Callback {
            http_status: u16::try_from(refusal.http_status).unwrap_or(403),
            // SAFETY: the plugin's refusal kinds are static strings of the never-unloaded
            // library.
            kind: unsafe { refusal.kind.as_str() }.unwrap_or("refused"),
            reason,
        })
    }
}

impl Drop for Skill {
    fn drop(&mut self) {
        // SAFETY: the handle came from `init` and is released exactly once.
        unsafe { (self.plugin.vtable.skill_free)(self.handle.as_ptr()) };
    }
}

/// Header pairs as the JSON object the plugin reads (a later duplicate name wins).
fn headers_json<'h>(headers: impl IntoIterator<Item = (&'h str, &'h str)>) -> String {
    let map: serde_json::Map<String, serde_json::Value> = headers
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), serde_json::Value::from(v)))
        .collect();
    serde_json::Value::Object(map).to_string()
}
