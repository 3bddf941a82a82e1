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

/// Sentences of the all-Chinese answers (Chinese punctuation only; each one distinct).
const ZH_SENTENCES: [&str; 16] = [
    "钉钉的互动卡片会随着模型输出逐步刷新，用户不必等待整段回答生成完毕。",
    "每一次更新都会发送到目前为止的完整文本，因此卡片内容越长，单次请求也越大。",
    "开放平台按字节计算内容大小：一个汉字在常用的八位编码下占三个字节。",
    "当回答超过一张卡片的容量时，应当把后续内容放进新的卡片，而不是悄悄截断。",
    "网关返回的每一个片段都要原样保留；标点、换行和空格都属于答案的一部分。",
    "如果接口返回“请求过于频繁”，客户端应该放慢节奏，稍后再试，而不是直接放弃。",
    "超时并不代表请求失败：服务器可能已经处理了它，只是没有及时给出应答。",
    "因此，重试创建卡片之前，最好先确认这张卡片是否已经存在。",
    "群聊里同时提问的人越多，所有会话共享的调用额度就越紧张！",
    "企业每个月的调用量也有上限，超出以后，所有接口都会被拒绝。",
    "为了节省额度，可以适当拉长刷新间隔，并合并相邻的更新请求。",
    "最后一次更新必须把卡片标记为完成（或失败），否则用户会一直看到“输入中”。",
    "长篇回答常见于代码解释、会议纪要和技术方案；这类内容往往有几千个汉字。",
    "测试时使用确定的文本，便于逐字比对卡片上显示的内容是否完整？",
    "中文段落之间用空行分隔；段内的句子则紧密相连，不需要额外的空格。",
    "总之，稳定、完整、及时，是流式卡片最重要的三个目标。",
];

/// Takes whole characters of `text` while they fit in `bytes` UTF-8 bytes.
fn take_bytes(text: &str, bytes: usize) -> String {
    let mut end = 0;
    for (i, c) in text.char_indices() {
        if i + c.len_utf8() > bytes {
            break;
        }
        end = i + c.len_utf8();
    }
    text[..end].to_string()
}

/// `n` in Chinese numerals (一, 十二, 九十九, 一百零五 …; digit by digit from 1000 on).
fn chinese_number(n: usize) -> String {
    const DIGITS: [char; 10] = ['〇', '一', '二', '三', '四', '五', '六', '七', '八', '九'];
    match n {
        0..=9 => DIGITS[n].to_string(),
        10..=19 => format!(
            "十{}",
            if n > 10 {
                chinese_number(n - 10)
            } else {
                String::new()
            }
        ),
        20..=99 => format!(
            "{}十{}",
            DIGITS[n / 10],
            if !n.is_multiple_of(10) {
                DIGITS[n % 10].to_string()
            } else {
                String::new()
            }
        ),
        100..=999 => {
            let rest = n % 100;
            let tail = match rest {
                0 => String::new(),
                1..=9 => format!("零{}", DIGITS[rest]),
                10..=19 => format!("一{}", chinese_number(rest)),
                _ => chinese_number(rest),
            };
            format!("{}百{tail}", DIGITS[n / 100])
        }
        _ => n
            .to_string()
            .bytes()
            .map(|b| DIGITS[usize::from(b - b'0')])
            .collect(),
    }
}

/// An all-Chinese answer of at most `bytes` UTF-8 bytes (and at most 3 bytes short of it): numbered
/// paragraphs (`第一段：`, `第二段：` …, so no paragraph repeats another) of four sentences with Chinese
/// punctuation, separated by blank lines. Deterministic; a shorter answer is a prefix of a longer one.
pub(crate) fn zh_text(bytes: usize) -> String {
    let mut text = String::new();
    let mut paragraph = 0;
    while text.len() < bytes {
        if paragraph > 0 {
            text.push_str("\n\n");
        }
        text.push_str(&format!("第{}段：", chinese_number(paragraph + 1)));
        for k in 0..4 {
            text.push_str(ZH_SENTENCES[(paragraph * 4 + k * 5) % ZH_SENTENCES.len()]);
        }
        paragraph += 1;
    }
    take_bytes(&text, bytes)
}

/// A mixed answer of at most `bytes` UTF-8 bytes (and at most 3 bytes short of it): sections with a
/// heading, a Chinese paragraph, an English paragraph, a markdown table and a fenced code block.
/// Deterministic; a shorter answer is a prefix of a longer one (so it may stop inside any of them).
pub(crate) fn mixed_text(bytes: usize) -> String {
    let mut text = String::new();
    let mut n = 1;
    while text.len() < bytes {
        let zh = |k: usize| ZH_SENTENCES[(n * 3 + k) % ZH_SENTENCES.len()];
        text.push_str(&format!(
            "## 第{n}节 Section {n}\n\n\
             {}{}\n\n\
             Section {n} in English: the bridge streams the answer into an AI card, and every update \
             carries the whole text so far, so long answers need more than one card.\n\n\
             | 项目 | Item | 数值 |\n|---|---|---|\n| 速率 | rate | {n}0 次/秒 |\n| 大小 | size | {n} KB |\n\n\
             ```python\ndef greet_{n}(name):\n    return f\"你好，{{name}}！第{n}节\"\n```\n\n",
            zh(0),
            zh(1),
        ));
        n += 1;
    }
    take_bytes(&text, bytes)
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

    #[test]
    fn zh_and_mixed_texts_are_measured_in_bytes() {
        for bytes in [0, 1, 2, 3, 100, 7000, 7001] {
            let zh = zh_text(bytes);
            assert!(
                zh.len() <= bytes && zh.len() + 3 >= bytes,
                "{bytes}: {}",
                zh.len()
            );
            let mixed = mixed_text(bytes);
            assert!(mixed.len() <= bytes && mixed.len() + 3 >= bytes, "{bytes}");
        }
        let zh = zh_text(7000);
        assert!(zh.chars().all(|c| !c.is_ascii() || c == '\n'));
        assert!(zh.contains("。\n\n") && zh.contains('，') && zh.contains('：'));
        assert_eq!(zh_text(7000), zh, "deterministic");
        assert!(zh_text(9000).starts_with(&zh), "a prefix of a longer one");
        assert!(zh.starts_with("第一段：") && zh.contains("\n\n第十段："));
        let numbers: Vec<String> = [10, 11, 21, 100, 105, 110, 999, 1234]
            .map(chinese_number)
            .to_vec();
        assert_eq!(
            numbers,
            [
                "十",
                "十一",
                "二十一",
                "一百",
                "一百零五",
                "一百一十",
                "九百九十九",
                "一二三四"
            ]
        );
        let mixed = mixed_text(7000);
        for needle in [
            "## 第1节",
            "| 项目 | Item |",
            "```python",
            "in English",
            "你好",
        ] {
            assert!(mixed.contains(needle), "{needle}");
        }
    }
}
