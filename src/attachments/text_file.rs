//! Text files into the prompt. A file is read as text when its name says so (a text or
//! source extension) **and** its bytes do: no NUL byte, and valid UTF-8 (a UTF-8 or UTF-16
//! byte-order mark is honoured; otherwise GB18030, which covers GBK files from Chinese
//! Windows). Its text goes into the prompt as a fenced block headed by the file's label,
//! cut after `attachments.max_file_text_bytes` at a character boundary, with a note saying
//! how much was left out (`docs/manifest.md`, "Pictures and files").

use encoding_rs::{Encoding, GB18030};

use super::size::human;

/// Extensions of files read as text (lower case).
const TEXT_EXTENSIONS: &[&str] = &[
    "txt",
    "text",
    "log",
    "out",
    "md",
    "markdown",
    "rst",
    "adoc",
    "csv",
    "tsv",
    "json",
    "jsonl",
    "ndjson",
    "yaml",
    "yml",
    "xml",
    "toml",
    "ini",
    "cfg",
    "conf",
    "properties",
    "env",
    "sql",
    "sh",
    "bash",
    "zsh",
    "fish",
    "ps1",
    "bat",
    "cmd",
    "py",
    "rb",
    "pl",
    "php",
    "rs",
    "go",
    "js",
    "mjs",
    "cjs",
    "ts",
    "tsx",
    "jsx",
    "java",
    "kt",
    "kts",
    "scala",
    "groovy",
    "gradle",
    "c",
    "h",
    "cc",
    "cpp",
    "cxx",
    "hpp",
    "hh",
    "cs",
    "swift",
    "m",
    "mm",
    "r",
    "lua",
    "dart",
    "vue",
    "svelte",
    "html",
    "htm",
    "css",
    "scss",
    "less",
    "diff",
    "patch",
    "tex",
    "srt",
    "vtt",
    "proto",
    "graphql",
    "gql",
    "cmake",
    "dockerfile",
    "makefile",
    "gitignore",
    "editorconfig",
];

/// Whole names (lower case) of text files without a text extension.
const TEXT_NAMES: &[&str] = &["dockerfile", "makefile", "readme", "license", "changelog"];

/// Whether the file name says text.
pub(super) fn has_text_name(name: &str) -> bool {
    let lower = name.trim().to_lowercase();
    if TEXT_NAMES.contains(&lower.as_str()) {
        return true;
    }
    extension(&lower).is_some_and(|ext| TEXT_EXTENSIONS.contains(&ext))
}

/// The extension of `name` (after the last dot, ASCII letters and digits only).
fn extension(name: &str) -> Option<&str> {
    let (_, ext) = name.rsplit_once('.')?;
    (!ext.is_empty() && ext.chars().all(|c| c.is_ascii_alphanumeric())).then_some(ext)
}

/// The file's text, or `None` when its bytes are not text: a byte-order mark decides the
/// encoding; without one, a NUL byte means binary, and the bytes must be valid UTF-8 or,
/// failing that, valid GB18030.
pub(super) fn decode(bytes: &[u8]) -> Option<String> {
    if let Some((encoding, bom)) = Encoding::for_bom(bytes) {
        let (text, malformed) = encoding.decode_without_bom_handling(&bytes[bom..]);
        return (!malformed && !text.contains('\0')).then(|| text.into_owned());
    }
    if bytes.contains(&0) {
        return None;
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Some(text.to_owned());
    }
    GB18030
        .decode_without_bom_handling_and_without_replacement(bytes)
        .map(|text| text.into_owned())
}

/// Where a text was cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Cut {
    /// UTF-8 bytes shown.
    pub(super) shown: usize,
    /// UTF-8 bytes of the whole text.
    pub(super) total: usize,
}

impl Cut {
    /// Bytes left out.
    pub(super) fn left_out(&self) -> usize {
        self.total - self.shown
    }
}

/// `text` up to `max` UTF-8 bytes, cut at the last character boundary within them.
fn cut(text: &str, max: usize) -> (&str, Option<Cut>) {
    if text.len() <= max {
        return (text, None);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let cut = Cut {
        shown: end,
        total: text.len(),
    };
    (&text[..end], Some(cut))
}

/// The prompt block of a text file: `[label, size]`, its text fenced (the fence longer
/// than any run of backticks inside; the extension as the info string), and, when the text
/// was cut, a note saying how much was left out. Returns the cut too.
pub(super) fn block(
    label: &str,
    name: &str,
    size: u64,
    text: &str,
    max: usize,
) -> (String, Option<Cut>) {
    let (shown, cut) = cut(text, max);
    let fence = "`".repeat(longest_backtick_run(shown).max(2) + 1);
    let info = extension(&name.to_lowercase()).unwrap_or("").to_owned();
    let mut out = format!("[{label}, {}]\n{fence}{info}\n{shown}", human(size));
    if !shown.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&fence);
    if let Some(c) = cut {
        out.push_str(&format!(
            "\n[{label} 已截断 (cut): only the first {} of its {} bytes of text are shown; the remaining {} bytes ({}) are left out]",
            c.shown,
            c.total,
            c.left_out(),
            human(c.left_out() as u64)
        ));
    }
    (out, cut)
}

fn longest_backtick_run(text: &str) -> usize {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    longest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_source_names_are_read_others_are_not() {
        for name in [
            "服务日志.LOG",
            "配置.yaml",
            "main.rs",
            "数据.csv",
            "Dockerfile",
        ] {
            assert!(has_text_name(name), "{name}");
        }
        for name in [
            "季度报告.pdf",
            "照片.jpg",
            "归档.tar.gz",
            "没有扩展名",
            "log",
        ] {
            assert!(!has_text_name(name), "{name}");
        }
    }

    #[test]
    fn utf8_gb18030_and_utf16_text_is_read_binary_is_not() {
        assert_eq!(
            decode("错误：连接超时\n".as_bytes()).unwrap(),
            "错误：连接超时\n"
        );
        let (gbk, _, _) = GB18030.encode("错误：连接超时\n");
        assert!(std::str::from_utf8(&gbk).is_err(), "not UTF-8 on its own");
        assert_eq!(decode(&gbk).unwrap(), "错误：连接超时\n");
        let mut utf16 = vec![0xff, 0xfe];
        for unit in "日志".encode_utf16() {
            utf16.extend_from_slice(&unit.to_le_bytes());
        }
        assert_eq!(decode(&utf16).unwrap(), "日志");
        assert_eq!(decode(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), None, "NUL bytes");
        assert_eq!(decode(b"\xff\xfe\x00\x00"), None, "a UTF-16 NUL");
        assert_eq!(
            decode(b"\xc3\x28\xa0\xa1\xff"),
            None,
            "neither UTF-8 nor GB18030"
        );
    }

    /// A Chinese log of about 5 MB (3-byte characters, so byte limits fall inside them).
    fn chinese_log(bytes: usize) -> String {
        let mut log = String::new();
        let mut n = 0;
        while log.len() < bytes {
            n += 1;
            log.push_str(&format!(
                "2026-11-30 12:{:02}:{:02} 错误 订单服务连接数据库超时，第{n}次重试\n",
                n / 60 % 60,
                n % 60
            ));
        }
        log
    }

    #[test]
    fn a_5_mb_chinese_log_is_cut_at_a_character_boundary_with_the_documented_note() {
        let log = chinese_log(5 * 1024 * 1024);
        let max = 64 * 1024;
        assert!(
            !log.is_char_boundary(max),
            "the limit falls inside a character"
        );
        let (block, cut) = block("文件 服务日志.log", "服务日志.log", 5_300_000, &log, max);
        let cut = cut.expect("cut");
        assert!(cut.shown <= max && cut.shown > max - 4, "{cut:?}");
        assert!(log.is_char_boundary(cut.shown));
        assert_eq!(cut.total, log.len());
        let shown = &log[..cut.shown];
        assert!(
            block.starts_with(&format!(
                "[文件 服务日志.log, 5.1 MB]\n```log\n{shown}\n```\n"
            )),
            "{}",
            &block[..200]
        );
        assert!(block.ends_with(&format!(
            "[文件 服务日志.log 已截断 (cut): only the first {} of its {} bytes of text are shown; the remaining {} bytes ({}) are left out]",
            cut.shown,
            log.len(),
            log.len() - cut.shown,
            human((log.len() - cut.shown) as u64)
        )));
        assert!(block.len() < max + 1024, "{}", block.len());
    }

    #[test]
    fn a_short_file_is_whole_and_backticks_inside_get_a_longer_fence() {
        let text = "说明：\n```rust\nfn main() {}\n```\n";
        let (block, cut) = block("文件 说明.md", "说明.md", text.len() as u64, text, 1024);
        assert_eq!(cut, None);
        assert_eq!(
            block,
            format!("[文件 说明.md, {} B]\n````md\n{text}````", text.len())
        );
    }
}
