//! Test manifests: the one way tests, the demo, the bench and the Node adapter's tests (through the
//! `test-manifest` binary) write an `openclaw-skill.yaml` for the plugin.
//!
//! [`TestManifest`] mirrors the manifest's keys (README.md, "Manifest"); every optional key is
//! `None` and left out of the YAML, so the plugin's own default applies (and so is a section
//! without any key set, and a key set to null through [`TestManifest::set`]). [`TestManifest::new`] and
//! [`TestManifest::for_peers`] point it at the DingTalk emulator and the fake gateway with the
//! credentials, template and content key those accept.
//!
//! ```
//! use openclaw_dingtalk_emulator::manifest::{TestManifest, Text};
//!
//! let yaml = TestManifest::new("http://127.0.0.1:1", "http://127.0.0.1:2")
//!     .interval_ms(100)
//!     .with(|m| m.conversation.max_queued = Some(2))
//!     .app_secret(Text::raw("\"${MY_SECRET}\""))
//!     .to_yaml();
//! assert!(yaml.contains("  card_update_interval_ms: 100\n"));
//! assert!(yaml.contains("  app_secret: \"${MY_SECRET}\"\n"));
//! ```
//!
//! Strings are written as YAML double-quoted scalars holding exactly the given text: a `${` in them
//! is written `$${`, so the manifest's `${VAR}` interpolation leaves it alone. [`Text::raw`] and
//! [`TestManifest::set_raw`] write YAML text as it is, for tests of interpolation (`${VAR}`) and
//! of malformed or unknown keys.
//!
//! The output is block-style YAML with one-line scalars: the Node adapter reads a few keys of it
//! with its line-based reader (`skill/openclaw/src/manifest.js`).

use std::path::{Path, PathBuf};

use serde::{Serialize, Serializer};
use serde_yaml::value::{Tag, TaggedValue};
use serde_yaml::{Mapping, Value};

use crate::dingtalk::{DingTalkEmulator, EmulatorConfig, DEFAULT_TEMPLATE_ID};
use crate::gateway::{FakeGateway, FakeGatewayConfig};

/// The manifest's usual file name.
pub const FILE_NAME: &str = "openclaw-skill.yaml";

/// The markdown variable of the emulator's default AI Card template.
pub const CONTENT_KEY: &str = "content";

/// The YAML tag that marks raw text inside the serialized tree (never written out).
const RAW_TAG: &str = "ocdt-test-manifest-raw";

/// A string value: literal text, or YAML text written as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Text {
    /// Exactly this string (quoted and escaped as needed, `${` kept literal).
    Literal(String),
    /// This YAML scalar text, verbatim: `"${MY_VAR}"`, `${PORT}`, `'it''s'`, `[a, b`.
    Raw(String),
}

impl Text {
    /// YAML text written as it is (e.g. `"${MY_VAR}"` for an interpolated, quoted value).
    pub fn raw(yaml: impl Into<String>) -> Text {
        Text::Raw(yaml.into())
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text::Literal(s.to_owned())
    }
}

impl From<String> for Text {
    fn from(s: String) -> Text {
        Text::Literal(s)
    }
}

impl From<&String> for Text {
    fn from(s: &String) -> Text {
        Text::Literal(s.clone())
    }
}

impl From<&Path> for Text {
    fn from(p: &Path) -> Text {
        Text::Literal(p.to_string_lossy().into_owned())
    }
}

impl From<PathBuf> for Text {
    fn from(p: PathBuf) -> Text {
        Text::from(p.as_path())
    }
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Text::Literal(t) => s.serialize_str(t),
            // Becomes a tagged value in the tree; `to_yaml` writes its text verbatim.
            Text::Raw(t) => s.serialize_newtype_variant("Text", 1, RAW_TAG, t),
        }
    }
}

/// `openclaw-skill.yaml`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestManifest {
    /// Comment lines written at the top (without `# `).
    #[serde(skip)]
    pub comment: Vec<String>,
    /// `name`.
    pub name: Text,
    /// `version`.
    pub version: Text,
    /// `library`.
    pub library: Option<Text>,
    /// `gateway:`.
    pub gateway: Gateway,
    /// `dingtalk:`.
    pub dingtalk: DingTalk,
    /// `streaming:`.
    pub streaming: Streaming,
    /// `conversation:`.
    pub conversation: Conversation,
    /// `ingress:`.
    pub ingress: Ingress,
    /// `state_dir` (relative to the manifest's directory).
    pub state_dir: Option<Text>,
    /// Changes by dotted key path, applied in order after the fields above.
    #[serde(skip)]
    overrides: Vec<(String, Override)>,
}

#[derive(Debug, Clone, PartialEq)]
enum Override {
    Set(Value),
    Remove,
}

/// `gateway:`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Gateway {
    pub endpoint: Text,
    pub auth_token: Option<Text>,
    pub model: Option<Text>,
    pub include_usage: Option<bool>,
    pub connect_timeout_ms: Option<u64>,
    pub first_byte_timeout_ms: Option<u64>,
    pub idle_timeout_ms: Option<u64>,
    pub total_timeout_ms: Option<u64>,
    pub retries: Option<u32>,
}

/// `dingtalk:`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DingTalk {
    pub app_key: Text,
    pub app_secret: Text,
    pub robot_code: Option<Text>,
    pub api_base_url: Option<Text>,
    pub oapi_base_url: Option<Text>,
    pub card_template_id: Option<Text>,
    pub card_content_key: Option<Text>,
    pub api_qps: Option<u32>,
    pub app_qps: Option<u32>,
    pub monthly_call_quota: Option<u64>,
    pub card_flow_status: Option<bool>,
    pub card_stop_button: Option<Text>,
}

impl Default for Text {
    fn default() -> Text {
        Text::Literal(String::new())
    }
}

/// `streaming:`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Streaming {
    pub enabled: Option<bool>,
    pub card_update_interval_ms: Option<u64>,
    pub card_max_bytes: Option<u64>,
    pub card_create_timeout_ms: Option<u64>,
    pub show_reasoning: Option<bool>,
}

/// `conversation:`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Conversation {
    pub preamble: Option<Text>,
    pub per_sender_sessions: Option<bool>,
    pub access: Access,
    pub dedup_ttl_secs: Option<u64>,
    pub dedup_capacity: Option<u64>,
    pub max_queued: Option<u64>,
    pub sender_messages_per_minute: Option<u32>,
    pub busy_message: Option<Text>,
}

/// `conversation.access:`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Access {
    /// `open` or `allowlist`.
    pub policy: Option<Text>,
    pub allowed_senders: Option<Vec<String>>,
    pub allowed_groups: Option<Vec<String>>,
    pub refusal_message: Option<Text>,
}

/// `ingress:`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Ingress {
    /// `stream` or `http`.
    pub mode: Option<Text>,
    pub http: HttpIngress,
    pub stream: StreamIngress,
    pub metrics_listen: Option<Text>,
}

/// `ingress.http:`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HttpIngress {
    pub listen: Option<Text>,
    pub path: Option<Text>,
    pub max_body_bytes: Option<u64>,
    pub signature_window_secs: Option<u64>,
    pub read_timeout_ms: Option<u64>,
    pub max_connections: Option<u64>,
    pub card_callback_url: Option<Text>,
}

/// `ingress.stream:`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StreamIngress {
    pub silence_timeout_ms: Option<u64>,
}

impl TestManifest {
    /// A manifest for the emulator at `dingtalk_url` (both OpenAPI bases) and the gateway at
    /// `gateway_url`, with the credentials, token, card template and content key of the default
    /// [`EmulatorConfig`] and [`FakeGatewayConfig`], `name: test-bot`, `version: "1.0"` and
    /// `state_dir: state` (next to the manifest). Everything else is left to the plugin's defaults.
    pub fn new(dingtalk_url: &str, gateway_url: &str) -> TestManifest {
        let dt = EmulatorConfig::default();
        TestManifest {
            comment: Vec::new(),
            name: "test-bot".into(),
            version: "1.0".into(),
            library: None,
            gateway: Gateway {
                endpoint: gateway_url.into(),
                auth_token: FakeGatewayConfig::default().token.map(Text::from),
                ..Gateway::default()
            },
            dingtalk: DingTalk {
                app_key: dt.app_key.into(),
                app_secret: dt.app_secret.into(),
                api_base_url: Some(dingtalk_url.into()),
                oapi_base_url: Some(dingtalk_url.into()),
                card_template_id: Some(DEFAULT_TEMPLATE_ID.into()),
                card_content_key: Some(CONTENT_KEY.into()),
                ..DingTalk::default()
            },
            streaming: Streaming::default(),
            conversation: Conversation::default(),
            ingress: Ingress::default(),
            state_dir: Some("state".into()),
            overrides: Vec::new(),
        }
    }

    /// [`TestManifest::new`] for these running peers, with the emulator's app key and secret and
    /// the fake gateway's token (no `auth_token` when it runs without one).
    pub fn for_peers(dingtalk: &DingTalkEmulator, gateway: &FakeGateway) -> TestManifest {
        let cfg = dingtalk.config();
        let mut m = TestManifest::new(&dingtalk.base_url(), &gateway.base_url());
        m.dingtalk.app_key = cfg.app_key.as_str().into();
        m.dingtalk.app_secret = cfg.app_secret.as_str().into();
        m.gateway.auth_token = gateway.config().token.as_deref().map(Text::from);
        m
    }

    /// Changes anything through the fields: `.with(|m| m.dingtalk.api_qps = Some(5))`.
    pub fn with(mut self, change: impl FnOnce(&mut TestManifest)) -> TestManifest {
        change(&mut self);
        self
    }

    /// A comment line at the top of the file.
    pub fn comment(mut self, line: impl Into<String>) -> TestManifest {
        self.comment.push(line.into());
        self
    }

    /// `gateway.endpoint` and `gateway.auth_token` (none: no token).
    pub fn gateway(mut self, endpoint: impl Into<Text>, token: Option<Text>) -> TestManifest {
        self.gateway.endpoint = endpoint.into();
        self.gateway.auth_token = token;
        self
    }

    /// `dingtalk.app_secret`.
    pub fn app_secret(mut self, secret: impl Into<Text>) -> TestManifest {
        self.dingtalk.app_secret = secret.into();
        self
    }

    /// `streaming.card_update_interval_ms`.
    pub fn interval_ms(mut self, ms: u64) -> TestManifest {
        self.streaming.card_update_interval_ms = Some(ms);
        self
    }

    /// `ingress.mode: stream`.
    pub fn stream_ingress(mut self) -> TestManifest {
        self.ingress.mode = Some("stream".into());
        self
    }

    /// `ingress.mode: http` with `ingress.http.path` (and `listen`, when given).
    pub fn http_ingress(mut self, listen: Option<&str>, path: &str) -> TestManifest {
        self.ingress.mode = Some("http".into());
        self.ingress.http.listen = listen.map(Text::from);
        self.ingress.http.path = Some(path.into());
        self
    }

    /// `state_dir` (relative paths are relative to the manifest's directory).
    pub fn state_dir(mut self, dir: impl Into<Text>) -> TestManifest {
        self.state_dir = Some(dir.into());
        self
    }

    /// Sets the dotted key `path` (e.g. `streaming.card_update_interval_ms`, or a key the manifest
    /// does not have) to `yaml`, written as it is.
    pub fn set_raw(mut self, path: &str, yaml: &str) -> TestManifest {
        self.overrides
            .push((path.to_owned(), Override::Set(raw_value(yaml))));
        self
    }

    /// Sets the dotted key `path` to a value (strings literal, as for the fields).
    pub fn set(mut self, path: &str, value: impl Serialize) -> TestManifest {
        let value = serde_yaml::to_value(value).expect("a test manifest value serializes");
        self.overrides.push((path.to_owned(), Override::Set(value)));
        self
    }

    /// `shared_state:` with `url` (`redis://…` or `rediss://…`, e.g. [`RedisServer::url`]) and
    /// `expected_hosts`: the hosts of one DingTalk app that run with this manifest share their
    /// DingTalk call budget, dedup, session generations and card journal through that Redis. The
    /// other keys (`key_prefix`, `lease_ms`) stay at the plugin's defaults unless set, e.g.
    /// `.set("shared_state.lease_ms", 3000)`.
    ///
    /// [`RedisServer::url`]: crate::redis::RedisServer::url
    pub fn shared_state(self, url: &str, expected_hosts: u32) -> TestManifest {
        self.set("shared_state.url", url)
            .set("shared_state.expected_hosts", expected_hosts)
    }

    /// Several apps instead of the `dingtalk:` block: `apps:` with one entry per `(name,
    /// emulator)`, each with the block's settings and that emulator's app key, secret, robot
    /// code and URLs (one emulator per app, as each DingTalk app is its own tenant of limits).
    pub fn apps(self, apps: &[(&str, &DingTalkEmulator)]) -> TestManifest {
        let block = serde_yaml::to_value(&self.dingtalk).expect("the dingtalk block serializes");
        let entries: Vec<Value> = apps
            .iter()
            .map(|(name, emulator)| {
                let cfg = emulator.config();
                let mut entry = block.clone();
                let url = emulator.base_url();
                for (key, value) in [
                    ("name", name.to_string()),
                    ("app_key", cfg.app_key.clone()),
                    ("app_secret", cfg.app_secret.clone()),
                    ("robot_code", cfg.robot_code.clone()),
                    ("api_base_url", url.clone()),
                    ("oapi_base_url", url),
                ] {
                    entry[key] = Value::String(value);
                }
                prune(&mut entry);
                entry
            })
            .collect();
        self.remove("dingtalk").set("apps", entries)
    }

    /// Removes the dotted key `path` (a key the builder writes by default, such as
    /// `dingtalk.card_template_id`), so the plugin's default or its "missing key" error applies.
    pub fn remove(mut self, path: &str) -> TestManifest {
        self.overrides.push((path.to_owned(), Override::Remove));
        self
    }

    /// Merges a JSON object over the manifest: every leaf (a scalar or an array) sets its dotted
    /// key, `null` removes it. `{"conversation": {"max_queued": 2}}`.
    pub fn merge_json(mut self, overlay: &serde_json::Value) -> TestManifest {
        fn walk(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, Override)>) {
            match v {
                serde_json::Value::Object(map) if !map.is_empty() => {
                    for (k, v) in map {
                        let path = if prefix.is_empty() {
                            k.clone()
                        } else {
                            format!("{prefix}.{k}")
                        };
                        walk(&path, v, out);
                    }
                }
                // `{}` as the whole overlay changes nothing.
                serde_json::Value::Object(_) if prefix.is_empty() => {}
                serde_json::Value::Null => out.push((prefix.to_owned(), Override::Remove)),
                other => out.push((
                    prefix.to_owned(),
                    Override::Set(serde_yaml::to_value(other).expect("JSON is YAML")),
                )),
            }
        }
        assert!(
            overlay.is_object(),
            "a manifest overlay is a JSON object, not {overlay}"
        );
        walk("", overlay, &mut self.overrides);
        self
    }

    /// The YAML text.
    pub fn to_yaml(&self) -> String {
        let mut tree = serde_yaml::to_value(self).expect("the test manifest serializes");
        // Every key is in the tree, unset ones as null, so a key set by an override lands in its
        // place; unset keys and sections without a key set are left out of the text.
        for (path, change) in &self.overrides {
            apply(&mut tree, path, change);
        }
        prune(&mut tree);
        let mut out = String::new();
        for line in &self.comment {
            out.push_str("# ");
            out.push_str(line);
            out.push('\n');
        }
        match &tree {
            Value::Mapping(map) => write_mapping(&mut out, map, 0),
            other => panic!("a manifest is a mapping, not {other:?}"),
        }
        out
    }

    /// Writes [`FILE_NAME`] into `dir` and returns its path. Panics when it cannot (a test helper).
    pub fn write(&self, dir: &Path) -> PathBuf {
        let path = dir.join(FILE_NAME);
        std::fs::write(&path, self.to_yaml())
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        path
    }
}

fn raw_value(yaml: &str) -> Value {
    Value::Tagged(Box::new(TaggedValue {
        tag: Tag::new(RAW_TAG),
        value: Value::String(yaml.to_owned()),
    }))
}

fn apply(tree: &mut Value, path: &str, change: &Override) {
    let keys: Vec<&str> = path.split('.').collect();
    assert!(
        keys.iter().all(|k| !k.is_empty()),
        "bad manifest key path `{path}`"
    );
    let (last, parents) = keys.split_last().expect("split yields one key at least");
    let mut node = tree;
    for key in parents {
        let Value::Mapping(map) = node else {
            panic!("`{path}`: `{key}` is under a value that is not a mapping");
        };
        let missing = !map.contains_key(*key);
        if missing {
            if *change == Override::Remove {
                return;
            }
            map.insert(Value::from(*key), Value::Mapping(Mapping::new()));
        }
        node = map.get_mut(*key).expect("present");
    }
    let Value::Mapping(map) = node else {
        panic!("`{path}`: the parent of `{last}` is not a mapping");
    };
    match change {
        Override::Set(v) => {
            map.insert(Value::from(*last), v.clone());
        }
        Override::Remove => {
            map.remove(*last);
        }
    }
}

/// Removes the unset keys (null) and then the empty mappings (sections without a key set).
fn prune(value: &mut Value) {
    if let Value::Mapping(map) = value {
        for (_, v) in map.iter_mut() {
            prune(v);
        }
        map.retain(|_, v| match v {
            Value::Null => false,
            Value::Mapping(m) => !m.is_empty(),
            _ => true,
        });
    }
}

fn write_mapping(out: &mut String, map: &Mapping, indent: usize) {
    let pad = " ".repeat(indent);
    for (key, value) in map {
        let key = match key {
            Value::String(k) if is_plain_key(k) => k.clone(),
            Value::String(k) => quoted(k),
            other => panic!("manifest keys are strings, not {other:?}"),
        };
        match value {
            Value::Mapping(m) if !m.is_empty() => {
                out.push_str(&format!("{pad}{key}:\n"));
                write_mapping(out, m, indent + 2);
            }
            Value::Sequence(items) if !items.is_empty() => {
                out.push_str(&format!("{pad}{key}:\n"));
                for item in items {
                    out.push_str(&format!("{pad}  - {}\n", scalar(item)));
                }
            }
            other => out.push_str(&format!("{pad}{key}: {}\n", scalar(other))),
        }
    }
}

/// A one-line YAML value: plain for null, booleans and numbers, double-quoted for strings, flow
/// style for nested collections, raw text verbatim.
fn scalar(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => quoted(s),
        Value::Sequence(items) => format!(
            "[{}]",
            items.iter().map(scalar).collect::<Vec<_>>().join(", ")
        ),
        Value::Mapping(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("{}: {}", scalar(k), scalar(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Tagged(t) if t.tag == Tag::new(RAW_TAG) => match &t.value {
            Value::String(s) => s.clone(),
            other => panic!("raw manifest text is a string, not {other:?}"),
        },
        Value::Tagged(t) => panic!("unexpected YAML tag {} in a test manifest", t.tag),
    }
}

fn is_plain_key(k: &str) -> bool {
    let mut chars = k.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// A YAML double-quoted scalar holding exactly `s`: JSON string escaping (a subset of YAML's),
/// `\u` escapes for what JSON leaves raw but YAML may not hold raw (DEL, C1 controls, the
/// characters YAML reads as line breaks, a byte-order mark, non-characters), and `${` written as
/// `$${` so interpolation leaves it alone.
fn quoted(s: &str) -> String {
    let json = serde_json::Value::String(s.replace("${", "$${")).to_string();
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_control()
            || matches!(
                c,
                '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
            )
        {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the plugin's loader parses: the text after `${VAR}` interpolation (no variable set).
    fn parse(yaml: &str) -> Value {
        let text = openclaw_skill_abi::manifest_text::interpolate(yaml, |_| None)
            .unwrap_or_else(|e| panic!("{e}\n{yaml}"));
        serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    #[test]
    fn the_default_points_at_the_peers_and_leaves_the_rest_to_the_plugin() {
        let yaml = TestManifest::new("http://127.0.0.1:1", "http://127.0.0.1:2").to_yaml();
        assert_eq!(
            yaml,
            "name: \"test-bot\"\n\
             version: \"1.0\"\n\
             gateway:\n  endpoint: \"http://127.0.0.1:2\"\n  auth_token: \"fake-gateway-token\"\n\
             dingtalk:\n  app_key: \"dingemulatorappkey\"\n  app_secret: \"emulator-app-secret\"\n  \
             api_base_url: \"http://127.0.0.1:1\"\n  oapi_base_url: \"http://127.0.0.1:1\"\n  \
             card_template_id: \"emulator-ai-card.schema\"\n  card_content_key: \"content\"\n\
             state_dir: \"state\"\n"
        );
    }

    #[test]
    fn literal_strings_read_back_exactly_and_dollar_braces_stay_literal() {
        let nasty = "a\"b: #c ${HOME} $${X} \\ 中文\n\u{2028}\u{7f}\u{85}\u{ffff}end";
        let yaml = TestManifest::new("u", "g")
            .with(|m| m.conversation.preamble = Some(nasty.into()))
            .to_yaml();
        assert!(yaml.contains("$${HOME}"), "{yaml}");
        assert_eq!(yaml.lines().count(), 15, "one line per key:\n{yaml}");
        let v = parse(&yaml);
        assert_eq!(v["conversation"]["preamble"].as_str(), Some(nasty));
    }

    #[test]
    fn raw_text_is_written_as_it_is() {
        let yaml = TestManifest::new("u", "g")
            .app_secret(Text::raw("\"${SECRET}\""))
            .set_raw("streaming.card_update_interval_ms", "${INTERVAL}")
            .to_yaml();
        assert!(yaml.contains("\n  app_secret: \"${SECRET}\"\n"), "{yaml}");
        assert!(
            yaml.contains("\nstreaming:\n  card_update_interval_ms: ${INTERVAL}\n"),
            "{yaml}"
        );
        let text = openclaw_skill_abi::manifest_text::interpolate(&yaml, |name| {
            Some(if name == "SECRET" { "s: #\"x" } else { "250" }.to_owned())
        })
        .unwrap();
        let v: Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(v["dingtalk"]["app_secret"].as_str(), Some("s: #\"x"));
        assert_eq!(
            v["streaming"]["card_update_interval_ms"].as_u64(),
            Some(250)
        );
    }

    #[test]
    fn sections_and_lists_appear_only_when_set() {
        let yaml = TestManifest::new("u", "g")
            .with(|m| {
                m.conversation.access.policy = Some("allowlist".into());
                m.conversation.access.allowed_groups = Some(vec!["cidA".into(), "cidB".into()]);
                m.conversation.access.allowed_senders = Some(vec![]);
            })
            .stream_ingress()
            .to_yaml();
        assert!(!yaml.contains("streaming:"), "{yaml}");
        assert!(
            yaml.contains(
                "conversation:\n  access:\n    policy: \"allowlist\"\n    allowed_senders: []\n    \
                 allowed_groups:\n      - \"cidA\"\n      - \"cidB\"\n"
            ),
            "{yaml}"
        );
        assert!(yaml.contains("ingress:\n  mode: \"stream\"\n"), "{yaml}");
    }

    #[test]
    fn overrides_set_add_and_remove_keys_by_path() {
        let yaml = TestManifest::new("u", "g")
            .set("streaming.card_update_interval_ms_typo", 5)
            .remove("dingtalk.card_template_id")
            .remove("no.such.key")
            .merge_json(&serde_json::json!({}))
            .merge_json(&serde_json::json!({
                "gateway": {"auth_token": null, "retries": 0},
                "ingress": {"mode": "http", "http": {"path": "/cb"}},
                "library": "lib/x.so"
            }))
            .to_yaml();
        let v = parse(&yaml);
        assert_eq!(
            v["streaming"]["card_update_interval_ms_typo"].as_u64(),
            Some(5)
        );
        assert!(v["dingtalk"].get("card_template_id").is_none());
        assert!(v.get("no").is_none());
        assert!(v["gateway"].get("auth_token").is_none());
        assert_eq!(v["gateway"]["retries"].as_u64(), Some(0));
        assert_eq!(v["ingress"]["http"]["path"].as_str(), Some("/cb"));
        assert_eq!(v["library"].as_str(), Some("lib/x.so"));
        // Keys the manifest has keep its order, wherever the overlay puts them.
        let keys = |v: &Value| -> Vec<String> {
            v.as_mapping()
                .unwrap()
                .keys()
                .map(|k| k.as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(keys(&v)[..3], ["name", "version", "library"]);
        assert_eq!(keys(&v["ingress"]), ["mode", "http"]);
    }

    #[test]
    fn shared_state_is_a_top_level_section() {
        let yaml = TestManifest::new("u", "g")
            .shared_state("redis://127.0.0.1:6390/0", 3)
            .set("shared_state.lease_ms", 3000)
            .to_yaml();
        assert!(
            yaml.ends_with(
                "shared_state:\n  url: \"redis://127.0.0.1:6390/0\"\n  expected_hosts: 3\n  \
                 lease_ms: 3000\n"
            ),
            "{yaml}"
        );
        let v = parse(&yaml);
        assert_eq!(
            v["shared_state"]["url"].as_str(),
            Some("redis://127.0.0.1:6390/0")
        );
        assert_eq!(v["shared_state"]["expected_hosts"].as_u64(), Some(3));
        assert_eq!(v["shared_state"]["lease_ms"].as_u64(), Some(3000));
        assert!(v["shared_state"].get("key_prefix").is_none(), "default");
        // `${ENV}` as everywhere in the manifest.
        let yaml = TestManifest::new("u", "g")
            .shared_state("x", 2)
            .set_raw("shared_state.url", "\"${REDIS_URL}\"")
            .to_yaml();
        let text = openclaw_skill_abi::manifest_text::interpolate(&yaml, |name| {
            (name == "REDIS_URL").then(|| "rediss://127.0.0.1:6391/2".to_owned())
        })
        .unwrap();
        let v: Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(
            v["shared_state"]["url"].as_str(),
            Some("rediss://127.0.0.1:6391/2")
        );
    }

    #[test]
    fn write_puts_the_file_in_the_directory() {
        let dir = std::env::temp_dir().join(format!("test-manifest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let m = TestManifest::new("u", "g").comment("written by a test");
        let path = m.write(&dir);
        assert_eq!(path, dir.join(FILE_NAME));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# written by a test\nname: "));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
