//! [`Plugin`]: loading the `.so` and the calls that need no running skill.

use std::fmt;
use std::path::Path;
use std::ptr::NonNull;

use abi_stable::library::{RawLibrary, RootModule};

use super::error::{LoadError, PluginError};
use super::skill::Skill;
use crate::codes::OcStatus;
use crate::records::OcSkill;
use crate::root_module::SkillModRef;
use crate::strings::{OcOwnedStr, OcStr};
use crate::vtable::{OcSkillVTable, OC_SKILL_ABI_VERSION, OC_SKILL_VTABLE_V2_BASE_SIZE};

/// The C entry symbol of this ABI version.
const ENTRY_SYMBOL: &[u8] = b"openclaw_skill_vtable_v2\0";
/// The entry symbol of ABI v1, which plugins of the 0.1 series export.
const V1_ENTRY_SYMBOL: &[u8] = b"openclaw_skill_vtable_v1\0";

/// A loaded plugin. Cheap to copy; the library stays loaded for the life of the process.
/// Threads: any.
#[derive(Clone, Copy)]
pub struct Plugin {
    pub(super) module: SkillModRef,
    pub(super) vtable: &'static OcSkillVTable,
}

// SAFETY: a `Plugin` holds references to the plugin's static, immutable vtable and root
// module in a library that is never unloaded; every function in them may be called from any
// thread (the C contract).
unsafe impl Send for Plugin {}
// SAFETY: as above.
unsafe impl Sync for Plugin {}

impl fmt::Debug for Plugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.name())
            .field("version", &self.version())
            .finish()
    }
}

impl Plugin {
    /// Loads the plugin at `path` (checking its ABI version, layout and package version),
    /// never to be unloaded.
    pub fn load_from_file(path: &Path) -> Result<Plugin, LoadError> {
        refuse_older_abi(path)?;
        let module =
            SkillModRef::load_from_file(path).map_err(|e| LoadError::from_library(path, e))?;
        Plugin::from_module(module, path)
    }

    /// Loads [`Plugin::library_file_name`] from `dir`.
    pub fn load_from_directory(dir: &Path) -> Result<Plugin, LoadError> {
        Plugin::load_from_file(&dir.join(Plugin::library_file_name()))
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
            || (vtable.struct_size as usize) < OC_SKILL_VTABLE_V2_BASE_SIZE
        {
            return Err(LoadError::plain(format!(
                "plugin {} speaks skill ABI v{} (vtable of {} bytes), this host speaks ABI v{OC_SKILL_ABI_VERSION}",
                path.display(),
                vtable.abi_version,
                vtable.struct_size
            )));
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

    /// Has the plugin validate the manifest at `manifest_path` (whose text is
    /// `manifest_yaml`); returns its JSON summary (secrets redacted). The error lists every
    /// problem, one per line.
    pub fn check_manifest(
        &self,
        manifest_yaml: &str,
        manifest_path: &Path,
    ) -> Result<String, PluginError> {
        self.manifest_call(self.vtable.check_manifest, manifest_yaml, manifest_path)
    }

    /// The manifest's resolved host settings, as JSON (see `OcSkillVTable::host_settings`).
    pub fn host_settings(
        &self,
        manifest_yaml: &str,
        manifest_path: &Path,
    ) -> Result<String, PluginError> {
        self.manifest_call(self.vtable.host_settings, manifest_yaml, manifest_path)
    }

    fn manifest_call(
        &self,
        call: unsafe extern "C" fn(OcStr, OcStr, *mut OcOwnedStr, *mut OcOwnedStr) -> OcStatus,
        manifest_yaml: &str,
        manifest_path: &Path,
    ) -> Result<String, PluginError> {
        let path = manifest_path.to_string_lossy();
        let mut out = OcOwnedStr::empty();
        let mut error = OcOwnedStr::empty();
        // SAFETY: the strings outlive the call; the out pointers are valid locals.
        let status = unsafe {
            call(
                OcStr::borrow(manifest_yaml),
                OcStr::borrow(&path),
                &mut out,
                &mut error,
            )
        };
        let out = self.take_string(out);
        self.result(status, error).map(|()| out)
    }

    /// Starts a skill from the manifest at `manifest_path` (whose text is `manifest_yaml`).
    /// Its log records wait in the plugin's queue: see [`super::forward_logs`].
    pub fn init(&self, manifest_yaml: &str, manifest_path: &Path) -> Result<Skill, PluginError> {
        let path = manifest_path.to_string_lossy();
        let mut handle: *mut OcSkill = std::ptr::null_mut();
        let mut error = OcOwnedStr::empty();
        // SAFETY: arguments outlive the call; the out pointers are valid locals.
        let status = unsafe {
            (self.vtable.init)(
                OcStr::borrow(manifest_yaml),
                OcStr::borrow(&path),
                &mut handle,
                &mut error,
            )
        };
        self.result(status, error)?;
        let handle = NonNull::new(handle)
            .ok_or_else(|| PluginError::internal("plugin returned OK without a skill handle"))?;
        Ok(Skill::new(*self, handle))
    }

    /// Static plugin description (no skill needed), as JSON.
    pub fn info(&self) -> Result<String, PluginError> {
        let mut out = OcOwnedStr::empty();
        // SAFETY: a null skill is allowed; `out` is a valid local.
        let status = unsafe { (self.vtable.info)(std::ptr::null(), &mut out) };
        let json = self.take_string(out);
        self.result(status, OcOwnedStr::empty()).map(|()| json)
    }

    /// Copies and releases a string the plugin handed out.
    pub(super) fn take_string(&self, s: OcOwnedStr) -> String {
        // SAFETY: `s` was handed out by this plugin (or is empty) and is released exactly once here.
        let owned = unsafe { s.as_str() }.to_owned();
        // SAFETY: as above.
        unsafe { (self.vtable.string_free)(s) };
        owned
    }

    /// `Ok` for `OC_STATUS_OK`, else the status with the plugin's message (released here).
    pub(super) fn result(&self, status: OcStatus, error: OcOwnedStr) -> Result<(), PluginError> {
        let message = self.take_string(error);
        match status {
            OcStatus::OK => Ok(()),
            status => Err(PluginError { status, message }),
        }
    }
}

/// Refuses a library that exports the entry symbol of ABI v1 but not this version's, with a
/// message that says to rebuild it (abi_stable would only report a layout mismatch). The
/// library stays mapped, as every plugin does.
fn refuse_older_abi(path: &Path) -> Result<(), LoadError> {
    let raw = RawLibrary::load_at(path).map_err(|e| LoadError::from_library(path, e))?;
    let has = |symbol: &[u8]| {
        // SAFETY: only the symbol's presence is checked; it is never called or read.
        unsafe { raw.get::<*const std::ffi::c_void>(symbol) }.is_ok()
    };
    let outcome = if !has(ENTRY_SYMBOL) && has(V1_ENTRY_SYMBOL) {
        Err(LoadError::old_abi(path, 1))
    } else {
        Ok(())
    };
    std::mem::forget(raw);
    outcome
}
