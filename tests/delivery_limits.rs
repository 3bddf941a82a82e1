//! Card delivery under DingTalk's real limits, through the real `.so` against the emulator:
//! sizes in UTF-8 bytes (Chinese answers), a size limit lower than ours, ambiguous 504s that
//! were applied, a fresh guid on every attempt, a rate limit below `api_qps` that the
//! plugin learns (and remembers), honest outcomes, and the monthly call quota.

mod common;

use std::collections::HashSet;

use common::{answer_of, card_of, collect, plugin, Harness};
use openclaw_dingtalk_emulator::dingtalk::{
    ApiKind, CardState, EmulatorConfig, Fault, FaultResponse, QpsScope,
};
use openclaw_dingtalk_emulator::gateway::FakeGatewayConfig;
use openclaw_skill_abi::{Chunk, OcFailureKind, PluginError};

/// The continuation note a non-last card ends with.
const CONTINUED: &str = "\n\n*（续下一张卡片 · continued below）*";

/// What a reader sees in the cards of one reply, in order, without the card markdown's
/// line breaks, the continuation notes and the code fences closed and reopened at cuts.
fn shown(h: &Harness, cards: &[String]) -> String {
    cards
        .iter()
        .map(|id| {
            let card = h.wait_card_final(id);
            assert_eq!(card.state, CardState::Finished, "card {id}");
            card.text("content").replace(CONTINUED, "")
        })
        .collect::<Vec<_>>()
        .join("")
}

/// Characters that matter for completeness: no whitespace, no `<br>`, no fence lines.
fn letters(s: &str) -> String {
    s.lines()
        .filter(|l| !l.trim_start().starts_with("```"))
        .collect::<Vec<_>>()
        .join("")
        .replace("<br>", "")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

fn cards_of(chunks: &[Result<Chunk, PluginError>]) -> Vec<String> {
    chunks
        .iter()
        .filter_map(|c| match c {
            Ok(Chunk::Started { card_id }) => Some(card_id.clone()),
            _ => None,
        })
        .collect()
}

fn info(skill: &openclaw_skill_abi::Skill) -> serde_json::Value {
    serde_json::from_str(&skill.info().unwrap()).unwrap()
}

#[test]
fn a_7_kb_chinese_answer_fills_several_cards_each_under_the_byte_limit_and_arrives_whole() {
    let h = Harness::start("zh-7k");
    let skill = h.skill(&plugin());
    let chunks = collect(
        skill
            .handle_event(&h.group_text("cidZh", "ZH:7000"))
            .unwrap(),
    );
    assert!(
        matches!(chunks.last(), Some(Ok(Chunk::Finished { .. }))),
        "{:?}",
        chunks.last()
    );
    let answer = answer_of(&chunks);
    assert!(
        answer.len() > 6_900 && answer.chars().count() < 2_500,
        "a Chinese answer"
    );
    let cards = cards_of(&chunks);
    assert!(
        cards.len() >= 3,
        "7 KB need 3 cards of 2.8 KB: {}",
        cards.len()
    );
    for call in h.dingtalk.calls() {
        if call.kind == ApiKind::StreamingUpdate {
            assert_eq!(call.status, 200, "{call:?}");
            let content = call.request["content"].as_str().unwrap();
            assert!(
                content.len() <= 2_800,
                "{} bytes in one update",
                content.len()
            );
        }
    }
    assert_eq!(letters(&shown(&h, &cards)), letters(&answer));
    let info = info(&skill);
    assert_eq!(info["replies"]["finished"], 1, "{info}");
}

#[test]
fn a_lower_size_limit_than_ours_is_learned_and_the_answer_still_arrives_whole() {
    // DingTalk's real limit is unpublished: here it is 1 500 bytes, the plugin starts at 2 800.
    let dt = EmulatorConfig {
        max_card_value_bytes: 1_500,
        ..EmulatorConfig::default()
    };
    let h = Harness::start_with("small-limit", dt, FakeGatewayConfig::default());
    let skill = h.skill(&plugin());
    let chunks = collect(
        skill
            .handle_event(&h.group_text("cidSmall", "MIXED:6000"))
            .unwrap(),
    );
    assert!(
        matches!(chunks.last(), Some(Ok(Chunk::Finished { .. }))),
        "{:?}",
        chunks.last()
    );
    let cards = cards_of(&chunks);
    assert!(
        cards.len() >= 5,
        "6 KB in cards of under 1.5 KB: {}",
        cards.len()
    );
    assert_eq!(letters(&shown(&h, &cards)), letters(&answer_of(&chunks)));
    let refused = h
        .dingtalk
        .calls()
        .iter()
        .filter(|c| c.status == 400)
        .count();
    assert!(
        refused >= 1,
        "the emulator refused at least one value as too large"
    );
    let info = info(&skill);
    assert!(info["card_max_bytes"].as_u64().unwrap() < 1_500, "{info}");
    assert_eq!(info["replies"]["finished"], 1, "{info}");
    // The next reply uses the learned size from its first card on: no refusal at all.
    let before = h.dingtalk.calls().len();
    let chunks = collect(
        skill
            .handle_event(&h.group_text("cidSmall2", "ZH:4000"))
            .unwrap(),
    );
    assert!(matches!(chunks.last(), Some(Ok(Chunk::Finished { .. }))));
    assert!(h.dingtalk.calls()[before..].iter().all(|c| c.status == 200));
}

#[test]
fn an_applied_504_on_create_is_carried_on_with_one_card_and_no_second_reply() {
    let h = Harness::start("applied-create");
    h.dingtalk.inject(Fault::new(
        Some(ApiKind::CreateAndDeliver),
        FaultResponse::AppliedGatewayTimeout,
        1,
    ));
    let skill = h.skill(&plugin());
    let chunks = collect(
        skill
            .handle_event(&h.group_text("cidAmb", "你好 TOKENS:8 PACE:20"))
            .unwrap(),
    );
    assert!(
        matches!(chunks.last(), Some(Ok(Chunk::Finished { .. }))),
        "{chunks:?}"
    );
    let card = card_of(&chunks);
    let creates: Vec<_> = h
        .dingtalk
        .calls()
        .into_iter()
        .filter(|c| c.kind == ApiKind::CreateAndDeliver)
        .collect();
    assert_eq!(creates.len(), 2, "the create, then its retry");
    assert_eq!(creates[0].status, 504);
    assert_eq!(
        creates[1].error_code.as_deref(),
        Some("param.cardAlreadyExist")
    );
    assert_eq!(h.dingtalk.cards().len(), 1, "one card, no orphan");
    assert_eq!(h.wait_card_final(&card).state, CardState::Finished);
    assert!(
        h.dingtalk.sent_messages().is_empty(),
        "no markdown reply as well"
    );
    assert_eq!(info(&skill)["replies"]["finished"], 1);
}

#[test]
fn an_applied_504_on_the_final_update_is_success_when_the_retry_finds_the_card_final() {
    let h = Harness::start("applied-final");
    // A long interval: after the first content the next streaming call is the final one.
    let manifest = h
        .manifest()
        .interval_ms(10_000)
        .with(|m| m.dingtalk.card_flow_status = Some(false))
        .to_yaml();
    let skill = h.skill_with(&plugin(), &manifest);
    let stream = skill
        .handle_event(&h.group_text("cidFinal", "TOKENS:6 PACE:150"))
        .unwrap();
    let first_update = h.rt.block_on(h.dingtalk.wait_for(
        |calls| {
            calls
                .iter()
                .any(|c| c.kind == ApiKind::StreamingUpdate && c.status == 200)
        },
        std::time::Duration::from_secs(10),
    ));
    assert!(first_update, "the first content arrived");
    h.dingtalk.inject(Fault::new(
        Some(ApiKind::StreamingUpdate),
        FaultResponse::AppliedGatewayTimeout,
        1,
    ));
    let chunks = collect(stream);
    assert!(
        matches!(chunks.last(), Some(Ok(Chunk::Finished { .. }))),
        "{chunks:?}"
    );
    let card = card_of(&chunks);
    let finals: Vec<_> = h
        .dingtalk
        .calls()
        .into_iter()
        .filter(|c| c.request["isFinalize"] == true)
        .collect();
    assert_eq!(
        finals.len(),
        2,
        "the final update and its retry: {finals:?}"
    );
    assert_eq!(finals[0].status, 504, "applied, then timed out");
    assert_eq!(finals[1].status, 400, "the retry finds the card final");
    let shown = h.wait_card_final(&card);
    assert_eq!(shown.state, CardState::Finished);
    assert_eq!(shown.text("content").trim_end(), "t1 t2 t3 t4 t5 t6");
    let info = info(&skill);
    assert_eq!(info["replies"]["finished"], 1, "{info}");
    assert_eq!(info["replies"]["stuck"], 0, "{info}");
}

#[test]
fn every_streaming_attempt_has_a_fresh_guid_even_after_a_token_renewal() {
    let h = Harness::start("guid-token");
    let skill = h.skill(&plugin());
    let mut stream = skill
        .handle_event(&h.group_text("cidGuid", "TOKENS:20 PACE:30"))
        .unwrap();
    let mut chunks: Vec<Result<Chunk, PluginError>> = Vec::new();
    let mut revoked = false;
    loop {
        match stream
            .next_blocking(std::time::Duration::from_secs(10))
            .unwrap()
        {
            openclaw_skill_abi::Pulled::Chunk(c) => {
                if !revoked && matches!(&c, Chunk::Delta(t) if t == "t5 ") {
                    h.dingtalk.revoke_tokens();
                    revoked = true;
                }
                let end = c.is_terminal();
                chunks.push(Ok(c));
                if end {
                    break;
                }
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(matches!(chunks.last(), Some(Ok(Chunk::Finished { .. }))));
    let streams: Vec<_> = h
        .dingtalk
        .calls()
        .into_iter()
        .filter(|c| c.kind == ApiKind::StreamingUpdate)
        .collect();
    let rejected = streams.iter().filter(|c| c.status == 400).count();
    assert!(rejected >= 1, "a streaming call met the revoked token");
    let guids: HashSet<&str> = streams
        .iter()
        .map(|c| c.request["guid"].as_str().unwrap())
        .collect();
    assert_eq!(guids.len(), streams.len(), "a guid was sent twice");
}

#[test]
fn a_tenant_limit_below_the_budget_is_learned_without_markdown_fallbacks_and_remembered() {
    // DingTalk allows 5 calls/s for the whole app; the plugin runs at its defaults (20/s per API).
    let dt = EmulatorConfig {
        qps_limit: Some(5),
        qps_scope: QpsScope::App,
        ..EmulatorConfig::default()
    };
    let h = Harness::start_with("learn-app5", dt, FakeGatewayConfig::default());
    let manifest = h.manifest().to_yaml();
    let skill = h.skill_with(&plugin(), &manifest);
    let streams: Vec<_> = (0..20)
        .map(|i| {
            skill
                .handle_event(&h.group_text(&format!("cidLearn{i}"), "答 TOKENS:20 PACE:100"))
                .unwrap()
        })
        .collect();
    let expected: String = (1..=20).map(|i| format!("t{i} ")).collect();
    for s in streams {
        let chunks = collect(s);
        assert!(
            matches!(chunks.last(), Some(Ok(Chunk::Finished { .. }))),
            "{:?}",
            chunks.last()
        );
        let card = card_of(&chunks);
        let c = h.wait_card_final(&card);
        assert_eq!(c.state, CardState::Finished);
        assert_eq!(c.text("content").trim_end(), expected.trim_end());
    }
    assert!(
        h.dingtalk.sent_messages().is_empty(),
        "no markdown fallback"
    );
    let calls = h.dingtalk.calls();
    let limited = calls.iter().filter(|c| c.status == 403).count();
    assert!(
        limited * 10 < calls.len(),
        "{limited} of {} calls got 403 while learning",
        calls.len()
    );
    let snapshot = info(&skill);
    let app = &snapshot["dingtalk_budget"]["app"];
    assert_eq!(app["learned"], true, "{snapshot}");
    assert!(
        app["calls_per_second"].as_f64().unwrap() <= 6.0,
        "{snapshot}"
    );
    assert_eq!(snapshot["replies"]["finished"], 20);
    skill.shutdown(std::time::Duration::from_secs(5)).unwrap();
    drop(skill);
    // The learned rates survive a restart.
    let again = h.skill_with(&plugin(), &manifest);
    let snapshot = info(&again);
    assert_eq!(
        snapshot["dingtalk_budget"]["app"]["learned"], true,
        "{snapshot}"
    );
}

#[test]
fn a_rate_limit_on_card_creation_means_waiting_not_falling_back() {
    let h = Harness::start("create-403");
    h.dingtalk.inject(Fault::new(
        Some(ApiKind::CreateAndDeliver),
        FaultResponse::QpsLimit,
        5,
    ));
    let skill = h.skill(&plugin());
    let chunks = collect(
        skill
            .handle_event(&h.group_text("cidWait", "TOKENS:5 PACE:20"))
            .unwrap(),
    );
    assert!(
        matches!(chunks.last(), Some(Ok(Chunk::Finished { .. }))),
        "{chunks:?}"
    );
    assert_eq!(
        h.wait_card_final(&card_of(&chunks)).state,
        CardState::Finished
    );
    assert!(
        h.dingtalk.sent_messages().is_empty(),
        "no markdown fallback"
    );
}

#[test]
fn a_reply_that_reached_nobody_is_undelivered_not_finished() {
    // DingTalk unreachable: nothing listens on the emulator's port any more.
    let h = Harness::start("unreachable");
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let manifest = h
        .manifest()
        .with(|m| {
            m.streaming.card_create_timeout_ms = Some(1500);
            m.dingtalk.api_base_url = Some(closed.as_str().into());
            m.dingtalk.oapi_base_url = Some(closed.as_str().into());
        })
        .to_yaml();
    let skill = h.skill_with(&plugin(), &manifest);
    let chunks = collect(
        skill
            .handle_event(&h.group_text("cidGone", "你好 TOKENS:5"))
            .unwrap(),
    );
    match chunks.last() {
        Some(Ok(Chunk::Failed { kind, message })) => {
            assert_eq!(*kind, OcFailureKind::DING_TALK);
            assert!(message.contains("could not be delivered"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let info = info(&skill);
    assert_eq!(info["replies"]["undelivered"], 1, "{info}");
    assert_eq!(info["replies"]["finished"], 0, "{info}");
}

#[test]
fn the_monthly_quota_error_stops_delivery_honestly_and_the_count_survives_a_restart() {
    // Two calls are left this month: the first reply's card is created and shows its first
    // text, then DingTalk refuses every call (errcode 90020).
    let dt = EmulatorConfig {
        monthly_call_quota: Some(2),
        ..EmulatorConfig::default()
    };
    let h = Harness::start_with("quota", dt, FakeGatewayConfig::default());
    let manifest = h
        .manifest()
        .with(|m| {
            m.dingtalk.monthly_call_quota = Some(5000);
            m.streaming.card_create_timeout_ms = Some(1500);
        })
        .to_yaml();
    let skill = h.skill_with(&plugin(), &manifest);
    let first = collect(
        skill
            .handle_event(&h.group_text("cidQ1", "TOKENS:3 PACE:50"))
            .unwrap(),
    );
    let second = collect(
        skill
            .handle_event(&h.group_text("cidQ2", "TOKENS:3 PACE:20"))
            .unwrap(),
    );
    assert!(
        matches!(
            second.last(),
            Some(Ok(Chunk::Failed {
                kind: OcFailureKind::DING_TALK,
                ..
            }))
        ),
        "{second:?}"
    );
    let snapshot = info(&skill);
    let month = &snapshot["dingtalk_budget"]["month"];
    assert_eq!(month["exhausted"], true, "{snapshot}");
    assert_eq!(month["quota"], 5000);
    let calls = month["calls"].as_u64().unwrap();
    assert!(calls >= 3, "{snapshot}");
    let replies = &snapshot["replies"];
    assert_eq!(replies["undelivered"], 1, "{snapshot}: {first:?}");
    assert_eq!(
        replies["finished"].as_u64().unwrap() + replies["stuck"].as_u64().unwrap(),
        1,
        "{snapshot}"
    );
    skill.shutdown(std::time::Duration::from_secs(5)).unwrap();
    drop(skill);
    let again = h.skill_with(&plugin(), &manifest);
    let month = &info(&again)["dingtalk_budget"]["month"];
    assert!(
        month["calls"].as_u64().unwrap() >= calls,
        "the count survives a restart"
    );
    assert_eq!(month["exhausted"], true);
}
