//! Loading the plugin library a manifest points at, and starting a skill from it.

use std::path::Path;
use std::sync::Arc;

use anyhow::Result;
use openclaw_skill_abi::{Plugin, Skill};

use crate::host_manifest::ManifestFile;

/// Loads the plugin for `manifest` (`library` overrides where it is); a missing file says how to
/// build it.
pub fn load(manifest: &ManifestFile, library: Option<&Path>) -> Result<Plugin> {
    let path = manifest.library_path(library)?;
    if !path.exists() {
        anyhow::bail!(
            "plugin library {} does not exist: build it with `cargo build --release` and copy \
             target/release/{} next to the manifest, or set `library:` in the manifest",
            path.display(),
            Plugin::library_file_name()
        );
    }
    let plugin = Plugin::load_from_file(&path).map_err(|e| {
        log::debug!("plugin loader report:\n{}", e.details);
        anyhow::anyhow!("{e}")
    })?;
    openclaw_skill_abi::forward_logs(plugin).map_err(|e| anyhow::anyhow!("{}", e.message))?;
    Ok(plugin)
}

/// Loads the plugin for `manifest` (`library` overrides where it is) and initialises a skill
/// with the manifest; the plugin's log records go to this process's logger. The skill is shared
/// by the ingress tasks and followers (`Skill` is `Send + Sync`).
pub fn start_skill(manifest: &ManifestFile, library: Option<&Path>) -> Result<Arc<Skill>> {
    let plugin = load(manifest, library)?;
    log::info!(
        "loaded plugin {} {} (skill ABI v{})",
        plugin.name(),
        plugin.version(),
        plugin.abi_version()
    );
    let skill = plugin
        .init(&manifest.text, &manifest.path)
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    Ok(Arc::new(skill))
}
