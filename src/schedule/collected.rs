//! The messages a collecting schedule has gathered for its next tick, one JSON line each in
//! `<state_dir>/collected/<schedule>/<group>.jsonl`: appended and flushed to disk before the
//! user is told it was noted, removed only once the summary card that used them finished.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One collected message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Collected {
    /// The message id (a redelivery is not collected twice).
    pub msg_id: String,
    /// When it arrived, epoch ms.
    pub at_ms: i64,
    /// The sender's nick.
    pub nick: String,
    /// The text, without the tag.
    pub text: String,
}

/// The store of one schedule. Threads: any (callers serialize per group: see `Schedules`).
#[derive(Debug, Clone)]
pub struct CollectedStore {
    dir: PathBuf,
}

impl CollectedStore {
    /// The store of schedule `name` under `state_dir`.
    pub fn new(state_dir: &Path, name: &str) -> CollectedStore {
        CollectedStore {
            dir: state_dir.join("collected").join(safe(name)),
        }
    }

    fn file(&self, group: &str) -> PathBuf {
        self.dir.join(format!("{}.jsonl", safe(group)))
    }

    /// The messages of `group`, in arrival order (an unreadable line is skipped with a log
    /// line; the file keeps it).
    pub fn read(&self, group: &str) -> Vec<Collected> {
        let Ok(text) = std::fs::read_to_string(self.file(group)) else {
            return Vec::new();
        };
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .filter_map(|l| match serde_json::from_str(l) {
                Ok(c) => Some(c),
                Err(e) => {
                    log::warn!("collected messages of {group}: a line cannot be read ({e})");
                    None
                }
            })
            .collect()
    }

    /// Appends `message` durably (flushed to disk before this returns).
    pub fn append(&self, group: &str, message: &Collected) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let mut line = serde_json::to_string(message).map_err(std::io::Error::other)?;
        line.push('\n');
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.file(group))?;
        file.write_all(line.as_bytes())?;
        file.sync_data()
    }

    /// Removes the messages whose ids are in `used` (the ones a finished summary showed);
    /// later arrivals stay for the next tick.
    pub fn remove(&self, group: &str, used: &[String]) -> std::io::Result<()> {
        let rest: Vec<Collected> = self
            .read(group)
            .into_iter()
            .filter(|c| !used.contains(&c.msg_id))
            .collect();
        let mut text = String::new();
        for c in &rest {
            text.push_str(&serde_json::to_string(c).map_err(std::io::Error::other)?);
            text.push('\n');
        }
        crate::durable::replace(&self.file(group), text.as_bytes(), true)
    }
}

/// A file-name-safe form of an id (`cid…==` and names may hold `/`, `+`, `=`), with a hash
/// that keeps ids differing only in replaced characters apart.
fn safe(id: &str) -> String {
    let readable: String = id
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{readable}-{:08x}", fnv(id))
}

/// A short hash keeping ids that differ only in replaced characters apart.
fn fnv(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: &str, text: &str) -> Collected {
        Collected {
            msg_id: id.into(),
            at_ms: 1,
            nick: "小张".into(),
            text: text.into(),
        }
    }

    #[test]
    fn messages_survive_a_new_store_until_a_summary_used_them() {
        let dir = std::env::temp_dir().join(format!("ocdt-collected-{}", std::process::id()));
        let store = CollectedStore::new(&dir, "standup");
        store
            .append("cid研发群==", &message("m1", "昨天：修复登录"))
            .unwrap();
        store
            .append("cid研发群==", &message("m2", "今天：发布"))
            .unwrap();
        store
            .append("cid+other/==", &message("m3", "别的群"))
            .unwrap();
        let again = CollectedStore::new(&dir, "standup");
        let read = again.read("cid研发群==");
        assert_eq!(read.len(), 2);
        assert_eq!(read[1].text, "今天：发布");
        again.remove("cid研发群==", &["m1".into()]).unwrap();
        assert_eq!(again.read("cid研发群=="), vec![message("m2", "今天：发布")]);
        assert_eq!(again.read("cid+other/==").len(), 1, "another group's stay");
        let _ = std::fs::remove_dir_all(dir);
    }
}
