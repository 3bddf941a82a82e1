//! Crash-safe files: a file is replaced by writing a temporary file next to it, flushing it
//! to disk, renaming it over the old one and flushing the directory, so after a crash (or a
//! power loss) the old or the new content is there, never a torn mix. An unreadable file is
//! moved aside once (`<name>.corrupt`), so it is reported once, not at every start.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The temporary name `path` is written under before the rename.
fn temp_of(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Replaces `path` with `bytes`; with `sync`, durably (fsync of the file and the directory),
/// else atomically only (survives a process crash, maybe not a power loss).
pub fn replace(path: &Path, bytes: &[u8], sync: bool) -> std::io::Result<()> {
    let tmp = temp_of(path);
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    if sync {
        file.sync_all()?;
    }
    drop(file);
    std::fs::rename(&tmp, path)?;
    if sync {
        if let Some(dir) = path.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
    }
    Ok(())
}

/// Moves an unreadable file aside (`<name>.corrupt`) and says so once, with `why`.
pub fn quarantine(path: &Path, why: &str) {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".corrupt");
    let aside = path.with_file_name(name);
    match std::fs::rename(path, &aside) {
        Ok(()) => log::warn!(
            "{}: unreadable ({why}); moved to {}",
            path.display(),
            aside.display()
        ),
        Err(e) => log::warn!(
            "{}: unreadable ({why}), and cannot be moved aside: {e}",
            path.display()
        ),
    }
}

/// Removes temporary files a crash left in `dir` (`*.tmp`); returns how many.
pub fn remove_stale_temps(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "tmp"))
        .filter(|p| std::fs::remove_file(p).is_ok())
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_quarantine_and_stale_temps() {
        let dir = std::env::temp_dir().join(format!("ocdt-durable-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.json");
        replace(&path, b"{\"a\":1}", true).unwrap();
        replace(&path, "中文".as_bytes(), false).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "中文");
        std::fs::write(dir.join("y.json.tmp"), "half").unwrap();
        assert_eq!(remove_stale_temps(&dir), 1);
        quarantine(&path, "test");
        assert!(!path.exists() && dir.join("x.json.corrupt").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
