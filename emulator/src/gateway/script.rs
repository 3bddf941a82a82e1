//! The reply script: trigger words in the request's user messages choose what the fake answers.
//!
//! Every user message is searched (docs/gateway.md, "Fake upstream model": the real gateway appends
//! an internal-context user message after the user's text, so the last message alone would miss triggers). A
//! trigger must stand as its own word: `FAIL500` matches in "x FAIL500." but not in "FAIL5000" or
//! "NO_FAIL500".
//!
//! | trigger | effect |
//! |---|---|
//! | `TOKENS:<n>` | exactly n tokens `t1 `, `t2 `, … |
//! | `LONG:<chars>` | an answer of exactly that many characters (CJK, ASCII, markdown), ~4-char tokens |
//! | `ZH:<bytes>` | an all-Chinese answer of that many UTF-8 bytes (≤, within 3), numbered paragraphs (`第一段：`…) with Chinese punctuation, 3-character tokens |
//! | `MIXED:<bytes>` | Chinese + English + a markdown table + a fenced code block per section, that many UTF-8 bytes (≤, within 3), 4-character tokens |
//! | `PACE:<ms>` | pause before each token |
//! | `SLOW` | 1000 ms per token (unless `PACE` is given) |
//! | `CHART` | a small PNG bar chart as a markdown `data:` image between Chinese sentences, and the same image again at the end ([`chart_png`](super::chart_png)), 4-character tokens (the base64 is split across many chunks) |
//! | `REASON` | three `reasoning_content` deltas before the content |
//! | `FAIL500`, `FAILMID`, `FAIL401`, `SILENT`, `CUT` | failures (meaning depends on the mode) |

use std::time::Duration;

use super::{chart, reply_text};

/// Upper bounds so a trigger cannot make the fake allocate without limit.
const MAX_TOKENS: u64 = 100_000;
const MAX_LONG_CHARS: u64 = 1_000_000;
const MAX_TEXT_BYTES: u64 = 3_000_000;
const MAX_PACE_MS: u64 = 600_000;

/// A scripted failure: what a failure trigger word does, chosen by the text or queued with
/// [`FakeGateway::fail_next`](super::FakeGateway::fail_next). What each does depends on the mode (see the
/// module docs of `gateway`; docs/gateway.md, "In-stream errors").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptedFailure {
    /// `FAIL500`: gateway mode, `failure_silence` then the in-stream `upstream provider error`; upstream
    /// mode, HTTP 500.
    Fail500,
    /// `FAILMID`: gateway mode, two tokens, `failure_silence`, then `upstream provider timeout`; upstream
    /// mode, two tokens then a cut connection.
    FailMid,
    /// `FAIL401`: gateway mode, `401 bad upstream key` and the upstream-key cooldown; upstream mode, HTTP 401.
    Fail401,
    /// `SILENT`: the role chunk, then nothing until the client goes away.
    Silent,
    /// `CUT`: two tokens, then the connection is closed without `[DONE]`.
    Cut,
}

/// The triggers found in a request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Script {
    pub(crate) failure: Option<ScriptedFailure>,
    tokens: Option<u64>,
    long: Option<u64>,
    zh: Option<u64>,
    mixed: Option<u64>,
    pace: Option<u64>,
    slow: bool,
    chart: bool,
    pub(crate) reason: bool,
}

impl Script {
    /// Reads the triggers of all `texts`. Failure precedence: FAIL401, FAIL500, FAILMID, CUT, SILENT.
    pub(crate) fn parse(texts: &[String]) -> Self {
        let word = |w: &str| texts.iter().any(|t| find_word(t, w));
        let number = |p: &str| texts.iter().find_map(|t| find_number(t, p));
        let failure = [
            ("FAIL401", ScriptedFailure::Fail401),
            ("FAIL500", ScriptedFailure::Fail500),
            ("FAILMID", ScriptedFailure::FailMid),
            ("CUT", ScriptedFailure::Cut),
            ("SILENT", ScriptedFailure::Silent),
        ]
        .into_iter()
        .find_map(|(w, f)| word(w).then_some(f));
        Self {
            failure,
            tokens: number("TOKENS:").map(|n| n.min(MAX_TOKENS)),
            long: number("LONG:").map(|n| n.min(MAX_LONG_CHARS)),
            zh: number("ZH:").map(|n| n.min(MAX_TEXT_BYTES)),
            mixed: number("MIXED:").map(|n| n.min(MAX_TEXT_BYTES)),
            pace: number("PACE:").map(|n| n.min(MAX_PACE_MS)),
            slow: word("SLOW"),
            chart: word("CHART"),
            reason: word("REASON"),
        }
    }

    /// Pause before each token: `PACE`, else `SLOW` (1 s), else `base`.
    pub(crate) fn interval(&self, base: Duration) -> Duration {
        match (self.pace, self.slow) {
            (Some(ms), _) => Duration::from_millis(ms),
            (None, true) => Duration::from_secs(1),
            (None, false) => base,
        }
    }

    /// The content tokens: `CHART`, else `LONG`, else `ZH`, else `MIXED`, else `TOKENS`, else the
    /// default text split into words.
    pub(crate) fn tokens(&self, default_text: impl FnOnce() -> String) -> Vec<String> {
        if self.chart {
            return reply_text::chunk_chars(&chart::chart_text(), 4);
        }
        if let Some(chars) = self.long {
            return reply_text::chunk_chars(&reply_text::long_text(chars as usize), 4);
        }
        if let Some(bytes) = self.zh {
            return reply_text::chunk_chars(&reply_text::zh_text(bytes as usize), 3);
        }
        if let Some(bytes) = self.mixed {
            return reply_text::chunk_chars(&reply_text::mixed_text(bytes as usize), 4);
        }
        match self.tokens {
            Some(n) => reply_text::numbered_tokens(n as usize),
            None => reply_text::word_tokens(&default_text()),
        }
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Finds `word` standing alone (no word character right before or after it).
fn find_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        !before.is_some_and(is_word_char) && !after.is_some_and(is_word_char)
    })
}

/// Finds `prefix` (not preceded by a word character) followed by digits, e.g. `TOKENS:12`.
fn find_number(text: &str, prefix: &str) -> Option<u64> {
    text.match_indices(prefix).find_map(|(i, _)| {
        if text[..i].chars().next_back().is_some_and(is_word_char) {
            return None;
        }
        let rest = &text[i + prefix.len()..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse::<u64>().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(text: &str) -> Script {
        Script::parse(&[text.to_string()])
    }

    #[test]
    fn triggers_are_whole_words() {
        assert_eq!(
            script("please FAIL500 now").failure,
            Some(ScriptedFailure::Fail500)
        );
        assert_eq!(script("FAIL5000").failure, None);
        assert_eq!(script("NO_SILENT_REPLY").failure, None);
        assert_eq!(script("(CUT)").failure, Some(ScriptedFailure::Cut));
        assert_eq!(
            script("FAIL500 FAIL401").failure,
            Some(ScriptedFailure::Fail401)
        );
        assert!(script("REASON.").reason);
    }

    #[test]
    fn chart_streams_a_data_image_in_many_small_tokens() {
        let tokens = script("画个图 CHART").tokens(String::new);
        assert!(tokens.len() > 40, "{} tokens", tokens.len());
        assert!(tokens.iter().all(|t| t.chars().count() <= 4));
        assert_eq!(tokens.concat(), chart::chart_text());
        assert!(!script("CHARTS").chart);
    }

    #[test]
    fn numbers_and_pacing() {
        let s = script("TOKENS:3 PACE:5");
        assert_eq!(s.tokens(String::new), ["t1 ", "t2 ", "t3 "]);
        assert_eq!(
            s.interval(Duration::from_millis(20)),
            Duration::from_millis(5)
        );
        assert_eq!(
            script("SLOW").interval(Duration::from_millis(20)),
            Duration::from_secs(1)
        );
        assert_eq!(script("XTOKENS:3").tokens(|| "a b".into()), ["a", " b"]);
        let long: String = script("LONG:123").tokens(String::new).concat();
        assert_eq!(long.chars().count(), 123);
        let zh = script("ZH:7000 PACE:5").tokens(String::new);
        assert_eq!(zh[0].chars().count(), 3);
        let zh = zh.concat();
        assert!(zh.len() <= 7000 && zh.len() >= 6997, "{}", zh.len());
        let mixed: String = script("MIXED:7000").tokens(String::new).concat();
        assert!(mixed.len() <= 7000 && mixed.len() >= 6997 && mixed.contains("```"));
        assert_eq!(script("XZH:30").tokens(|| "a".into()), ["a"]);
    }

    #[test]
    fn triggers_in_any_user_message() {
        let s = Script::parse(&[
            "hello".into(),
            "<<<BEGIN_OPENCLAW_INTERNAL_CONTEXT>>>".into(),
            "TOKENS:2".into(),
        ]);
        assert_eq!(s.tokens(String::new).len(), 2);
    }
}
