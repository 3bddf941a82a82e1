//! Loading the plugin and driving it safely from Rust.
//!
//! [`Plugin::load_from_file`] / [`Plugin::load_from_directory`] go through abi_stable, which
//! refuses a plugin whose layout or package version does not match this crate. The safe
//! wrappers ([`Skill`], [`ChunkStream`]) own their handles and release them on drop.

use std::ffi::c_void;
use std::fmt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll};
use std::time::Duration;

use abi_stable::library::{LibraryError, RootModule};
use async_ffi::{ContextExt, FfiPoll};
use futures_util::Stream;

use crate::chunk::Chunk;
use crate::root_module::SkillModRef;
use crate::types::{
    OcChunk, OcChunkStream, OcLogSink, OcOwnedStr, OcSkill, OcStatus, OcStr, OC_SKILL_ABI_VERSION,
};
use crate::vtable::OcSkillVTable;

/// Why a plugin could not be loaded. `Display` is one line; [`LoadError::details`] holds
/// abi_stable's full report (hundreds of lines for a layout mismatch), for debug logs.
#[derive(Debug)]
pub struct LoadError {
    /// One-line summary.
    pub summary: String,
    /// The complete loader report.
    pub details: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary)
    }
}

impl std::error::Error for LoadError {}

impl LoadError {
    fn from_library(path: &Path, err: LibraryError) -> LoadError {
        let details = err.to_string();
        let what = match &err {
            LibraryError::OpenError { .. } => "cannot be opened".to_owned(),
            LibraryError::GetSymbolError { .. } => {
                "is not an openclaw-skill plugin (no root module symbol)".to_owned()
            }
            LibraryError::ParseVersionError(_) => "has an unreadable version string".to_owned(),
            LibraryError::IncompatibleVersionNumber {
                expected_version,
                actual_version,
                ..
            } => format!(
                "was built against skill ABI {actual_version}, this host expects {expected_version} (incompatible package versions)"
            ),
            LibraryError::AbiInstability(_) => match other_contract_version(&details) {
                Some(theirs) => format!(
                    "was built against openclaw-skill-abi {theirs}, this host has {} (incompatible package versions)",
                    env!("CARGO_PKG_VERSION")
                ),
                None => "has an incompatible ABI layout (built against a different openclaw-skill-abi)".to_owned(),
            },
            LibraryError::InvalidAbiHeader(_) | LibraryError::InvalidCAbi { .. } => {
                "was built with an incompatible abi_stable".to_owned()
            }
            LibraryError::RootModule { .. } => "failed its root-module initialisation".to_owned(),
            _ => "could not be loaded".to_owned(),
        };
        let first_line = details
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim();
        let summary = match &err {
            LibraryError::OpenError { .. } => {
                format!("plugin {} {what}: {first_line}", path.display())
            }
            _ => format!("plugin {} {what}", path.display()),
        };
        LoadError { summary, details }
    }
}

/// In an abi_stable layout report, the contract version of the other side when it differs
/// from ours (the report lists `package:'openclaw-skill-abi' version:'X'` for both sides).
fn other_contract_version(details: &str) -> Option<String> {
    let ours = env!("CARGO_PKG_VERSION");
    let marker = "package:'openclaw-skill-abi' version:'";
    details
        .match_indices(marker)
        .filter_map(|(i, _)| details[i + marker.len()..].split('\'').next())
        .find(|v| *v != ours)
        .map(str::to_owned)
}

/// An error returned by a vtable call: the status plus the plugin's one-line message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginError {
    /// The status code.
    pub status: OcStatus,
    /// The plugin's message (never contains secrets).
    pub message: String,
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({:?})", self.message, self.status)
    }
}

impl std::error::Error for PluginError {}

/// A loaded plugin. Cheap to copy; the library stays loaded for the life of the process.
#[derive(Clone, Copy)]
pub struct Plugin {
    module: SkillModRef,
    vtable: &'static OcSkillVTable,
}

impl fmt::Debug for Plugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.name())
            .field("version", &self.version())
            .finish()
    }
}

impl Plugin {
    /// Loads the plugin at `path` (checking layout and version), never to be unloaded.
    pub fn load_from_file(path: &Path) -> Result<Plugin, LoadError> {
        let module =
            SkillModRef::load_from_file(path).map_err(|e| LoadError::from_library(path, e))?;
        Plugin::from_module(module, path)
    }

    /// Loads `libopenclaw_dingtalk.so` from `dir`.
    pub fn load_from_directory(dir: &Path) -> Result<Plugin, LoadError> {
        let module =
            SkillModRef::load_from_directory(dir).map_err(|e| LoadError::from_library(dir, e))?;
        Plugin::from_module(module, dir)
    }

    /// The file name the plugin has on this platform (`libopenclaw_dingtalk.so` on Linux).
    pub fn library_file_name() -> String {
        format!(
            "{}{}{}",
            std::env::consts::DLL_PREFIX,
            SkillModRef::BASE_NAME,
            std::env::consts::DLL_SUFFIX
        )
    }

    fn from_module(module: SkillModRef, path: &Path) -> Result<Plugin, LoadError> {
        let vtable = (module.c_vtable())();
        if vtable.abi_version != OC_SKILL_ABI_VERSION
            || (vtable.struct_size as usize) < std::mem::size_of::<OcSkillVTable>()
        {
            let summary = format!(
                "plugin {} speaks skill ABI {} (vtable of {} bytes), this host speaks ABI {OC_SKILL_ABI_VERSION}",
                path.display(),
                vtable.abi_version,
                vtable.struct_size
            );
            return Err(LoadError {
                details: summary.clone(),
                summary,
            });
        }
        Ok(Plugin { module, vtable })
    }

    /// The plugin's package name.
    pub fn name(&self) -> &'static str {
        // SAFETY: the vtable's name is a static string of the never-unloaded plugin.
        unsafe { self.vtable.plugin_name.as_str() }.unwrap_or("?")
    }

    /// The plugin's package version.
    pub fn version(&self) -> &'static str {
        // SAFETY: as for `name`.
        unsafe { self.vtable.plugin_version.as_str() }.unwrap_or("?")
    }

    /// The plugin's ABI version.
    pub fn abi_version(&self) -> u32 {
        self.vtable.abi_version
    }

    /// The raw C vtable, for hosts that want to drive it directly.
    pub fn vtable(&self) -> &'static OcSkillVTable {
        self.vtable
    }

    /// Has the plugin validate a manifest; returns its JSON summary (secrets redacted).
    pub fn check_manifest(
        &self,
        manifest_yaml: &str,
        manifest_dir: &Path,
    ) -> Result<String, PluginError> {
        let dir = manifest_dir.to_string_lossy();
        let mut summary = OcOwnedStr::empty();
        let mut error = OcOwnedStr::empty();
        // SAFETY: the strings outlive the call; the out pointers are valid locals.
        let status = unsafe {
            (self.vtable.check_manifest)(
                OcStr::borrow(manifest_yaml),
                OcStr::borrow(&dir),
                &mut summary,
                &mut error,
            )
        };
        let summary = self.take_string(summary);
        self.result(status, error).map(|()| summary)
    }

    /// Starts a skill whose `log` records go to this process's `log` logger.
    pub fn init(&self, manifest_yaml: &str, manifest_dir: &Path) -> Result<Skill, PluginError> {
        self.init_with_sink(manifest_yaml, manifest_dir, host_log_sink())
    }

    /// Starts a skill with an explicit log sink.
    pub fn init_with_sink(
        &self,
        manifest_yaml: &str,
        manifest_dir: &Path,
        sink: OcLogSink,
    ) -> Result<Skill, PluginError> {
        let dir = manifest_dir.to_string_lossy();
        let mut handle: *mut OcSkill = std::ptr::null_mut();
        let mut error = OcOwnedStr::empty();
        // SAFETY: arguments outlive the call; the plugin copies the sink.
        let status = unsafe {
            (self.vtable.init)(
                OcStr::borrow(manifest_yaml),
                OcStr::borrow(&dir),
                &sink,
                &mut handle,
                &mut error,
            )
        };
        self.result(status, error)?;
        let handle = NonNull::new(handle).ok_or_else(|| PluginError {
            status: OcStatus::Internal,
            message: "plugin returned OK without a skill handle".into(),
        })?;
        Ok(Skill {
            plugin: *self,
            handle,
        })
    }

    /// Static plugin description (no skill needed), as JSON.
    pub fn info(&self) -> Result<String, PluginError> {
        let mut out = OcOwnedStr::empty();
        // SAFETY: null skill is allowed; `out` is a valid local.
        let status = unsafe { (self.vtable.info)(std::ptr::null(), &mut out) };
        let json = self.take_string(out);
        self.result(status, OcOwnedStr::empty()).map(|()| json)
    }

    fn take_string(&self, s: OcOwnedStr) -> String {
        // SAFETY: `s` was handed out by this plugin (or is empty) and is released exactly once here.
        let owned = unsafe { s.as_str() }.to_owned();
        // SAFETY: as above.
        unsafe { (self.vtable.string_free)(s) };
        owned
    }

    fn result(&self, status: OcStatus, error: OcOwnedStr) -> Result<(), PluginError> {
        let message = self.take_string(error);
        match status {
            OcStatus::Ok => Ok(()),
            status => Err(PluginError { status, message }),
        }
    }
}

/// A running skill. Dropping it releases the handle (call [`Skill::shutdown`] first to
/// finalize replies in flight).
pub struct Skill {
    plugin: Plugin,
    handle: NonNull<OcSkill>,
}

// SAFETY: the C contract makes `OcSkill` usable from any thread concurrently
// (`handle_event`, `info`, `shutdown`); `skill_free` happens once, in Drop, with `&mut self`.
unsafe impl Send for Skill {}
// SAFETY: as above.
unsafe impl Sync for Skill {}

impl Skill {
    /// The plugin this skill runs in.
    pub fn plugin(&self) -> Plugin {
        self.plugin
    }

    /// Hands one raw DingTalk event (JSON) to the skill and returns its reply stream.
    pub fn handle_event(&self, event_json: &str) -> Result<ChunkStream, PluginError> {
        let mut stream: *mut OcChunkStream = std::ptr::null_mut();
        let mut error = OcOwnedStr::empty();
        // SAFETY: live handle; the event text outlives the call.
        let status = unsafe {
            (self.plugin.vtable.handle_event)(
                self.handle.as_ptr(),
                OcStr::borrow(event_json),
                &mut stream,
                &mut error,
            )
        };
        self.plugin.result(status, error)?;
        let handle = NonNull::new(stream).ok_or_else(|| PluginError {
            status: OcStatus::Internal,
            message: "plugin returned OK without a stream".into(),
        })?;
        Ok(ChunkStream {
            plugin: self.plugin,
            handle,
            ended: false,
        })
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
}

impl Drop for Skill {
    fn drop(&mut self) {
        // SAFETY: the handle came from `init` and is released exactly once.
        unsafe { (self.plugin.vtable.skill_free)(self.handle.as_ptr()) };
    }
}

/// One reply's chunks. Pull with [`ChunkStream::next_blocking`] or use it as an async
/// [`Stream`] on any runtime (the plugin's threads wake the host's task). Dropping it stops
/// listening; the reply and its card updates carry on inside the plugin.
pub struct ChunkStream {
    plugin: Plugin,
    handle: NonNull<OcChunkStream>,
    ended: bool,
}

// SAFETY: a stream is used by one thread at a time (guaranteed by `&mut self`) and may move
// between threads per the C contract.
unsafe impl Send for ChunkStream {}

/// What [`ChunkStream::next_blocking`] saw.
#[derive(Debug, PartialEq, Eq)]
pub enum Pulled {
    /// A chunk.
    Chunk(Chunk),
    /// Nothing within the timeout.
    Timeout,
    /// The stream is over.
    End,
}

impl ChunkStream {
    /// Waits at most `timeout` for the next chunk.
    pub fn next_blocking(&mut self, timeout: Duration) -> Result<Pulled, PluginError> {
        if self.ended {
            return Ok(Pulled::End);
        }
        let ms = u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX);
        let mut chunk = OcChunk::empty();
        // SAFETY: live stream handle, used by this thread only; `chunk` is a valid local.
        let status =
            unsafe { (self.plugin.vtable.next_chunk)(self.handle.as_ptr(), ms, &mut chunk) };
        match status {
            OcStatus::Ok => {
                // SAFETY: the chunk text is valid until the next call on this stream.
                let chunk = unsafe { Chunk::from_oc(&chunk) };
                self.ended = chunk.is_terminal();
                Ok(Pulled::Chunk(chunk))
            }
            OcStatus::Timeout => Ok(Pulled::Timeout),
            OcStatus::End => {
                self.ended = true;
                Ok(Pulled::End)
            }
            status => {
                self.ended = true;
                Err(PluginError {
                    status,
                    message: format!("next_chunk failed with {status:?}"),
                })
            }
        }
    }
}

impl Stream for ChunkStream {
    type Item = Result<Chunk, PluginError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.ended {
            return Poll::Ready(None);
        }
        let poll_chunk = self.plugin.module.poll_chunk();
        let handle = self.handle.as_ptr();
        let mut chunk = OcChunk::empty();
        // SAFETY: live stream handle used by this task only; the FfiContext lives for the call.
        let polled = cx.with_ffi_context(|fcx| unsafe { poll_chunk(handle, fcx, &mut chunk) });
        match polled {
            FfiPoll::Pending => Poll::Pending,
            FfiPoll::Ready(OcStatus::Ok) => {
                // SAFETY: the chunk text is valid until the next call on this stream.
                let chunk = unsafe { Chunk::from_oc(&chunk) };
                self.ended = chunk.is_terminal();
                Poll::Ready(Some(Ok(chunk)))
            }
            FfiPoll::Ready(OcStatus::End) => {
                self.ended = true;
                Poll::Ready(None)
            }
            FfiPoll::Ready(status) => {
                self.ended = true;
                Poll::Ready(Some(Err(PluginError {
                    status,
                    message: format!("poll_chunk failed with {status:?}"),
                })))
            }
            FfiPoll::Panicked => {
                self.ended = true;
                Poll::Ready(Some(Err(PluginError {
                    status: OcStatus::Panicked,
                    message: "the plugin panicked while polling the stream".into(),
                })))
            }
        }
    }
}

impl Drop for ChunkStream {
    fn drop(&mut self) {
        // SAFETY: the handle came from `handle_event` and is released exactly once.
        unsafe { (self.plugin.vtable.stream_free)(self.handle.as_ptr()) };
    }
}

/// A log sink that forwards the plugin's records into this process's `log` logger.
pub fn host_log_sink() -> OcLogSink {
    OcLogSink {
        user: std::ptr::null_mut(),
        max_level: log::max_level() as u32,
        log: Some(forward_to_host_log),
    }
}

/// Forwards one plugin record into the host's `log`.
///
/// # Safety
/// `target` and `message` must be readable for the duration of the call (the plugin
/// guarantees that). Called from plugin threads; `log` is thread-safe.
unsafe extern "C" fn forward_to_host_log(
    _user: *mut c_void,
    level: u32,
    target: OcStr,
    message: OcStr,
) {
    let _ = std::panic::catch_unwind(|| {
        let level = match level {
            1 => log::Level::Error,
            2 => log::Level::Warn,
            3 => log::Level::Info,
            4 => log::Level::Debug,
            _ => log::Level::Trace,
        };
        // SAFETY: valid for the call, per the contract above.
        let target = unsafe { target.as_str() }.unwrap_or("plugin");
        // SAFETY: as above.
        let message = unsafe { message.as_str() }.unwrap_or("<invalid utf-8>");
        log::log!(target: target, level, "{message}");
    });
}

/// Where a manifest says the plugin library is: `library` (relative to the manifest's
/// directory) or, by default, [`Plugin::library_file_name`] next to the manifest.
pub fn library_path(manifest_dir: &Path, library: Option<&str>) -> PathBuf {
    match library {
        Some(lib) => manifest_dir.join(lib),
        None => manifest_dir.join(Plugin::library_file_name()),
    }
}
