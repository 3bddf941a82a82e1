//! Markdown for AI Cards: DingTalk's card renderer ignores a single `\n` and needs a blank
//! line before a table, and card values are limited in UTF-8 bytes, so long answers are
//! split at safe places (`docs/dingtalk.md`, "Sizes").

/// Rewrites markdown so it renders in an AI Card as it would in a chat UI: a single newline
/// between two paragraph lines becomes `<br>`, and a table gets a blank line before it.
/// Fenced code blocks are left untouched.
pub fn normalize_for_card(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut in_fence = false;
    let mut prev: Option<&str> = None;
    for line in text.split('\n') {
        let trimmed = line.trim_start();
        let is_fence = trimmed.starts_with("```") || trimmed.starts_with("~~~");
        if let Some(p) = prev {
            if in_fence || is_fence {
                out.push('\n');
            } else if is_table_row(trimmed) && !p.trim().is_empty() && !is_table_row(p.trim_start())
            {
                out.push_str("\n\n");
            } else if is_paragraph(p) && is_paragraph(line) {
                out.push_str("<br>\n");
            } else {
                out.push('\n');
            }
        }
        out.push_str(line);
        if is_fence {
            in_fence = !in_fence;
        }
        prev = Some(line);
    }
    out
}

fn is_table_row(trimmed: &str) -> bool {
    trimmed.starts_with('|')
}

/// A plain text line (not blank, list item, heading, quote, table row, rule or fence).
fn is_paragraph(line: &str) -> bool {
    let t = line.trim_start();
    if t.is_empty() || line.starts_with("    ") {
        return false;
    }
    let first = t.chars().next().unwrap_or(' ');
    if matches!(first, '#' | '>' | '|' | '-' | '*' | '+')
        || t.starts_with("```")
        || t.starts_with("~~~")
    {
        return false;
    }
    // ordered list item "12. " / "3) "
    let digits = t.chars().take_while(char::is_ascii_digit).count();
    !(digits > 0 && t[digits..].starts_with(['.', ')']))
}

/// Where to cut `text` so the first part has at most `max_bytes` UTF-8 bytes: after the
/// last blank line or newline outside a code fence, else after any newline, else at the
/// byte limit (on a character boundary). Returns `None` when the whole text fits. The cut
/// is a byte index on a character boundary, and the first part is never empty (one
/// character when even that is over `max_bytes`).
pub fn split_point(text: &str, max_bytes: usize) -> Option<usize> {
    if text.len() <= max_bytes {
        return None;
    }
    let mut limit = max_bytes;
    while !text.is_char_boundary(limit) {
        limit -= 1;
    }
    if limit == 0 {
        return Some(text.chars().next().map_or(text.len(), char::len_utf8));
    }
    let head = &text[..limit];
    let mut in_fence = false;
    let mut best_blank = None;
    let mut best_line = None;
    let mut any_line = None;
    let mut offset = 0;
    for line in head.split_inclusive('\n') {
        let end = offset + line.len();
        let t = line.trim_start();
        if t.starts_with("```") || t.starts_with("~~~") {
            in_fence = !in_fence;
        }
        if line.ends_with('\n') {
            any_line = Some(end);
            if !in_fence {
                best_line = Some(end);
                if line.trim().is_empty() {
                    best_blank = Some(end);
                }
            }
        }
        offset = end;
    }
    let cut = best_blank
        .filter(|&b| b * 2 >= limit)
        .or(best_line.filter(|&b| b * 4 >= limit))
        .or(any_line.filter(|&b| b * 4 >= limit))
        .unwrap_or(limit);
    Some(if cut == 0 { limit } else { cut })
}

/// The opening line of a code fence left open at the end of `text`, if any (so a card cut
/// there can close it, and the next card reopen it with the same language).
pub fn open_fence(text: &str) -> Option<&str> {
    let mut open = None;
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with("```") || t.starts_with("~~~") {
            open = if open.is_some() { None } else { Some(t) };
        }
    }
    open
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_newlines_become_breaks_but_code_lists_and_tables_do_not() {
        let md = "第一行\n第二行\n\n- a\n- b\n```\nx\ny\n```\n说明\n| h |\n|---|\n| 1 |";
        assert_eq!(
            normalize_for_card(md),
            "第一行<br>\n第二行\n\n- a\n- b\n```\nx\ny\n```\n说明\n\n| h |\n|---|\n| 1 |"
        );
    }

    #[test]
    fn splitting_prefers_blank_lines_and_never_loses_text() {
        let text = format!(
            "{}\n\n{}\n{}",
            "a".repeat(50),
            "b".repeat(30),
            "c".repeat(40)
        );
        let cut = split_point(&text, 100).unwrap();
        assert_eq!(&text[..cut], format!("{}\n\n", "a".repeat(50)));
        assert!(split_point(&text, 1000).is_none());
        let cjk = "字".repeat(300);
        let cut = split_point(&cjk, 100).unwrap();
        assert_eq!(cut, 99, "bytes, on a character boundary: 33 characters");
        assert_eq!(format!("{}{}", &cjk[..cut], &cjk[cut..]), cjk);
        assert!(
            split_point(&cjk, 900).is_none(),
            "300 characters are 900 bytes"
        );
        assert_eq!(split_point("字字", 1), Some(3), "never an empty first part");
    }

    #[test]
    fn splitting_cuts_at_a_line_end_and_reports_an_open_fence() {
        let text = format!("intro line\n```rust\n{}```\n", "let x = 1;\n".repeat(40));
        let cut = split_point(&text, 100).unwrap();
        assert!(
            text[..cut].ends_with('\n'),
            "cut mid-line: {:?}",
            &text[..cut]
        );
        assert_eq!(open_fence(&text[..cut]), Some("```rust"));
        assert_eq!(open_fence(&text), None);
    }
}
