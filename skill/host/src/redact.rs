//! Credentials never reach a log line, `check`'s output or an error message:
//! - the userinfo of a URL (`https://user:pass@host/…`) is shown as `https://***@host/…`;
//! - a credential parameter ([`SECRET_PARAMS`]: `access_token`, `session`, `ticket`, `sign`, …)
//!   in a URL's query is shown as `access_token=***`;
//! - the same names as `name=value` in running text are shown as `name=***`, unless the value
//!   is a count (digits only): the per-reply log line counts DingTalk calls by kind, and
//!   `token=1` there is the number of access-token calls, not a token.
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

/// Parameter names whose values are credentials (compared without case): DingTalk's
/// `access_token` (robot webhooks), `session` (session webhooks), `ticket` (Stream
/// connections), `sign` (HTTP callbacks), and the usual generic names.
pub const SECRET_PARAMS: [&str; 14] = [
    "access_token",
    "token",
    "auth_token",
    "api_key",
    "apikey",
    "ticket",
    "session",
    "sign",
    "secret",
    "app_secret",
    "appsecret",
    "client_secret",
    "password",
    "passwd",
];

/// `text` with every credential in it replaced by `***`: the userinfo of every
/// `scheme://userinfo@host`, and the values of [`SECRET_PARAMS`] (in running text only when
/// the value is not a count).
pub fn urls(text: &str) -> Cow<'_, str> {
    // Parameters first: a redacted value can no longer hide an `@` behind a `?` it contained
    // (`://token=?&@`), so a second pass finds nothing more (idempotent).
    match params(text) {
        Cow::Borrowed(text) => userinfo(text),
        Cow::Owned(text) => Cow::Owned(userinfo(&text).into_owned()),
    }
}

/// Characters a parameter name is made of.
fn in_name(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.'
}

/// Characters that end a parameter value.
fn ends_value(c: char) -> bool {
    ends_url(c) || matches!(c, '&' | '#' | '}' | '\\')
}

/// `text` with the values of [`SECRET_PARAMS`] replaced by `***`: always after `?` or `&` (a
/// URL query or a form body), elsewhere unless the value is digits only (a count).
fn params(text: &str) -> Cow<'_, str> {
    if !text.contains('=') {
        return Cow::Borrowed(text);
    }
    let mut out = String::new();
    let mut copied = 0;
    let mut search = 0;
    while let Some(i) = text[search..].find('=') {
        let eq = search + i;
        search = eq + 1;
        let name_start = text[..eq]
            .char_indices()
            .rev()
            .take_while(|(_, c)| in_name(*c))
            .last()
            .map_or(eq, |(i, _)| i);
        let name = &text[name_start..eq];
        if !SECRET_PARAMS.iter().any(|p| p.eq_ignore_ascii_case(name)) {
            continue;
        }
        let before = text[..name_start].chars().next_back();
        let in_query = matches!(before, Some('?' | '&'));
        // A quoted value (`sign="…"`) runs to its closing quote.
        let rest = &text[eq + 1..];
        let quote = rest.chars().next().filter(|c| matches!(c, '"' | '\''));
        let start = eq + 1 + quote.map_or(0, char::len_utf8);
        let value_len = match quote {
            Some(q) => text[start..].find(q),
            None => text[start..].find(ends_value),
        }
        .unwrap_or(text.len() - start);
        let value = &text[start..start + value_len];
        let count = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
        if value.is_empty() || value == "***" || (count && !in_query) {
            continue;
        }
        out.push_str(&text[copied..start]);
        out.push_str("***");
        copied = start + value_len;
        search = copied;
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// `text` with the userinfo of every `scheme://userinfo@host` in it replaced by `***`.
fn userinfo(text: &str) -> Cow<'_, str> {
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
    fn a_redacted_value_that_held_a_query_mark_does_not_change_on_a_second_pass() {
        // Found by the idempotence property: the `?` inside the value ended the authority
        // before redaction, and the `@` after it became userinfo only afterwards.
        let once = urls("://token=?&@").into_owned();
        assert_eq!(once, "://***@");
        assert_eq!(urls(&once), once);
    }

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
    fn counts_are_kept_and_credentials_are_redacted() {
        // The plugin's per-reply line: `token=1` counts access-token calls.
        let reply = "reply msg=msg1 conv=cid群聊== outcome=finished chars=394 calls=11 token=1 \
                     create=1 stream=8 instance=1 elapsed_ms=1989";
        assert!(matches!(urls(reply), Cow::Borrowed(_)), "{}", urls(reply));
        for (given, shown) in [
            // Query credentials, whatever their value looks like.
            (
                "POST https://oapi.dingtalk.com/robot/send?access_token=9f86d081884c7d65 failed",
                "POST https://oapi.dingtalk.com/robot/send?access_token=*** failed",
            ),
            (
                "webhook https://oapi.dingtalk.com/robot/sendBySession?session=76da&x=1 (群)",
                "webhook https://oapi.dingtalk.com/robot/sendBySession?session=***&x=1 (群)",
            ),
            (
                "wss://wss-open-connection.dingtalk.com/connect?ticket=1234567",
                "wss://wss-open-connection.dingtalk.com/connect?ticket=***",
            ),
            (
                "GET https://u:p@h/x?Token=abc#frag",
                "GET https://***@h/x?Token=***#frag",
            ),
            // In running text: a real token is redacted, a count next to it is kept.
            (
                "calls=3 token=1 refused: token=9f86d081 sign=\"MEUCIQ+/=\", secret=s3cr3t;",
                "calls=3 token=1 refused: token=*** sign=\"***\", secret=***;",
            ),
            (
                "{\"msg\":\"app_secret=abc\"}",
                "{\"msg\":\"app_secret=***\"}",
            ),
        ] {
            assert_eq!(urls(given), shown, "{given}");
        }
        // Names that only end like a credential are not credentials.
        for text in [
            "my_token_count=abc",
            "tokens=5",
            "designation=x",
            "session_id=1 tokens=x",
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

/// Any text: redaction never panics, is idempotent, and keeps counts.
#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Text made of the pieces the redactor looks for.
    fn pieces() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("token"),
            Just("access_token"),
            Just("ticket"),
            Just("sign"),
            Just("="),
            Just("&"),
            Just("?"),
            Just("\""),
            Just("'"),
            Just(" "),
            Just("://"),
            Just("@"),
            Just("***"),
            Just("7"),
            Just("a"),
            Just("群"),
        ];
        prop::collection::vec(piece, 0..40).prop_map(|p| p.concat())
    }

    proptest! {
        #![proptest_config(crate::proptest_config::config())]

        #[test]
        fn redaction_is_idempotent(text in prop_oneof![pieces(), ".*"]) {
            let once = urls(&text).into_owned();
            prop_assert_eq!(urls(&once).into_owned(), once);
        }

        #[test]
        fn counts_survive(counts in prop::collection::vec((0usize..6, 0u64..1_000_000), 1..6)) {
            let line: Vec<String> = counts
                .iter()
                .map(|(k, n)| format!("{}={n}", ["calls", "token", "create", "stream", "sign", "ticket"][*k]))
                .collect();
            let line = format!("reply msg=m {}", line.join(" "));
            prop_assert_eq!(urls(&line).into_owned(), line);
        }
    }
}
