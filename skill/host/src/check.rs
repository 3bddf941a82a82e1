//! `openclaw-skill check`: load the plugin, have it validate the manifest, print what was loaded.

use std::path::Path;

use anyhow::{Context, Result};

use crate::host_manifest::ManifestFile;
use crate::{plugin, redact};

/// Checks the manifest at `manifest_path` with the plugin next to it (or `library`); prints the
/// plugin and ABI versions and the configuration with secrets redacted.
pub fn check(manifest_path: &Path, library: Option<&Path>) -> Result<()> {
    let manifest = ManifestFile::read(manifest_path)?;
    let plugin = plugin::load(&manifest, library)?;
    let summary = plugin
        .check_manifest(&manifest.text, &manifest.path)
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let mut summary: serde_json::Value =
        serde_json::from_str(&summary).context("plugin summary is not JSON")?;
    // URLs with credentials in them (`https://user:pass@…`) are shown without those.
    redact::json(&mut summary);
    println!(
        "plugin:   {} {} (skill ABI v{})",
        plugin.name(),
        plugin.version(),
        plugin.abi_version()
    );
    println!("library:  {}", manifest.library_path(library)?.display());
    println!(
        "skill:    {} {}",
        summary["name"].as_str().unwrap_or("?"),
        summary["version"].as_str().unwrap_or("?")
    );
    println!("manifest: {} is valid", manifest.path.display());
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}
