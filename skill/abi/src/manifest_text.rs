//! Text-level handling of `openclaw-skill.yaml` shared by the plugin and the host:
//! `${VAR}` / `${VAR:-default}` interpolation and mapping keys to line numbers.
//!
//! Interpolation runs on the text before YAML parsing, so parse errors keep the manifest's
//! own line numbers and a variable such as `${INTERVAL}` can supply a number. Values are
//! quoted as their position requires, so a secret containing `"`, `:` or `#` cannot change
//! the structure of the document.

use std::fmt;

/// An interpolation problem, naming the line (1-based), the key and the variable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterpolationError {
    /// 1-based line of the manifest.
    pub line: usize,
    /// Dotted key path of that line, when it has one (e.g. `dingtalk.app_secret`).
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for InterpolationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.key {
            Some(key) => write!(f, "{key} (line {}): {}", self.line, self.message),
            None => write!(f, "line {}: {}", self.line, self.message),
        }
    }
}

impl std::error::Error for InterpolationError {}

/// Replaces `${VAR}` and `${VAR:-default}` using `lookup`; `$${` stands for a literal `${`.
/// Comments are left alone. `${VAR:-default}` uses the default when VAR is unset or empty.
/// Stops at the first problem; [`interpolate_all`] reports every one.
pub fn interpolate(
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, InterpolationError> {
    let (out, mut problems) = interpolate_all(text, lookup);
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems.swap_remove(0))
    }
}

/// As [`interpolate`], but goes on after a problem so that every unset variable and every
/// malformed reference is reported at once. The text returned alongside problems has an empty
/// value where a variable was unset and the rest of a line dropped after a malformed
/// reference, so that the document can still be checked for other problems.
pub fn interpolate_all(
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> (String, Vec<InterpolationError>) {
    let mut out = String::with_capacity(text.len());
    let mut problems = Vec::new();
    for (index, line) in text.split_inclusive('\n').enumerate() {
        interpolate_line(text, index, line, &lookup, &mut out, &mut problems);
    }
    (out, problems)
}

/// [`interpolate`] with the process environment.
pub fn interpolate_env(text: &str) -> Result<String, InterpolationError> {
    interpolate(text, |name| std::env::var(name).ok())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Quote {
    None,
    Double,
    Single,
}

fn interpolate_line(
    text: &str,
    index: usize,
    line: &str,
    lookup: &impl Fn(&str) -> Option<String>,
    out: &mut String,
    problems: &mut Vec<InterpolationError>,
) {
    let err = |message: String| InterpolationError {
        line: index + 1,
        key: key_path_at_line(text, index),
        message,
    };
    let bytes = line.as_bytes();
    let mut quote = Quote::None;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match (quote, c) {
            (Quote::None, b'#') if i == 0 || bytes[i - 1].is_ascii_whitespace() => {
                out.push_str(&line[i..]);
                return;
            }
            (Quote::None, b'"') => quote = Quote::Double,
            (Quote::None, b'\'') => quote = Quote::Single,
            (Quote::Double, b'\\') if i + 1 < bytes.len() => {
                out.push_str(&line[i..i + 2]);
                i += 2;
                continue;
            }
            (Quote::Double, b'"') | (Quote::Single, b'\'') => quote = Quote::None,
            _ => {}
        }
        if c == b'$' && line[i..].starts_with("$${") {
            out.push_str("${");
            i += 3;
            continue;
        }
        if c == b'$' && line[i..].starts_with("${") {
            let Some(close) = line[i..].find('}') else {
                problems.push(err("`${` without a closing `}`".into()));
                return end_line(line, out);
            };
            let expr = &line[i + 2..i + close];
            let rest_start = i + close + 1;
            let value = match resolve(expr, lookup) {
                Ok(value) => value,
                Err(Unresolved::Unset(message)) => {
                    // Go on with an empty value, so the rest of the document is checked too.
                    problems.push(err(message));
                    if quote == Quote::None {
                        out.push_str("\"\"");
                    }
                    i = rest_start;
                    continue;
                }
                Err(Unresolved::Malformed(message)) => {
                    problems.push(err(message));
                    return end_line(line, out);
                }
            };
            match quote {
                Quote::Double => out.push_str(&escape_double(&value)),
                Quote::Single if value.chars().any(|c| c.is_control() || is_yaml_break(c)) => {
                    problems.push(err(format!(
                        "the value of `{}` contains a line break or control character, which single quotes cannot hold; use double quotes",
                        expr.split(":-").next().unwrap_or(expr)
                    )));
                    return end_line(line, out);
                }
                Quote::Single => out.push_str(&value.replace('\'', "''")),
                Quote::None if is_plain_safe(&value) => out.push_str(&value),
                Quote::None => {
                    let before = &line[..i];
                    let after = strip_comment(&line[rest_start..]);
                    let starts_scalar =
                        before.trim_end().ends_with(':') || before.trim_end().ends_with('-');
                    if !starts_scalar || !after.trim().is_empty() {
                        problems.push(err(format!(
                            "the value of `{}` contains characters YAML would misread here; put the whole value in double quotes",
                            expr.split(":-").next().unwrap_or(expr)
                        )));
                        return end_line(line, out);
                    }
                    out.push('"');
                    out.push_str(&escape_double(&value));
                    out.push('"');
                }
            }
            i = rest_start;
            continue;
        }
        let ch_len = line[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&line[i..i + ch_len]);
        i += ch_len;
    }
}

/// Ends the output line early (after a problem that makes the rest of the line unreadable).
fn end_line(line: &str, out: &mut String) {
    if line.ends_with('\n') {
        out.push('\n');
    }
}

/// Why a `${…}` reference has no value.
enum Unresolved {
    /// The variable is not set (and has no default).
    Unset(String),
    /// The reference itself is malformed.
    Malformed(String),
}

fn resolve(expr: &str, lookup: &impl Fn(&str) -> Option<String>) -> Result<String, Unresolved> {
    let (name, default) = match expr.split_once(":-") {
        Some((name, default)) => (name, Some(default)),
        None => (expr, None),
    };
    let valid = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if !valid {
        return Err(Unresolved::Malformed(format!(
            "`${{{expr}}}` is not a valid variable reference (use ${{NAME}} or ${{NAME:-default}})"
        )));
    }
    match (lookup(name), default) {
        (Some(v), Some(d)) if v.is_empty() => Ok(d.to_owned()),
        (Some(v), _) => Ok(v),
        (None, Some(d)) => Ok(d.to_owned()),
        (None, None) => Err(Unresolved::Unset(format!(
            "environment variable {name} is not set"
        ))),
    }
}

fn escape_double(value: &str) -> String {
    let mut s = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            c if c.is_control() || is_yaml_break(c) => s.push_str(&format!("\\u{:04x}", c as u32)),
            c => s.push(c),
        }
    }
    s
}

/// Whether `value` reads back as itself (or as the intended number/bool) in a plain scalar.
fn is_plain_safe(value: &str) -> bool {
    const BAD_START: &[char] = &[
        '-', '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@',
        '`',
    ];
    !value.is_empty()
        && !value.starts_with(BAD_START)
        && !value.starts_with(char::is_whitespace)
        && !value.ends_with(char::is_whitespace)
        && !value.ends_with(':')
        && !value.contains(": ")
        && !value.contains(" #")
        && !value.chars().any(|c| c.is_control() || is_yaml_break(c))
}

/// Characters YAML reads as line breaks (or a byte-order mark) besides the ASCII controls:
/// NEL, LINE SEPARATOR, PARAGRAPH SEPARATOR, BOM. Found by the property test.
fn is_yaml_break(c: char) -> bool {
    matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{feff}')
}

fn strip_comment(s: &str) -> &str {
    let bytes = s.as_bytes();
    for i in 0..bytes.len() {
        if bytes[i] == b'#' && (i == 0 || bytes[i - 1].is_ascii_whitespace()) {
            return &s[..i];
        }
    }
    s
}

/// The mapping key written on line `index` (0-based) of a block-style YAML document, with
/// its parents: `dingtalk.app_secret`. `None` when the line holds no key.
pub fn key_path_at_line(text: &str, index: usize) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let (indent, key) = key_of(lines.get(index)?)?;
    let mut path = vec![key];
    let mut current = indent;
    for line in lines[..index].iter().rev() {
        if current == 0 {
            break;
        }
        if let Some((ind, key)) = key_of(line) {
            if ind < current {
                path.push(key);
                current = ind;
            }
        }
    }
    path.reverse();
    Some(path.join("."))
}

/// The 1-based line on which the dotted key `path` (e.g. `streaming.card_update_interval_ms`)
/// is written in a block-style YAML document.
pub fn line_of_key(text: &str, path: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    (0..lines.len())
        .find(|&i| key_path_at_line(text, i).as_deref() == Some(path))
        .map(|i| i + 1)
}

/// Indentation and key of a `key: value` line (a `- key: value` list item counts its key at
/// the column after the dash).
fn key_of(line: &str) -> Option<(usize, String)> {
    let trimmed = line.trim_start();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return None;
    }
    let mut indent = line.len() - trimmed.len();
    let mut body = trimmed;
    while let Some(rest) = body.strip_prefix("- ") {
        indent += 2;
        body = rest.trim_start();
    }
    let colon = body.find(':')?;
    let after = &body[colon + 1..];
    if !(after.is_empty() || after.starts_with(char::is_whitespace)) {
        return None;
    }
    let key = body[..colon].trim().trim_matches(|c| c == '"' || c == '\'');
    if key.is_empty() || key.contains(char::is_whitespace) && !body.starts_with(['"', '\'']) {
        return None;
    }
    Some((indent, key.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "KEY" => Some("abc".into()),
            "EMPTY" => Some(String::new()),
            "NASTY" => Some("pa\"ss: #word'".into()),
            "NUM" => Some("250".into()),
            _ => None,
        }
    }

    const DOC: &str = "name: bot\ngateway:\n  endpoint: http://x\n  auth_token: ${MISSING}\nstreaming:\n  enabled: true\n";

    #[test]
    fn plain_values_are_substituted_and_numbers_stay_numbers() {
        let out = interpolate("a: ${KEY}\nb: ${NUM}\nc: x-${KEY}-y\n", env).unwrap();
        assert_eq!(out, "a: abc\nb: 250\nc: x-abc-y\n");
    }

    #[test]
    fn defaults_apply_when_unset_or_empty() {
        let out = interpolate("a: ${NOPE:-dflt}\nb: ${EMPTY:-d2}\nc: ${NOPE:-}\n", env).unwrap();
        assert_eq!(out, "a: dflt\nb: d2\nc: \"\"\n");
    }

    #[test]
    fn a_missing_variable_names_the_key_and_line() {
        let err = interpolate(DOC, env).unwrap_err();
        assert_eq!(err.line, 4);
        assert_eq!(err.key.as_deref(), Some("gateway.auth_token"));
        assert!(err.to_string().contains("MISSING is not set"), "{err}");
    }

    #[test]
    fn every_unset_variable_is_reported_at_once_with_its_key_and_line() {
        let doc = "gateway:\n  endpoint: ${URL}\n  auth_token: \"${TOKEN}\"\ndingtalk:\n  app_key: ${KEY}\n  app_secret: ${NOPE}\n  robot_code: ${ROBOT:-}\n";
        let (out, problems) = interpolate_all(doc, env);
        let named: Vec<(usize, &str)> = problems
            .iter()
            .map(|p| (p.line, p.key.as_deref().unwrap_or("")))
            .collect();
        assert_eq!(
            named,
            [
                (2, "gateway.endpoint"),
                (3, "gateway.auth_token"),
                (6, "dingtalk.app_secret")
            ]
        );
        assert!(problems[0].message.contains("URL is not set"));
        assert!(
            out.contains("  app_key: abc\n"),
            "the rest is still substituted: {out}"
        );
        assert!(out.contains("  app_secret: \"\"\n"), "{out}");
        assert_eq!(
            interpolate(doc, env).unwrap_err().line,
            2,
            "first problem only"
        );
    }

    #[test]
    fn special_characters_cannot_change_the_structure() {
        let plain = interpolate("secret: ${NASTY}\n", env).unwrap();
        assert_eq!(plain, "secret: \"pa\\\"ss: #word'\"\n");
        let double = interpolate("secret: \"${NASTY}\"\n", env).unwrap();
        assert_eq!(double, "secret: \"pa\\\"ss: #word'\"\n");
        let single = interpolate("secret: '${NASTY}'\n", env).unwrap();
        assert_eq!(single, "secret: 'pa\"ss: #word'''\n");
        let mixed = interpolate("secret: x${NASTY}\n", env).unwrap_err();
        assert!(mixed.message.contains("double quotes"), "{mixed}");
    }

    #[test]
    fn unicode_line_separators_are_escaped_not_taken_as_line_breaks() {
        let lookup = |_: &str| Some("Σ\u{2028}A".to_owned());
        assert_eq!(
            interpolate("s: ${X}\n", lookup).unwrap(),
            "s: \"Σ\\u2028A\"\n"
        );
        assert_eq!(
            interpolate("s: \"${X}\"\n", lookup).unwrap(),
            "s: \"Σ\\u2028A\"\n"
        );
        assert!(interpolate("s: '${X}'\n", lookup)
            .unwrap_err()
            .message
            .contains("double quotes"));
    }

    #[test]
    fn comments_and_escapes_are_left_alone() {
        let out = interpolate("# ${MISSING}\na: b # ${MISSING}\nc: $${KEY}\n", env).unwrap();
        assert_eq!(out, "# ${MISSING}\na: b # ${MISSING}\nc: ${KEY}\n");
    }

    #[test]
    fn malformed_references_are_errors() {
        assert!(interpolate("a: ${KEY\n", env)
            .unwrap_err()
            .message
            .contains("closing"));
        assert!(interpolate("a: ${1X}\n", env)
            .unwrap_err()
            .message
            .contains("not a valid"));
    }

    #[test]
    fn keys_map_to_lines_and_back() {
        assert_eq!(
            key_path_at_line(DOC, 5).as_deref(),
            Some("streaming.enabled")
        );
        assert_eq!(line_of_key(DOC, "gateway.endpoint"), Some(3));
        assert_eq!(line_of_key(DOC, "streaming.enabled"), Some(6));
        assert_eq!(line_of_key(DOC, "nope"), None);
        let list = "access:\n  allowed:\n    - id: a\n      nick: b\n";
        assert_eq!(
            key_path_at_line(list, 3).as_deref(),
            Some("access.allowed.nick")
        );
    }
}
