//! Bad input never panics or hangs: property tests of the event parser, the SSE handling,
//! the manifest (with interpolation) and the card markdown, with the case counts below.
//! Unit tests of the crate (the parsers are internal); `scripts/soak.sh` runs them for
//! minutes with `OCDT_PROPTEST_CASES`.

use std::path::Path;

use crate::card::markdown::{normalize_for_card, split_point};
use crate::event::BotMessage;
use crate::gateway::{parse_event_data, GatewayEvent};
use crate::manifest::Manifest;
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use openclaw_dingtalk_emulator::manifest::{TestManifest, Text};
use openclaw_skill_abi::manifest_text::interpolate;
use proptest::prelude::*;
use serde_json::{json, Value};

/// Cases per property: 2,000 in a normal run; the soak (`scripts/soak.sh`) sets
/// `OCDT_PROPTEST_CASES` and runs the properties again and again for minutes.
pub(crate) fn config() -> ProptestConfig {
    let cases = std::env::var("OCDT_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

/// JSON values built from the field names DingTalk uses, so mutations hit real code paths.
fn json_value() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("msgId"),
        Just("msgtype"),
        Just("conversationId"),
        Just("conversationType"),
        Just("senderId"),
        Just("senderStaffId"),
        Just("senderNick"),
        Just("text"),
        Just("content"),
        Just("richText"),
        Just("recognition"),
        Just("isReplyMsg"),
        Just("repliedMsg"),
        Just("sessionWebhook"),
        Just("sessionWebhookExpiredTime"),
        Just("markdown"),
        Just("type"),
        Just("atName"),
        Just("robotCode"),
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        prop_oneof![
            Just("1".to_owned()),
            Just("2".to_owned()),
            Just("text".to_owned()),
            Just("audio".to_owned()),
            Just("richText".to_owned()),
            ".*"
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..10).prop_map(|m| Value::Object(
                m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
            )),
        ]
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_event_parser_never_panics_and_names_the_field(value in json_value()) {
        if let Err(e) = BotMessage::parse(&value.to_string()) {
            prop_assert!(e.to_string().starts_with("event"), "{e}");
        }
    }

    #[test]
    fn the_event_parser_survives_arbitrary_text(text in ".*") {
        let _ = BotMessage::parse(&text);
    }

    #[test]
    fn sse_payloads_never_panic(data in ".*") {
        let _ = parse_event_data(&data);
    }

    #[test]
    fn an_sse_stream_split_anywhere_yields_the_same_text(
        tokens in prop::collection::vec("[a-z你好 \\n\"\\\\]{0,6}", 1..30),
        cuts in prop::collection::vec(1usize..64, 0..20),
        crlf in any::<bool>(),
    ) {
        let eol = if crlf { "\r\n" } else { "\n" };
        let mut body = String::new();
        for t in &tokens {
            let chunk = json!({"choices": [{"index": 0, "delta": {"content": t}, "finish_reason": null}]});
            body.push_str(&format!("data: {chunk}{eol}{eol}"));
        }
        body.push_str(&format!("data: [DONE]{eol}{eol}"));
        let bytes = body.into_bytes();
        let mut pieces = Vec::new();
        let mut at = 0;
        for c in cuts {
            let end = (at + c).min(bytes.len());
            pieces.push(Ok::<_, std::io::Error>(bytes::Bytes::copy_from_slice(&bytes[at..end])));
            at = end;
        }
        pieces.push(Ok(bytes::Bytes::copy_from_slice(&bytes[at..])));
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let text = rt.block_on(async {
            let mut events = futures_util::stream::iter(pieces).eventsource();
            let mut text = String::new();
            while let Some(Ok(ev)) = events.next().await {
                if ev.data == "[DONE]" { break; }
                for e in parse_event_data(&ev.data).unwrap() {
                    if let GatewayEvent::Delta(t) = e { text.push_str(&t); }
                }
            }
            text
        });
        prop_assert_eq!(text, tokens.concat());
    }

    #[test]
    fn the_manifest_loader_never_panics(text in "(name|version|gateway|dingtalk|streaming|endpoint|app_key|  |: |\\$\\{|\\}|[a-z\"'#:\\- \\n]){0,80}") {
        let _ = Manifest::load_with(&text, Path::new("."), |_| Some("v".into()));
        let _ = interpolate(&text, |n| (n.len() % 2 == 0).then(|| "x: #\"".to_owned()));
    }

    #[test]
    fn any_secret_round_trips_through_interpolation(secret in "\\PC{1,40}", quoted in any::<bool>()) {
        // The position of `${S}` is what is tested: inside double quotes or plain.
        let raw = if quoted { "\"${S}\"" } else { "${S}" };
        let text = TestManifest::new("http://127.0.0.1:1", "http://127.0.0.1:2")
            .app_secret(Text::raw(raw))
            .to_yaml();
        match Manifest::load_with(&text, Path::new("."), |_| Some(secret.clone())) {
            Ok(m) => prop_assert_eq!(m.apps[0].app_secret.expose(), secret.as_str()),
            // Only a value that is empty after trimming is refused (it must not be blank).
            Err(e) => prop_assert!(secret.trim().is_empty() || e.to_string().contains("double quotes"), "{e}"),
        }
    }

    #[test]
    fn any_literal_text_reads_back_exactly_from_a_built_manifest(text in "(?s).{0,40}|(\\$\\{|\\$\\$\\{|[\"'#:\\\\ \n]){0,20}") {
        // What TestManifest writes is what the plugin's loader reads: quoting, escapes, `${`.
        let yaml = TestManifest::new("http://127.0.0.1:1", "http://127.0.0.1:2")
            .with(|m| m.conversation.preamble = Some(text.as_str().into()))
            .to_yaml();
        match Manifest::load_with(&yaml, Path::new("."), |_| None) {
            Ok(m) => prop_assert_eq!(m.conversation.preamble, text),
            Err(e) => prop_assert!(false, "{e}\n{yaml}"),
        }
    }

    #[test]
    fn split_points_are_safe_and_never_lose_text(text in "(\\PC|中文|\\n|```|\\| a \\|){0,400}", max in 1usize..360) {
        if let Some(cut) = split_point(&text, max) {
            prop_assert!(text.is_char_boundary(cut));
            prop_assert!(cut > 0);
            // UTF-8 bytes, or a single character when even one is larger than `max`.
            prop_assert!(cut <= max || text[..cut].chars().count() == 1);
        } else {
            prop_assert!(text.len() <= max);
        }
    }

    #[test]
    fn card_markdown_keeps_every_visible_character(text in "(\\PC|\\n|```|\\| a \\||- ){0,300}") {
        let visible = |s: &str| s.replace("<br>", "").chars().filter(|c| !c.is_whitespace()).collect::<String>();
        let original = text.replace("<br>", "");
        prop_assert_eq!(visible(&normalize_for_card(&original)), visible(&original));
    }
}
