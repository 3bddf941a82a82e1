//! Credentials in URLs never reach a log line, `check`'s output or an error message: the
//! userinfo of a URL (`https://user:pass@host/…`) is shown as `https://***@host/…`.
//!
//! [`urls`] works on any text (log records of the host and of the plugin, error chains, JSON),
//! so it also catches URLs the host did not format itself.

use std::borrow::Cow;

/// Where the authority of a URL ends (RFC 3986 and the WHATWG parser for special schemes).
fn ends_authority(c: char) -> bool {
    matches!(c, '/' | '?' | '#' | '\\') || ends_url(c)
}

/// Characters that end a URL inside running text, JSON or a quoted value.
fn ends_url(c: char) -> bool {
    c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`' | ')' | ']' | ',' | ';')
}

/// `text` with the userinfo of every `scheme://userinfo@host` in it replaced by `***`.
pub fn urls(text: &str) -> Cow<'_, str> {
    if !text.contains("://") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut changed = false;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        let authority_len = after.find(ends_authority).unwrap_or(after.len());
        let authority = &after[..authority_len];
        match authority.rfind('@') {
            Some(userinfo_end) if authority[..userinfo_end] != *"***" => {
                out.push_str("***");
                out.push_str(&authority[userinfo_end..]);
                changed = true;
            }
            _ => out.push_str(authority),
        }
        rest = &after[authority_len..];
    }
    out.push_str(rest);
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(text)
    }
}

/// A URL for display: [`urls`] of it.
pub fn url(url: &str) -> String {
    urls(url).into_owned()
}

/// Every string inside a JSON value, redacted with [`urls`].
pub fn json(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(s) => {
            if let Cow::Owned(r) = urls(s) {
                *s = r;
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(json),
        serde_json::Value::Object(map) => map.values_mut().for_each(json),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_is_redacted_wherever_a_url_appears() {
        for (given, shown) in [
            (
                "https://user:pass@api.example.com/v1?x=1",
                "https://***@api.example.com/v1?x=1",
            ),
            ("wss://token@h:443/connect", "wss://***@h:443/connect"),
            ("http://u@[::1]:8080", "http://***@[::1]:8080"),
            // An unencoded '@' in the password: the last '@' of the authority ends it.
            ("https://u:p@ss@host/x", "https://***@host/x"),
            (
                "cannot reach http://a:b@gw:1/v1 (refused); also \"https://c:d@e\"",
                "cannot reach http://***@gw:1/v1 (refused); also \"https://***@e\"",
            ),
            (
                "{\"endpoint\":\"http://x:y@h\"}",
                "{\"endpoint\":\"http://***@h\"}",
            ),
        ] {
            assert_eq!(urls(given), shown, "{given}");
        }
    }

    #[test]
    fn text_without_userinfo_is_untouched() {
        for text in [
            "https://api.dingtalk.com/v1.0/gateway/connections/open",
            "https://h/path?mail=a@b.example",
            "http://h/#frag@x",
            "plain text with an @ sign",
            "wss://***@h/already",
            "",
        ] {
            assert!(matches!(urls(text), Cow::Borrowed(_)), "{text}");
        }
    }

    #[test]
    fn json_strings_are_redacted() {
        let mut v = serde_json::json!({"gateway": {"endpoint": "http://u:p@127.0.0.1:1"}, "n": 1, "l": ["https://a:b@c/"]});
        json(&mut v);
        assert_eq!(
            v,
            serde_json::json!({"gateway": {"endpoint": "http://***@127.0.0.1:1"}, "n": 1, "l": ["https://***@c/"]})
        );
    }
}
