//! The manifest file as the host handles it: its text and path (handed to the plugin, which
//! owns the schema), where the plugin library is, and (`settings.rs`) the host settings the
//! plugin resolves from it.

mod settings;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

pub use settings::{HostSettings, IngressMode, NetworkSettings};

/// The manifest file, read once.
pub struct ManifestFile {
    /// Its text (not interpolated: the plugin interpolates).
    pub text: String,
    /// Its directory.
    pub dir: PathBuf,
    /// Its path as given.
    pub path: PathBuf,
}

impl ManifestFile {
    /// Reads the manifest at `path`.
    pub fn read(path: &Path) -> Result<ManifestFile> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read manifest {}", path.display()))?;
        let dir = path
            .parent()
            .map(|p| {
                if p.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    p
                }
            })
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let dir = dir.canonicalize().unwrap_or(dir);
        Ok(ManifestFile {
            text,
            dir,
            path: path.to_path_buf(),
        })
    }

    /// The manifest's `library` key, resolved against the manifest's directory; `None` without
    /// the key. The key is read literally: the host needs it before it can ask the plugin to
    /// read the manifest, so `${VAR}` is refused with a pointer to `OPENCLAW_DINGTALK_LIBRARY`.
    pub fn library_key(&self) -> Result<Option<PathBuf>> {
        let raw: serde_yaml::Value = serde_yaml::from_str(&self.text)
            .with_context(|| format!("{} is not valid YAML", self.path.display()))?;
        let Some(value) = raw.get("library") else {
            return Ok(None);
        };
        let line = self
            .text
            .lines()
            .position(|l| l.starts_with("library:"))
            .map_or(String::new(), |i| format!(" (line {})", i + 1));
        let key = format!("{}: library{line}", self.path.display());
        let Some(library) = value.as_str() else {
            anyhow::bail!("{key}: must be a path (a string)");
        };
        anyhow::ensure!(!library.trim().is_empty(), "{key}: must not be empty");
        anyhow::ensure!(
            !library.contains("${"),
            "{key}: environment variables are not read in this key (the host reads it before the \
             rest of the manifest): write the path literally, or remove the key and set \
             {}=PATH",
            crate::plugin::LIBRARY_ENV
        );
        Ok(Some(self.dir.join(library)))
    }
}
