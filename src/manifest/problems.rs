//! Manifest problems: each names its key and line; a manifest error lists them all.

use std::fmt;

use openclaw_skill_abi::manifest_text::{key_path_at_line, line_of_key, InterpolationError};

/// One problem of the manifest. Never contains secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted key (`dingtalk.app_secret`), when the problem belongs to one.
    pub key: Option<String>,
    /// 1-based line in the file, when known.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl Problem {
    /// A problem of `key`, located in the manifest `text`.
    pub fn at(text: &str, key: &str, message: impl fmt::Display) -> Problem {
        let key = match key {
            "" | "." => None,
            key => Some(key.to_owned()),
        };
        Problem {
            line: key.as_deref().and_then(|k| line_of_key(text, k)),
            key,
            message: message.to_string(),
        }
    }

    /// A problem of `key` inside item `index` (0-based) of the block list `list` (e.g.
    /// `routes`), named `list[index].key` and located at that item's `key` line (or at the
    /// item's first line when the key is not written).
    pub fn in_item(
        text: &str,
        list: &str,
        index: usize,
        key: &str,
        message: impl fmt::Display,
    ) -> Problem {
        let lines: Vec<&str> = text.lines().collect();
        let in_list = |i: usize| {
            key_path_at_line(text, i).is_some_and(|p| p.starts_with(&format!("{list}.")))
        };
        let starts: Vec<usize> = (0..lines.len())
            .filter(|&i| in_list(i) && lines[i].trim_start().starts_with("- "))
            .collect();
        let line = starts.get(index).map(|&start| {
            let end = starts.get(index + 1).copied().unwrap_or(lines.len());
            let wanted = format!("{list}.{key}");
            (start..end)
                .find(|&i| key_path_at_line(text, i).as_deref() == Some(&wanted))
                .unwrap_or(start)
                + 1
        });
        Problem {
            key: Some(if key.is_empty() {
                format!("{list}[{index}]")
            } else {
                format!("{list}[{index}].{key}")
            }),
            line,
            message: message.to_string(),
        }
    }

    /// A YAML syntax error (the document cannot be read at all).
    pub(super) fn yaml(e: &serde_yaml::Error) -> Problem {
        Problem {
            key: None,
            line: e.location().map(|l| l.line()),
            message: e.to_string(),
        }
    }
}

impl From<InterpolationError> for Problem {
    fn from(e: InterpolationError) -> Problem {
        Problem {
            key: e.key,
            line: Some(e.line),
            message: e.message,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.key, self.line) {
            (Some(key), Some(line)) => write!(f, "{key} (line {line}): {}", self.message),
            (Some(key), None) => write!(f, "{key}: {}", self.message),
            (None, Some(line)) => write!(f, "line {line}: {}", self.message),
            (None, None) => f.write_str(&self.message),
        }
    }
}

/// Everything wrong with a manifest, in the order found: one problem per line of `Display`.
/// The file's name is not part of it: whoever read the file prefixes it.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ManifestError {
    /// The problems (at least one).
    pub problems: Vec<Problem>,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

/// Sets the value at dotted `key` aside so that the rest of the document can be checked: an
/// unknown or mistyped key is removed (its default applies); a missing one is given an empty
/// string. Returns false when nothing could be done (the loader then stops).
pub(super) fn set_aside(doc: &mut serde_yaml::Value, key: &str, message: &str) -> bool {
    if key.is_empty() || key == "." {
        return false;
    }
    let (parent, last) = match key.rsplit_once('.') {
        Some((parent, last)) => (Some(parent), last),
        None => (None, key),
    };
    let missing_field = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next());
    let mut node = doc;
    for segment in parent.into_iter().flat_map(|p| p.split('.')) {
        let next = match node {
            serde_yaml::Value::Mapping(map) => map.get_mut(segment),
            serde_yaml::Value::Sequence(items) => {
                segment.parse::<usize>().ok().and_then(|i| items.get_mut(i))
            }
            _ => None,
        };
        match next {
            Some(next) => node = next,
            None => return false,
        }
    }
    match (node, missing_field) {
        // serde names the map that lacks the field: the path ends at the map itself.
        (serde_yaml::Value::Mapping(map), Some(field)) => {
            if let Some(serde_yaml::Value::Mapping(inner)) = map.get_mut(last) {
                return inner
                    .insert(field.into(), serde_yaml::Value::String(String::new()))
                    .is_none();
            }
            false
        }
        (serde_yaml::Value::Mapping(map), None) => map.remove(last).is_some(),
        (serde_yaml::Value::Sequence(items), None) => match last.parse::<usize>() {
            Ok(i) if i < items.len() => {
                items.remove(i);
                true
            }
            _ => false,
        },
        _ => false,
    }
}
