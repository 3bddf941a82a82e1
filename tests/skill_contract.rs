//! The skill contract through the real `.so`, as a Rust host uses it: load through the
//! abi_stable loader, init, hand in DingTalk events, stream chunks on the host's own
//! runtime, cancel by dropping, survive plugin panics, shut down.

mod common;

use std::time::Duration;

use common::{answer_of, card_of, collect, plugin, Harness};
use openclaw_dingtalk_emulator::dingtalk::CardState;
use openclaw_skill_abi::{Chunk, OcFailureKind, OcStatus, Pulled};

#[test]
fn a_text_event_streams_the_gateway_answer_in_order_and_ends_finished() {
    let h = Harness::start("contract-basic");
    let plugin = plugin();
    assert_eq!(plugin.name(), "openclaw-dingtalk");
    let skill = h.skill(&plugin);
    let chunks = collect(
        skill
            .handle_event(&h.group_text("cidBasic", "你好 robot"))
            .unwrap(),
    );

    let card_id = card_of(&chunks);
    let requests = h.gateway.requests();
    assert_eq!(requests.len(), 1);
    let sent = requests[0].body["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        sent.starts_with("[DingTalk group \"测试群\" | ") && sent.ends_with("\n你好 robot"),
        "{sent}"
    );
    assert_eq!(
        requests[0]
            .headers
            .get("x-openclaw-message-channel")
            .map(String::as_str),
        Some("dingtalk")
    );
    assert_eq!(
        requests[0]
            .headers
            .get("x-openclaw-session-key")
            .map(String::as_str),
        Some("dingtalk:group:cidBasic")
    );
    let expected = format!("Hello from the fake gateway. You said: {sent}. Turn 1.");
    assert_eq!(answer_of(&chunks), expected);
    match chunks.last() {
        Some(Ok(Chunk::Finished { usage })) => assert!(usage.is_some(), "usage was requested"),
        other => panic!("last chunk: {other:?}"),
    }
    assert_eq!(
        chunks
            .iter()
            .filter(|c| matches!(c, Ok(c) if c.is_terminal()))
            .count(),
        1
    );

    let card = h.wait_card_final(&card_id);
    assert_eq!(card.state, CardState::Finished);
    assert!(
        card.text("content").ends_with("你好 robot. Turn 1."),
        "card shows: {}",
        card.text("content")
    );
}

#[test]
fn the_pull_api_times_out_then_delivers_every_chunk() {
    let h = Harness::start("contract-pull");
    let skill = h.skill(&plugin());
    let mut stream = skill
        .handle_event(&h.group_text("cidPull", "TOKENS:5 PACE:50"))
        .unwrap();
    let mut chunks = Vec::new();
    let mut timeouts = 0;
    loop {
        match stream.next_blocking(Duration::from_millis(1)).unwrap() {
            Pulled::Chunk(c) => chunks.push(c),
            Pulled::Timeout => timeouts += 1,
            Pulled::End => break,
        }
        assert!(timeouts < 100_000, "stream never ended");
    }
    assert!(
        timeouts > 0,
        "50 ms token pacing must make a 1 ms pull time out at least once"
    );
    let text: String = chunks
        .iter()
        .filter_map(|c| {
            if let Chunk::Delta(t) = c {
                Some(t.as_str())
            } else {
                None
            }
        })
        .collect();
    assert_eq!(text, "t1 t2 t3 t4 t5 ");
    assert!(matches!(chunks.last(), Some(Chunk::Finished { .. })));
}

#[test]
fn dropping_the_stream_stops_listening_but_the_card_still_gets_the_whole_answer() {
    let h = Harness::start("contract-drop");
    let skill = h.skill(&plugin());
    let mut stream = skill
        .handle_event(&h.group_text("cidDrop", "TOKENS:20 PACE:30"))
        .unwrap();
    let card_id = match stream.next_blocking(Duration::from_secs(10)).unwrap() {
        Pulled::Chunk(Chunk::Started { card_id }) => card_id,
        other => panic!("{other:?}"),
    };
    drop(stream);
    let card = h.wait_card_final(&card_id);
    assert_eq!(card.state, CardState::Finished);
    let expected: String = (1..=20).map(|i| format!("t{i} ")).collect();
    assert_eq!(card.text("content").trim_end(), expected.trim_end());
}

#[test]
fn events_that_are_not_robot_messages_are_refused_naming_the_field() {
    let h = Harness::start("contract-bad-event");
    let skill = h.skill(&plugin());
    let err = skill
        .handle_event(r#"{"msgtype":"text","text":{"content":"x"}}"#)
        .map(drop)
        .unwrap_err();
    assert_eq!(err.status, OcStatus::INVALID_ARGUMENT);
    assert!(err.message.contains("msgId"), "{}", err.message);
    let err = skill.handle_event("not json").map(drop).unwrap_err();
    assert_eq!(err.status, OcStatus::INVALID_ARGUMENT);
}

#[test]
fn check_manifest_and_init_name_the_bad_key_and_its_line() {
    let h = Harness::start("contract-manifest");
    let plugin = plugin();
    let good = h.manifest().to_yaml();
    let summary: serde_json::Value = serde_json::from_str(
        &plugin
            .check_manifest(&good, &h.dir.join("openclaw-skill.yaml"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(summary["apps"][0]["app_secret"], "***");
    assert_eq!(summary["apps"][0]["name"], "default");
    assert!(!summary
        .to_string()
        .contains(&h.dingtalk.config().app_secret));

    let bad = h
        .manifest()
        .set("streaming.card_update_interval_ms_typo", 5)
        .to_yaml();
    let line = 1 + bad
        .lines()
        .position(|l| l.contains("card_update_interval_ms_typo"))
        .unwrap();
    let bot_yaml = h.dir.join("bot.yaml");
    let err = plugin.check_manifest(&bad, &bot_yaml).unwrap_err();
    assert_eq!(err.status, OcStatus::CONFIG);
    assert!(
        err.message.starts_with(&format!(
            "{}: streaming.card_update_interval_ms_typo (line {line}): ",
            bot_yaml.display()
        )) && err.message.contains("unknown field"),
        "the error names the real file, the key and its line {line}: {}",
        err.message
    );
    let err = plugin
        .init(&bad, &h.dir.join("bot.yaml"))
        .map(drop)
        .unwrap_err();
    assert_eq!(err.status, OcStatus::CONFIG);
}

#[test]
fn shutdown_refuses_new_events_and_info_counts_replies() {
    let h = Harness::start("contract-shutdown");
    let skill = h.skill(&plugin());
    let chunks = collect(skill.handle_event(&h.group_text("cidInfo", "hi")).unwrap());
    assert!(matches!(chunks.last(), Some(Ok(Chunk::Finished { .. }))));
    let info: serde_json::Value = serde_json::from_str(&skill.info().unwrap()).unwrap();
    assert_eq!(info["plugin"]["name"], "openclaw-dingtalk");
    assert_eq!(info["abi_version"], 2);
    assert_eq!(info["replies"]["finished"], 1);
    assert!(
        info["dingtalk_calls"]["by_kind"]["create"].as_u64() == Some(1),
        "{info}"
    );
    skill.shutdown(Duration::from_secs(5)).unwrap();
    let err = skill
        .handle_event(&h.group_text("cidInfo", "again"))
        .map(drop)
        .unwrap_err();
    assert_eq!(err.status, OcStatus::SHUTTING_DOWN);
}

#[test]
#[cfg_attr(not(feature = "test-hooks"), ignore = "needs --features test-hooks")]
fn panics_inside_the_plugin_reach_the_host_as_errors_and_the_process_survives() {
    let h = Harness::start("contract-panic");
    let skill = h.skill(&plugin());

    let err = skill
        .handle_event(&h.group_text("cidP1", "__oc_test__:panic_in_handle_event"))
        .map(drop)
        .unwrap_err();
    assert_eq!(err.status, OcStatus::PANICKED);
    assert!(err.message.contains("panicked"), "{}", err.message);

    let chunks = collect(
        skill
            .handle_event(&h.group_text("cidP2", "__oc_test__:panic_in_poll"))
            .unwrap(),
    );
    assert!(
        matches!(chunks.as_slice(), [Err(e)] if e.status == OcStatus::PANICKED),
        "{chunks:?}"
    );

    let chunks = collect(
        skill
            .handle_event(&h.group_text("cidP3", "__oc_test__:panic_in_reply_task"))
            .unwrap(),
    );
    assert!(
        matches!(
            chunks.last(),
            Some(Ok(Chunk::Failed {
                kind: OcFailureKind::INTERNAL,
                ..
            }))
        ),
        "{chunks:?}"
    );

    let chunks = collect(
        skill
            .handle_event(&h.group_text("cidP4", "still alive?"))
            .unwrap(),
    );
    assert!(
        matches!(chunks.last(), Some(Ok(Chunk::Finished { .. }))),
        "{chunks:?}"
    );
}
