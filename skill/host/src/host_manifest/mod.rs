//! The manifest file as the host handles it: its text and path (handed to the plugin, which
//! owns the schema), where the plugin library is, and (`settings.rs`) the host settings the
//! plugin resolves from it.

mod settings;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use openclaw_skill_abi::manifest_text::interpolate_env;
use openclaw_skill_abi::Plugin;

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

    /// The plugin library: `override_path`, else the manifest's `library` key (relative to
    /// the manifest), else `libopenclaw_dingtalk.so` next to the manifest.
    pub fn library_path(&self, override_path: Option<&Path>) -> Result<PathBuf> {
        if let Some(p) = override_path {
            return Ok(p.to_path_buf());
        }
        let raw: serde_yaml::Value = serde_yaml::from_str(&self.text)
            .with_context(|| format!("{} is not valid YAML", self.path.display()))?;
        let library = match raw.get("library").and_then(serde_yaml::Value::as_str) {
            Some(lib) => Some(
                interpolate_env(lib)
                    .map_err(|e| anyhow::anyhow!("library: {}", e.message))?
                    .trim_matches('"')
                    .to_owned(),
            ),
            None => None,
        };
        Ok(match library {
            Some(lib) => self.dir.join(lib),
            None => self.dir.join(Plugin::library_file_name()),
        })
    }
}
