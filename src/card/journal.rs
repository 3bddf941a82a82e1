//! The in-flight card journal: one small JSON file per card under `<state_dir>/cards/`,
//! written before the card is created and removed once it is finalized. Cards a crashed
//! process left behind are finalized by the next `init`.
//!
//! A new entry is written durably (it is what lets the next start find the card); rewrites
//! with the text shown are atomic but not flushed to disk, so after a power loss the card is
//! finalized with slightly older text, after a process crash with the latest.
//!
//! Several processes may share a `state_dir` (a running host and `openclaw-skill send`):
//! each names itself in its entries and holds an exclusive lock on `<owner>.owner` for its
//! life, so a start finalizes only the cards of processes that are gone.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
    /// The process that wrote it (set by [`Journal::write`]; empty in older entries).
    #[serde(default)]
    pub owner: String,
    /// The message the card answers (empty for a card nobody asked for, and in older
    /// entries): with shared state, a host taking over a dead host's messages leaves those
    /// a card already answers to the card's takeover.
    #[serde(default)]
    pub msg_id: String,
    /// DingTalk took the card's creation (false while it is being created: it may not
    /// exist). A host taking over a dead host's cards closes an uncreated one, should it
    /// exist, and answers its message anew; a created one it finalizes as interrupted.
    #[serde(default)]
    pub created: bool,
}

/// This process's claim on its entries: the locked `<owner>.owner` file, removed (and
/// unlocked) when the last handle of the journal goes.
#[derive(Debug)]
struct OwnerLock {
    path: PathBuf,
    _file: File,
}

impl Drop for OwnerLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A copy of the journal other hosts can read (`shared_state:`): told of every entry written
/// and every card forgotten, in order. Threads: any.
pub(crate) trait JournalMirror: Send + Sync {
    /// An entry was written (a new card, or the text it shows).
    fn put(&self, entry: &JournalEntry);
    /// The card was finalized and forgotten.
    fn remove(&self, card_id: &str);
}

/// The journal directory. Threads: any (each card has its own file).
#[derive(Clone)]
pub struct Journal {
    dir: PathBuf,
    /// This process's id in its entries.
    owner: String,
    _lock: Arc<OwnerLock>,
    /// The shared copy, with several hosts.
    mirror: Option<Arc<dyn JournalMirror>>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("dir", &self.dir)
            .field("owner", &self.owner)
            .field("mirrored", &self.mirror.is_some())
            .finish()
    }
}

impl Journal {
    /// Opens (creating) `<state_dir>/cards`, removing temporary files a crash left there.
    pub fn open(state_dir: &Path) -> std::io::Result<Journal> {
        let dir = state_dir.join("cards");
        std::fs::create_dir_all(&dir)?;
        let stale = crate::durable::remove_stale_temps(&dir);
        if stale > 0 {
            log::info!("card journal: removed {stale} temporary file(s) left by a crash");
        }
        let owner = uuid::Uuid::new_v4().simple().to_string();
        let path = dir.join(format!("{owner}.owner"));
        let file = File::create(&path)?;
        file.try_lock().map_err(|e| match e {
            TryLockError::Error(e) => e,
            TryLockError::WouldBlock => std::io::Error::other("a fresh owner file is locked"),
        })?;
        Ok(Journal {
            dir,
            owner,
            _lock: Arc::new(OwnerLock { path, _file: file }),
            mirror: None,
        })
    }

    /// The journal, copied to `mirror` as it changes.
    pub(crate) fn mirrored(self, mirror: Arc<dyn JournalMirror>) -> Journal {
        Journal {
            mirror: Some(mirror),
            ..self
        }
    }

    /// Whether the process `owner` still runs (it holds the lock on its owner file). A gone
    /// owner's file is removed.
    fn alive(&self, owner: &str) -> bool {
        if owner.is_empty() {
            return false;
        }
        if owner == self.owner {
            return true;
        }
        let path = self.dir.join(format!("{owner}.owner"));
        let Ok(file) = File::open(&path) else {
            return false;
        };
        match file.try_lock() {
            Err(TryLockError::WouldBlock) => true,
            _ => {
                let _ = std::fs::remove_file(&path);
                false
            }
        }
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

    /// Records (or rewrites) an entry atomically; a new entry (no text yet) durably.
    pub fn write(&self, entry: &JournalEntry) {
        let path = self.path(&entry.card_id);
        let entry = JournalEntry {
            owner: self.owner.clone(),
            ..entry.clone()
        };
        let result = serde_json::to_vec(&entry)
            .map_err(std::io::Error::other)
            .and_then(|bytes| crate::durable::replace(&path, &bytes, entry.text.is_empty()));
        if let Err(e) = result {
            log::warn!("card journal: cannot write {}: {e}", path.display());
        }
        if let Some(mirror) = &self.mirror {
            mirror.put(&entry);
        }
    }

    /// The card's entry, if it has a readable one.
    pub fn entry(&self, card_id: &str) -> Option<JournalEntry> {
        let bytes = std::fs::read(self.path(card_id)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Whether the card still has an entry.
    pub fn contains(&self, card_id: &str) -> bool {
        self.path(card_id).exists()
    }

    /// Forgets a finalized card.
    pub fn remove(&self, card_id: &str) {
        let _ = std::fs::remove_file(self.path(card_id));
        if let Some(mirror) = &self.mirror {
            mirror.remove(card_id);
        }
    }

    /// Cards left in flight by processes that are gone (a crash), oldest first; the cards of
    /// running processes (this one, another sharing the `state_dir`) are theirs. An
    /// unreadable entry is moved aside once (`*.json.corrupt`) with one log line.
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
                    Ok(Err(e)) => {
                        crate::durable::quarantine(&p, &e.to_string());
                        None
                    }
                    Err(e) => {
                        log::warn!("card journal: cannot read {}: {e}", p.display());
                        None
                    }
                }
            })
            .filter(|e: &JournalEntry| !self.alive(&e.owner))
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
            owner: String::new(),
            msg_id: "msg_1".into(),
            created: true,
        };
        journal.write(&entry);
        let other = Journal::open(&dir).unwrap();
        assert!(
            other.leftovers().is_empty(),
            "the card of a running process is not a leftover"
        );
        assert!(journal.leftovers().is_empty(), "nor of this one");
        let owner = journal.owner.clone();
        drop(journal);
        let found = other.leftovers();
        assert_eq!(found.len(), 1, "its process is gone");
        assert_eq!(
            found[0],
            JournalEntry {
                owner: owner.clone(),
                ..entry
            }
        );
        assert!(
            !dir.join(format!("cards/{owner}.owner")).exists(),
            "a gone owner's file is removed"
        );
        let journal = other;
        journal.remove("card_1");
        assert!(journal.leftovers().is_empty());
        std::fs::write(dir.join("cards/card_2.json"), "{half").unwrap();
        std::fs::write(dir.join("cards/card_3.json.tmp"), "{half").unwrap();
        assert!(journal.leftovers().is_empty());
        assert!(
            dir.join("cards/card_2.json.corrupt").exists(),
            "moved aside once"
        );
        let reopened = Journal::open(&dir).unwrap();
        assert!(
            !dir.join("cards/card_3.json.tmp").exists(),
            "stale temp removed"
        );
        assert!(reopened.leftovers().is_empty());
        let _ = std::fs::remove_dir_all(dir);
    }
}
