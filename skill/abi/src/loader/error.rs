//! What can go wrong when loading or calling the plugin, as values with one-line messages.

use std::fmt;
use std::path::Path;

use abi_stable::library::LibraryError;

use crate::codes::OcStatus;

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
    /// A load error whose summary is the whole story.
    pub(crate) fn plain(summary: String) -> LoadError {
        LoadError {
            details: summary.clone(),
            summary,
        }
    }

    /// A plugin built against an older, incompatible ABI (it exports only the entry symbol
    /// of that version).
    pub(crate) fn old_abi(path: &Path, version: u32) -> LoadError {
        LoadError::plain(format!(
            "plugin {} was built against skill ABI v{version}; this host speaks ABI v{}: rebuild the plugin from the same release as the host (cargo build --release -p openclaw-dingtalk)",
            path.display(),
            crate::OC_SKILL_ABI_VERSION
        ))
    }

    pub(crate) fn from_library(path: &Path, err: LibraryError) -> LoadError {
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
                "was built against openclaw-skill-abi {actual_version}, this host expects {expected_version} (incompatible package versions): rebuild the plugin from the same release as the host"
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

impl PluginError {
    /// An error the loader itself detected.
    pub(crate) fn internal(message: impl Into<String>) -> PluginError {
        PluginError {
            status: OcStatus::INTERNAL,
            message: message.into(),
        }
    }
}
