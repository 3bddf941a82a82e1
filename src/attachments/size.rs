//! Sizes as people read them in notes: `812 B`, `64.0 KB`, `1.2 MB` (binary units).

/// `bytes` in B, KB or MB (1 KB = 1024 B), one decimal above a kilobyte.
pub(crate) fn human(bytes: u64) -> String {
    const KB: f64 = 1024.0;
    let b = bytes as f64;
    if bytes < 1024 {
        format!("{bytes} B")
    } else if b < KB * KB {
        format!("{:.1} KB", b / KB)
    } else {
        format!("{:.1} MB", b / KB / KB)
    }
}

#[cfg(test)]
mod tests {
    use super::human;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human(812), "812 B");
        assert_eq!(human(64 * 1024), "64.0 KB");
        assert_eq!(human(1_258_291), "1.2 MB");
        assert_eq!(human(5 * 1024 * 1024), "5.0 MB");
    }
}
