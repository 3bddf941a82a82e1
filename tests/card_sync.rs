//! AI Card sync through the real `.so` against the DingTalk emulator: the call sequence,
//! the per-card interval, the app-wide budget under load, retries of the final update,
//! failures that still finalize the card, fallbacks, long answers and crash recovery.

mod common;

use std::time::Duration;

use common::{answer_of, card_of, collect, plugin, Harness};
use openclaw_dingtalk_emulator::dingtalk::{
    ApiKind, Call, CardState, EmulatorConfig, Fault, FaultResponse,
};
use openclaw_dingtalk_emulator::event::MessageSpec;
use openclaw_dingtalk_emulator::gateway::FakeGatewayConfig;
use openclaw_skill_abi::{Chunk, OcFailureKind, Pulled};

fn card_calls(h: &Harness, card: &str) -> Vec<Call> {
    h.dingtalk
        .calls()
        .into_iter()
        .filter(|c| c.out_track_id.as_deref() == Some(card))
        .collect()
}

/// The answer as a user reads it: without the `<br>` line breaks and blank-line spacing the
/// card markdown adds, and without follow-up notes.
fn readable(s: &str) -> String {
    let s = s
        .replace("<br>", "")
        .replace("\n\n*（续下一张卡片 · continued below）*", "");
    let mut out = String::new();
    for c in s.chars() {
        if !(c == '\n' && out.ends_with('\n')) {
            out.push(c);
        }
    }
    out.trim_end().to_owned()
}

#[test]
fn the_end_of_the_answer_is_acted_on_at_once_in_one_call() {
    let h = Harness::start("card-end-at-once");
    // A 5 s interval: waiting it out would finalize the card seconds after the answer ended.
    let manifest = h.manifest().interval_ms(5000).to_yaml();
    let skill = h.skill_with(&plugin(), &manifest);
    let chunks = collect(
        skill
            .handle_event(&h.group_text("cidEnd", "回答 TOKENS:10 PACE:30"))
            .unwrap(),
    );
    let card = card_of(&chunks);
    let streams: Vec<Call> = card_calls(&h, &card)
        .into_iter()
        .filter(|c| c.kind == ApiKind::StreamingUpdate)
        .collect();
    assert_eq!(
        streams.len(),
        2,
        "the first content, then one call with the rest that finalizes: {streams:?}"
    );
    assert_eq!(streams[1].request["isFinalize"], true);
    assert_eq!(
        readable(streams[1].request["content"].as_str().unwrap()),
        answer_of(&chunks).trim_end(),
        "the finalizing call carries the whole answer"
    );
    let gap = streams[1].at_ms - streams[0].at_ms;
    assert!(
        gap < 2_500,
        "finalized {gap} ms after the first update: the 5 s interval was waited out"
    );
}

#[test]
fn a_reply_creates_streams_and_finalizes_one_card_within_the_interval() {
    let h = Harness::start("card-basic");
    let skill = h.skill_with(&plugin(), &h.manifest().interval_ms(200).to_yaml());
    let chunks = collect(
        skill
            .handle_event(&h.group_text("cidCard", "TOKENS:30 PACE:20"))
            .unwrap(),
    );
    let card = card_of(&chunks);
    let calls = card_calls(&h, &card);
    let kinds: Vec<ApiKind> = calls.iter().map(|c| c.kind).collect();
    assert_eq!(kinds.first(), Some(&ApiKind::CreateAndDeliver));
    assert_eq!(
        kinds.last(),
        Some(&ApiKind::UpdateCardInstance),
        "flowStatus is set last: {kinds:?}"
    );
    let streams: Vec<&Call> = calls
        .iter()
        .filter(|c| c.kind == ApiKind::StreamingUpdate)
        .collect();
    assert!(streams.len() >= 2, "{kinds:?}");
    assert!(streams
        .iter()
        .all(|c| c.status == 200 && c.request["isFull"] == true));
    let last = streams.last().unwrap();
    assert_eq!(last.request["isFinalize"], true);
    // Intermediate updates keep the interval; the end of the answer is acted on at once.
    let intermediate = &streams[..streams.len() - 1];
    for pair in intermediate.windows(2) {
        let gap = pair[1].at_ms - pair[0].at_ms;
        assert!(
            gap + 20 >= 200,
            "two updates of one card {gap} ms apart (interval 200 ms)"
        );
    }
    let tokens = &h.gateway.requests()[0].emitted_tokens;
    let guids: std::collections::HashSet<_> = streams
        .iter()
        .map(|c| c.request["guid"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(guids.len(), streams.len(), "a fresh guid per call");
    let shown = h.wait_card_final(&card);
    assert_eq!(shown.state, CardState::Finished);
    assert_eq!(
        readable(&shown.text("content")),
        answer_of(&chunks).trim_end()
    );
    let info: serde_json::Value = serde_json::from_str(&skill.info().unwrap()).unwrap();
    let staleness = &info["card_staleness"];
    assert!(staleness["count"].as_u64().unwrap() >= 2, "{staleness}");
    assert_eq!(
        staleness["counts"].as_array().unwrap().len(),
        staleness["bounds_ms"].as_array().unwrap().len() + 1
    );
    // The call budget of one reply: create + the leading-edge update + one per interval while
    // tokens arrive + the finalizing update + the flowStatus update.
    let streaming_ms = tokens.last().unwrap().0 - tokens.first().unwrap().0;
    let budget = 1 + 1 + streaming_ms.div_ceil(200) as usize + 1 + 1;
    assert!(
        calls.len() <= budget,
        "{} calls for {streaming_ms} ms of tokens: {kinds:?}",
        calls.len()
    );
}

#[test]
fn twenty_concurrent_replies_under_a_5_qps_limit_get_no_403_and_all_finish() {
    let dt = EmulatorConfig {
        qps_limit: Some(5),
        ..EmulatorConfig::default()
    };
    let h = Harness::start_with("card-load", dt, FakeGatewayConfig::default());
    let manifest = h
        .manifest()
        .with(|m| m.dingtalk.api_qps = Some(5))
        .to_yaml();
    let skill = h.skill_with(&plugin(), &manifest);
    let streams: Vec<_> = (0..20)
        .map(|i| {
            skill
                .handle_event(&h.group_text(&format!("cidLoad{i}"), "TOKENS:20 PACE:50"))
                .unwrap()
        })
        .collect();
    let expected: String = (1..=20).map(|i| format!("t{i} ")).collect();
    let mut cards = Vec::new();
    for s in streams {
        let chunks = collect(s);
        assert!(
            matches!(chunks.last(), Some(Ok(Chunk::Finished { .. }))),
            "{chunks:?}"
        );
        assert_eq!(answer_of(&chunks), expected);
        cards.push(card_of(&chunks));
    }
    let calls = h.dingtalk.calls();
    let rejected: Vec<_> = calls.iter().filter(|c| c.status == 403).collect();
    assert!(
        rejected.is_empty(),
        "{} calls got 403: {:?}",
        rejected.len(),
        rejected.first()
    );
    for card in cards {
        let c = h.dingtalk.card(&card).unwrap();
        assert_eq!(c.state, CardState::Finished, "{card}");
        assert_eq!(c.text("content").trim_end(), expected.trim_end(), "{card}");
    }
}

#[test]
fn a_qps_error_burst_on_the_final_update_is_retried_until_the_card_finishes() {
    let h = Harness::start("card-final-403");
    let skill = h.skill(&plugin());
    let mut stream = skill
        .handle_event(&h.group_text("cidBurst", "TOKENS:5 PACE:100"))
        .unwrap();
    let card = match stream.next_blocking(Duration::from_secs(10)).unwrap() {
        Pulled::Chunk(Chunk::Started { card_id }) => card_id,
        other => panic!("{other:?}"),
    };
    // Every streaming call from now on is refused 4 times in a row, the final one included.
    loop {
        match stream.next_blocking(Duration::from_secs(10)).unwrap() {
            Pulled::Chunk(Chunk::Delta(t)) if t == "t4 " => break,
            Pulled::Chunk(_) => {}
            other => panic!("{other:?}"),
        }
    }
    h.dingtalk.inject(Fault {
        api: Some(ApiKind::StreamingUpdate),
        response: FaultResponse::QpsLimit,
        count: 4,
    });
    let rest = collect(stream);
    assert!(
        matches!(rest.last(), Some(Ok(Chunk::Finished { .. }))),
        "{rest:?}"
    );
    let shown = h.wait_card_final(&card);
    assert_eq!(shown.state, CardState::Finished);
    assert_eq!(shown.text("content").trim_end(), "t1 t2 t3 t4 t5");
    let refused = card_calls(&h, &card)
        .iter()
        .filter(|c| c.status == 403)
        .count();
    assert!(refused >= 1, "the fault was exercised");
    let info: serde_json::Value = serde_json::from_str(&skill.info().unwrap()).unwrap();
    assert!(
        info["dingtalk_calls"]["qps_limited"].as_u64().unwrap() >= 1,
        "{info}"
    );
}

#[test]
fn a_gateway_error_mid_stream_fails_the_card_with_the_text_so_far() {
    let gw = FakeGatewayConfig {
        failure_silence: Duration::from_millis(200),
        ..FakeGatewayConfig::default()
    };
    let h = Harness::start_with("card-gw-error", EmulatorConfig::default(), gw);
    let skill = h.skill(&plugin());
    let chunks = collect(
        skill
            .handle_event(&h.group_text("cidMid", "FAILMID please"))
            .unwrap(),
    );
    let card = card_of(&chunks);
    let partial = answer_of(&chunks);
    assert!(!partial.is_empty());
    match chunks.last() {
        Some(Ok(Chunk::Failed { kind, message })) => {
            assert_eq!(*kind, OcFailureKind::GATEWAY);
            assert!(
                message.contains("upstream provider timeout"),
                "the gateway's own text: {message}"
            );
        }
        other => panic!("{other:?}"),
    }
    let shown = h.wait_card_final(&card);
    assert_eq!(shown.state, CardState::Failed);
    let text = shown.text("content");
    assert!(text.starts_with(partial.trim_end()), "{text}");
    assert!(
        text.contains("upstream provider timeout"),
        "a short reason: {text}"
    );
}

#[test]
fn a_refused_card_falls_back_to_one_markdown_reply() {
    let dt = EmulatorConfig {
        granted_scopes: vec!["qyapi_robot_sendmsg".into()],
        ..EmulatorConfig::default()
    };
    let h = Harness::start_with("card-fallback", dt, FakeGatewayConfig::default());
    let skill = h.skill(&plugin());
    let chunks = collect(
        skill
            .handle_event(&h.group_text("cidNoCard", "TOKENS:6"))
            .unwrap(),
    );
    assert!(
        !chunks
            .iter()
            .any(|c| matches!(c, Ok(Chunk::Started { .. }))),
        "no card: {chunks:?}"
    );
    assert!(matches!(chunks.last(), Some(Ok(Chunk::Finished { .. }))));
    let sent = h.dingtalk.sent_messages();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].via, ApiKind::SessionWebhook);
    assert_eq!(sent[0].msgtype, "markdown");
    assert_eq!(sent[0].text.trim_end(), "t1 t2 t3 t4 t5 t6");
    let creates: Vec<_> = h
        .dingtalk
        .calls()
        .into_iter()
        .filter(|c| c.kind == ApiKind::CreateAndDeliver)
        .collect();
    assert_eq!(creates.len(), 1, "a permission error is not retried");
    assert_eq!(creates[0].status, 403);
}

#[test]
fn streaming_disabled_sends_one_markdown_reply_at_the_end() {
    let h = Harness::start("card-disabled");
    let skill = h.skill_with(
        &plugin(),
        &h.manifest()
            .with(|m| m.streaming.enabled = Some(false))
            .to_yaml(),
    );
    let chunks = collect(
        skill
            .handle_event(&h.group_text("cidPlain", "TOKENS:3"))
            .unwrap(),
    );
    assert!(matches!(chunks.last(), Some(Ok(Chunk::Finished { .. }))));
    assert!(h.dingtalk.cards().is_empty());
    let sent = h.dingtalk.sent_messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].text.trim_end(), "t1 t2 t3");
}

#[test]
fn a_long_answer_continues_in_follow_up_cards_and_arrives_whole() {
    let h = Harness::start("card-long");
    let skill = h.skill(&plugin());
    let chunks = collect(
        skill
            .handle_event(&h.group_text("cidLong", "LONG:7000 PACE:1"))
            .unwrap(),
    );
    assert!(
        matches!(chunks.last(), Some(Ok(Chunk::Finished { .. }))),
        "{:?}",
        chunks.last()
    );
    let cards: Vec<String> = chunks
        .iter()
        .filter_map(|c| match c {
            Ok(Chunk::Started { card_id }) => Some(card_id.clone()),
            _ => None,
        })
        .collect();
    assert!(
        cards.len() >= 3,
        "7000 chars need at least 3 cards of 2500: {}",
        cards.len()
    );
    let mut shown = String::new();
    for id in &cards {
        let card = h.wait_card_final(id);
        assert_eq!(card.state, CardState::Finished);
        let text = card.text("content");
        assert!(
            text.chars().count() <= 2500,
            "card {id} has {} chars",
            text.chars().count()
        );
        shown.push_str(&text.replace("\n\n*（续下一张卡片 · continued below）*", ""));
    }
    assert_eq!(readable(&shown), readable(&answer_of(&chunks)));
    assert!(
        h.dingtalk.calls().iter().all(|c| c.status == 200),
        "no call was refused (size limits kept)"
    );
}

#[test]
fn a_revoked_token_is_refreshed_and_the_reply_goes_on() {
    let h = Harness::start("card-token");
    let skill = h.skill(&plugin());
    let mut stream = skill
        .handle_event(&h.group_text("cidToken", "TOKENS:10 PACE:60"))
        .unwrap();
    assert!(matches!(
        stream.next_blocking(Duration::from_secs(10)).unwrap(),
        Pulled::Chunk(Chunk::Started { .. })
    ));
    h.dingtalk.revoke_tokens();
    let rest = collect(stream);
    assert!(
        matches!(rest.last(), Some(Ok(Chunk::Finished { .. }))),
        "{rest:?}"
    );
    let token_calls = h
        .dingtalk
        .calls()
        .iter()
        .filter(|c| c.kind == ApiKind::AccessToken)
        .count();
    assert_eq!(
        token_calls, 2,
        "one fetch at start, one refresh after the revocation"
    );
}

#[test]
fn a_foreign_session_webhook_is_never_called() {
    let h = Harness::start("card-foreign-webhook");
    let trap =
        h.rt.block_on(openclaw_dingtalk_emulator::replay::ReplayServer::start(
            vec![],
            true,
        ))
        .unwrap();
    let skill = h.skill(&plugin());
    let mut event = h
        .dingtalk
        .bot_message(MessageSpec::group_text("cidForeign", ""));
    // A video cannot be forwarded: its polite reply would go through the session webhook.
    event["msgtype"] = "video".into();
    event["content"] = serde_json::json!({"downloadCode": "x"});
    event["sessionWebhook"] =
        format!("{}/robot/sendBySession?session=evil", trap.base_url()).into();
    let chunks = collect(skill.handle_event(&event.to_string()).unwrap());
    assert!(matches!(chunks.as_slice(), [Ok(Chunk::Replied(_))]));
    assert_eq!(
        trap.connections(),
        0,
        "the plugin called a host that is not DingTalk"
    );
    let sent = h.dingtalk.sent_messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].via,
        ApiKind::GroupSend,
        "replied through the robot API instead"
    );
}

#[test]
fn shutdown_finalizes_a_reply_in_flight_before_returning() {
    let h = Harness::start("card-shutdown");
    let skill = h.skill(&plugin());
    let mut stream = skill
        .handle_event(&h.group_text("cidShut", "TOKENS:100 PACE:100"))
        .unwrap();
    let card = match stream.next_blocking(Duration::from_secs(10)).unwrap() {
        Pulled::Chunk(Chunk::Started { card_id }) => card_id,
        other => panic!("{other:?}"),
    };
    assert!(matches!(
        stream.next_blocking(Duration::from_secs(10)).unwrap(),
        Pulled::Chunk(Chunk::Delta(_))
    ));
    skill.shutdown(Duration::from_millis(1500)).unwrap();
    let shown = h.dingtalk.card(&card).unwrap();
    assert_eq!(
        shown.state,
        CardState::Failed,
        "finalized before shutdown returned"
    );
    assert!(
        shown.text("content").contains("重新发送"),
        "{}",
        shown.text("content")
    );
    let rest = collect(stream);
    assert!(
        matches!(
            rest.last(),
            Some(Ok(Chunk::Failed {
                kind: OcFailureKind::SHUTTING_DOWN,
                ..
            }))
        ),
        "{rest:?}"
    );
}

#[test]
fn without_the_flow_status_variable_a_reply_ends_with_one_finalizing_call() {
    let h = Harness::start("card-no-flow-status");
    let manifest = h
        .manifest()
        .with(|m| m.dingtalk.card_flow_status = Some(false))
        .to_yaml();
    let skill = h.skill_with(&plugin(), &manifest);
    let chunks = collect(
        skill
            .handle_event(&h.group_text("cidNoFlow", "TOKENS:5"))
            .unwrap(),
    );
    let card = card_of(&chunks);
    let calls = card_calls(&h, &card);
    assert!(
        calls.iter().all(|c| c.kind != ApiKind::UpdateCardInstance),
        "{calls:?}"
    );
    assert_eq!(
        calls.last().map(|c| c.request["isFinalize"].clone()),
        Some(serde_json::json!(true))
    );
    assert_eq!(h.wait_card_final(&card).state, CardState::Finished);
}

#[test]
fn an_expired_session_webhook_falls_back_to_the_robot_send_api() {
    let h = Harness::start("card-expired-webhook");
    let skill = h.skill(&plugin());
    let mut event = h
        .dingtalk
        .bot_message(MessageSpec::group_text("cidExpired", ""));
    event["msgtype"] = "video".into();
    event["content"] = serde_json::json!({"downloadCode": "x"});
    h.dingtalk.expire_session_webhooks();
    let chunks = collect(skill.handle_event(&event.to_string()).unwrap());
    assert!(
        matches!(chunks.as_slice(), [Ok(Chunk::Replied(_))]),
        "{chunks:?}"
    );
    let sent = h.dingtalk.sent_messages();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].via, ApiKind::GroupSend);
    assert_eq!(sent[0].target, "cidExpired");
}

#[test]
fn every_card_of_a_long_answer_arriving_at_once_is_announced_to_the_host() {
    let h = Harness::start("card-long-burst");
    let skill = h.skill(&plugin());
    let chunks = collect(
        skill
            .handle_event(&h.group_text("cidLongBurst", "LONG:6000 PACE:0"))
            .unwrap(),
    );
    assert!(
        matches!(chunks.last(), Some(Ok(Chunk::Finished { .. }))),
        "{:?}",
        chunks.last()
    );
    let announced: Vec<&String> = chunks
        .iter()
        .filter_map(|c| match c {
            Ok(Chunk::Started { card_id }) => Some(card_id),
            _ => None,
        })
        .collect();
    let cards = h.dingtalk.cards();
    let in_group: Vec<_> = cards
        .iter()
        .filter(|c| c.open_space_id.ends_with("cidLongBurst"))
        .collect();
    assert!(in_group.len() >= 3, "{}", in_group.len());
    assert_eq!(
        announced.len(),
        in_group.len(),
        "every card the user got is announced to the host"
    );
    assert!(in_group.iter().all(|c| c.state == CardState::Finished));
}
