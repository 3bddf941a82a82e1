//! Reply texts and how they are cut into tokens.

/// `Hello from the fake gateway. You said: <text>. Turn <n>.`
pub(crate) fn default_reply(user_text: &str, turn: usize) -> String {
    format!(
        "Hello from the fake gateway. You said: {}. Turn {turn}.",
        user_text.trim()
    )
}

/// Splits before each run of whitespace that follows a non-space, so tokens look like an LLM's
/// (`Hello`, ` from`, ` the`) and their concatenation is the text exactly.
pub(crate) fn word_tokens(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut prev_space = true;
    for c in text.chars() {
        if c.is_whitespace() && !prev_space && !current.is_empty() {
            tokens.push(std::mem::take(&mut current));
        }
        prev_space = c.is_whitespace();
        current.push(c);
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    tokens
}

/// `t1 `, `t2 `, … `tn `.
pub(crate) fn numbered_tokens(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("t{i} ")).collect()
}

/// Cuts a text into pieces of `size` characters (the last may be shorter).
pub(crate) fn chunk_chars(text: &str, size: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars
        .chunks(size.max(1))
        .map(|c| c.iter().collect())
        .collect()
}

/// A markdown answer of exactly `chars` characters (Unicode scalar values) mixing CJK and ASCII, with
/// headings, a list, a table and a fenced code block in every section (a short answer is a prefix of a
/// long one, so it may stop inside any of them).
pub(crate) fn long_text(chars: usize) -> String {
    let mut text = String::new();
    let mut section = 1;
    while text.chars().count() < chars {
        text.push_str(&format!(
            "## 第{section}节 Section {section}\n\n\
             这是用于测试长回复的中文段落，mixed with English words and `inline code`。\n\n\
             - 列表项 one\n- 列表项 two：**粗体** text\n\n\
             | 列 | Column |\n|---|---|\n| 值 | value {section} |\n\n\
             ```rust\nfn main() {{ println!(\"你好 {section}\"); }}\n```\n\n"
        ));
        section += 1;
    }
    text.chars().take(chars).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_tokens_reassemble_exactly() {
        let text = "Hello from  the\nfake gateway. You said: 你好. Turn 1.";
        let tokens = word_tokens(text);
        assert_eq!(tokens.concat(), text);
        assert_eq!(&tokens[..3], ["Hello", " from", "  the"]);
    }

    #[test]
    fn long_text_has_markdown_and_exact_length() {
        let t = long_text(600);
        assert_eq!(t.chars().count(), 600);
        for needle in ["## 第1节", "- 列表项", "| 列 |", "```rust"] {
            assert!(t.contains(needle), "{needle}");
        }
        assert_eq!(long_text(0), "");
    }
}
