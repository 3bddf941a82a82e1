//! The in-flight card journal: one small JSON file per card under `<state_dir>/cards/`,
//! written before the card is created and removed once it is finalized. Cards a crashed
//! process left behind are finalized by the next `init`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// What is needed to finalize a card after a crash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// The card's `outTrackId`.
    pub card_id: String,
    /// The template variable the answer streams into.
    pub content_key: String,
    /// The last text the card showed.
    pub text: String,
    /// Creation time, epoch ms.
    pub created_at_ms: u64,
}

/// The journal directory. Threads: any (each card has its own file).
#[derive(Debug, Clone)]
pub struct Journal {
    dir: PathBuf,
}

impl Journal {
    /// Opens (creating) `<state_dir>/cards`.
    pub fn open(state_dir: &Path) -> std::io::Result<Journal> {
        let dir = state_dir.join("cards");
        std::fs::create_dir_all(&dir)?;
        Ok(Journal { dir })
    }

    fn path(&self, card_id: &str) -> PathBuf {
        let safe: String = card_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.dir.join(format!("{safe}.json"))
    }

    /// Records (or rewrites) an entry atomically.
    pub fn write(&self, entry: &JournalEntry) {
        let path = self.path(&entry.card_id);
        let tmp = path.with_extension("tmp");
        let result = serde_json::to_vec(entry)
            .map_err(std::io::Error::other)
            .and_then(|bytes| std::fs::write(&tmp, bytes))
            .and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = result {
            log::warn!("card journal: cannot write {}: {e}", path.display());
        }
    }

    /// Forgets a finalized card.
    pub fn remove(&self, card_id: &str) {
        let _ = std::fs::remove_file(self.path(card_id));
    }

    /// Cards left in flight (by a crash), oldest first. Unreadable files are skipped and logged.
    pub fn leftovers(&self) -> Vec<JournalEntry> {
        let Ok(dir) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut entries: Vec<JournalEntry> = dir
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .filter_map(|p| {
                match std::fs::read(&p).map(|b| serde_json::from_slice::<JournalEntry>(&b)) {
                    Ok(Ok(entry)) => Some(entry),
                    _ => {
                        log::warn!("card journal: skipping unreadable {}", p.display());
                        None
                    }
                }
            })
            .collect();
        entries.sort_by_key(|e| e.created_at_ms);
        entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_survive_until_removed() {
        let dir = std::env::temp_dir().join(format!("ocdt-journal-{}", std::process::id()));
        let journal = Journal::open(&dir).unwrap();
        let entry = JournalEntry {
            card_id: "card_1".into(),
            content_key: "content".into(),
            text: "半句".into(),
            created_at_ms: 1,
        };
        journal.write(&entry);
        assert_eq!(Journal::open(&dir).unwrap().leftovers(), vec![entry]);
        journal.remove("card_1");
        assert!(journal.leftovers().is_empty());
        let _ = std::fs::remove_dir_all(dir);
    }
}
