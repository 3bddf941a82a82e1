//! What the DingTalk client keeps across restarts, in `<state_dir>/dingtalk.json`: the
//! learned per-API rates and the month's call count. Written atomically (temporary file,
//! fsync, rename, fsync of the directory), so a crash leaves the old or the new file.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::budget::LearnedRates;
use super::quota::MonthCount;

/// The saved state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Saved {
    /// Learned rates in calls per second, by API name and `app`.
    #[serde(default)]
    pub rates: LearnedRates,
    /// This month's call count.
    #[serde(default)]
    pub month: MonthCount,
}

/// The file. Threads: any (callers serialise writes; the plugin saves from one task).
#[derive(Debug, Clone)]
pub struct SavedFile {
    path: PathBuf,
}

impl SavedFile {
    /// `<state_dir>/dingtalk.json`.
    pub fn new(state_dir: &Path) -> SavedFile {
        SavedFile {
            path: state_dir.join("dingtalk.json"),
        }
    }

    /// Reads the saved state; a missing file is a fresh start, an unreadable one is moved
    /// aside (`dingtalk.json.corrupt`) with one warning and counts as a fresh start.
    pub fn load(&self) -> Saved {
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Saved::default(),
            Err(e) => {
                log::warn!(
                    "{}: cannot read ({e}); starting with fresh rates",
                    self.path.display()
                );
                return Saved::default();
            }
        };
        match serde_json::from_slice(&bytes) {
            Ok(saved) => saved,
            Err(e) => {
                crate::durable::quarantine(&self.path, &format!("{e}; starting with fresh rates"));
                Saved::default()
            }
        }
    }

    /// Writes `saved` atomically and durably.
    pub fn save(&self, saved: &Saved) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(saved).map_err(std::io::Error::other)?;
        crate::durable::replace(&self.path, &bytes, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_and_loads_and_moves_a_corrupt_file_aside() {
        let dir = std::env::temp_dir().join(format!("ocdt-saved-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = SavedFile::new(&dir);
        assert_eq!(file.load(), Saved::default());
        let mut saved = Saved::default();
        saved.rates.insert("create".into(), 4.2);
        saved.month.month = "2026-11".into();
        saved.month.calls = 12;
        file.save(&saved).unwrap();
        assert_eq!(file.load(), saved);
        std::fs::write(dir.join("dingtalk.json"), "{not json").unwrap();
        assert_eq!(file.load(), Saved::default());
        assert!(dir.join("dingtalk.json.corrupt").exists());
        assert!(!dir.join("dingtalk.json").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
