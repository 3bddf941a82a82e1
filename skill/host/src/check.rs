//! `openclaw-skill check`: find and load the plugin, have it validate the manifest, print what
//! was loaded.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

use crate::host_manifest::ManifestFile;
use crate::{plugin, redact};

/// Checks the manifest at `manifest_path` with the plugin the search order finds (or
/// `library`); prints the plugin and ABI versions and the configuration with secrets redacted.
pub fn check(manifest_path: &Path, library: Option<&Path>) -> Result<()> {
    let manifest = ManifestFile::read(manifest_path)?;
    let located = plugin::locate(library, Some(&manifest))?;
    let plugin = plugin::load(&located)?;
    let summary = plugin
        .check_manifest(&manifest.text, &manifest.path)
        .map_err(|e| {
            let count = e.message.lines().count();
            let problems = if count == 1 { "problem" } else { "problems" };
            anyhow::anyhow!("{count} {problems} in the manifest:\n{}", e.message)
        })?;
    let mut summary: serde_json::Value =
        serde_json::from_str(&summary).context("plugin summary is not JSON")?;
    // The plugin names the library of its manifest's view (next to the manifest); this is
    // the one the host found and loaded.
    if let Some(object) = summary.as_object_mut() {
        object.insert("library".into(), located.path.display().to_string().into());
    }
    // URLs with credentials in them (`https://user:pass@…`) are shown without those.
    redact::json(&mut summary);
    let text = format!(
        "plugin:   {} {} (skill ABI v{})\nlibrary:  {} ({})\nskill:    {} {}\n{}manifest: {} is valid\n{}\n",
        plugin.name(),
        plugin.version(),
        plugin.abi_version(),
        located.path.display(),
        located.how,
        summary["name"].as_str().unwrap_or("?"),
        summary["version"].as_str().unwrap_or("?"),
        apps_lines(&summary),
        manifest.path.display(),
        serde_json::to_string_pretty(&summary)?
    );
    // A reader that stops early (`check … | head`) is not an error.
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(e.into()),
        _ => {}
    }
    Ok(())
}

/// One line per DingTalk app of the summary: name, app key, robot, card template, rate.
fn apps_lines(summary: &serde_json::Value) -> String {
    let Some(apps) = summary["apps"].as_array() else {
        return String::new();
    };
    apps.iter()
        .map(|app| {
            let text = |key: &str| app[key].as_str().unwrap_or("?").to_owned();
            format!(
                "app:      {} (app key {}, robot {}, template {}, {} calls/s per API, stop button {})\n",
                text("name"),
                text("app_key"),
                text("robot_code"),
                text("card_template_id"),
                app["api_qps"],
                text("card_stop_button"),
            )
        })
        .collect()
}
