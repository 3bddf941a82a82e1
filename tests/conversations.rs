//! Conversations through the real `.so`: sessions and history, `/new`, `/stop`, dedup,
//! ordering within a conversation and parallelism across conversations, access policy,
//! unsupported message types, and the context the model receives.

mod common;

use std::time::Duration;

use common::{answer_of, card_of, collect, plugin, Harness};
use openclaw_dingtalk_emulator::dingtalk::{ApiKind, CardState};
use openclaw_dingtalk_emulator::event::{Chat, Content, MessageSpec, Sender};
use openclaw_dingtalk_emulator::gateway::RequestOutcome;
use openclaw_skill_abi::{Chunk, OcFailureKind, Pulled};

fn session_header(h: &Harness, i: usize) -> String {
    h.gateway.requests()[i].headers["x-openclaw-session-key"].clone()
}

#[test]
fn a_conversation_keeps_its_history_and_new_starts_a_fresh_session() {
    let h = Harness::start("conv-history");
    let skill = h.skill(&plugin());
    let first = collect(skill.handle_event(&h.group_text("cidHist", "one")).unwrap());
    assert!(answer_of(&first).ends_with("Turn 1."));
    let second = collect(skill.handle_event(&h.group_text("cidHist", "two")).unwrap());
    assert!(
        answer_of(&second).ends_with("Turn 2."),
        "the gateway saw the first turn: {}",
        answer_of(&second)
    );
    let sent = h.gateway.requests()[1].body["messages"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(
        sent, 1,
        "only the new message is sent; the gateway keeps the history"
    );

    let reset = collect(
        skill
            .handle_event(&h.group_text("cidHist", "/new"))
            .unwrap(),
    );
    assert!(
        matches!(reset.as_slice(), [Ok(Chunk::Replied(t))] if t.contains("新会话")),
        "{reset:?}"
    );
    let third = collect(
        skill
            .handle_event(&h.group_text("cidHist", "three"))
            .unwrap(),
    );
    assert!(
        answer_of(&third).ends_with("Turn 1."),
        "{}",
        answer_of(&third)
    );
    assert_eq!(session_header(&h, 0), "dingtalk:group:cidHist");
    assert_eq!(session_header(&h, 2), "dingtalk:group:cidHist:s1");
    assert!(
        h.dingtalk
            .sent_messages()
            .iter()
            .any(|m| m.text.contains("新会话")),
        "the user is told"
    );
}

#[test]
fn stop_aborts_the_reply_in_progress_and_finalizes_its_card() {
    let h = Harness::start("conv-stop");
    let skill = h.skill(&plugin());
    let mut slow = skill
        .handle_event(&h.group_text("cidStop", "TOKENS:200 PACE:50"))
        .unwrap();
    let card_id = match slow.next_blocking(Duration::from_secs(10)).unwrap() {
        Pulled::Chunk(Chunk::Started { card_id }) => card_id,
        other => panic!("{other:?}"),
    };
    assert!(matches!(
        slow.next_blocking(Duration::from_secs(10)).unwrap(),
        Pulled::Chunk(Chunk::Delta(_))
    ));
    let stop = collect(
        skill
            .handle_event(&h.group_text("cidStop", "停止"))
            .unwrap(),
    );
    assert!(
        matches!(stop.as_slice(), [Ok(Chunk::Replied(t))] if t.contains("已停止")),
        "{stop:?}"
    );
    let rest = collect(slow);
    assert!(
        matches!(
            rest.last(),
            Some(Ok(Chunk::Failed {
                kind: OcFailureKind::STOPPED,
                ..
            }))
        ),
        "{rest:?}"
    );
    let card = h.wait_card_final(&card_id);
    assert_eq!(card.state, CardState::Finished);
    assert!(
        card.text("content").contains("已停止"),
        "{}",
        card.text("content")
    );
    let cancelled = h.rt.block_on(h.gateway.wait_for(
        |r| {
            r.first()
                .is_some_and(|r| r.outcome == RequestOutcome::ClientDisconnected)
        },
        Duration::from_secs(10),
    ));
    assert!(cancelled, "the gateway request is cancelled");
}

#[test]
fn a_redelivered_message_is_answered_once() {
    let h = Harness::start("conv-dedup");
    let skill = h.skill(&plugin());
    let mut spec = MessageSpec::group_text("cidDup", "hello");
    spec.msg_id = Some("msgDUPLICATE==".into());
    let event = h.dingtalk.bot_message(spec).to_string();
    let first = collect(skill.handle_event(&event).unwrap());
    let again = collect(skill.handle_event(&event).unwrap());
    assert!(matches!(first.last(), Some(Ok(Chunk::Finished { .. }))));
    assert!(
        matches!(again.as_slice(), [Ok(Chunk::Skipped(_))]),
        "{again:?}"
    );
    assert_eq!(h.gateway.requests().len(), 1);
    assert_eq!(h.dingtalk.cards().len(), 1);
}

#[test]
fn one_conversation_runs_in_order_while_conversations_run_in_parallel() {
    let h = Harness::start("conv-order");
    let skill = h.skill(&plugin());
    let a1 = skill
        .handle_event(&h.group_text("cidA", "TOKENS:8 PACE:80"))
        .unwrap();
    let a2 = skill
        .handle_event(&h.group_text("cidA", "TOKENS:3"))
        .unwrap();
    let b1 = skill
        .handle_event(&h.group_text("cidB", "TOKENS:8 PACE:80"))
        .unwrap();
    for s in [a1, a2, b1] {
        let chunks = collect(s);
        assert!(
            matches!(chunks.last(), Some(Ok(Chunk::Finished { .. }))),
            "{chunks:?}"
        );
    }
    let reqs = h.gateway.requests();
    let by_key = |key: &str| -> Vec<_> {
        reqs.iter()
            .filter(|r| r.headers["x-openclaw-session-key"] == key)
            .collect()
    };
    let a = by_key("dingtalk:group:cidA");
    let b = by_key("dingtalk:group:cidB");
    assert_eq!(a.len(), 2);
    let a1_last_token = a[0].emitted_tokens.last().unwrap().0;
    assert!(
        a[1].at_ms >= a1_last_token,
        "the second message of cidA started before the first finished"
    );
    assert!(
        a[1].body["messages"][0]["content"]
            .as_str()
            .unwrap()
            .ends_with("TOKENS:3"),
        "order kept"
    );
    let b_first_token = b[0].emitted_tokens.first().unwrap().0;
    assert!(
        b_first_token < a1_last_token,
        "cidB was not served in parallel with cidA"
    );
    assert!(reqs.iter().all(|r| r.outcome == RequestOutcome::Completed));
}

#[test]
fn the_model_gets_sender_group_quote_and_preamble() {
    let h = Harness::start("conv-context");
    let manifest = h
        .manifest()
        .with(|m| m.conversation.preamble = Some("Answer briefly.".into()))
        .to_yaml();
    let skill = h.skill_with(&plugin(), &manifest);
    let mut spec = MessageSpec::group_text("cidCtx", "这是什么意思？");
    spec.quoted_text = Some("原始消息".into());
    spec.sender = Sender {
        staff_id: "staff42".into(),
        nick: "王五".into(),
    };
    collect(
        skill
            .handle_event(&h.dingtalk.bot_message(spec).to_string())
            .unwrap(),
    );
    let body = &h.gateway.requests()[0].body;
    assert_eq!(
        body["messages"][0],
        serde_json::json!({"role": "system", "content": "Answer briefly."})
    );
    let user = body["messages"][1]["content"].as_str().unwrap();
    assert_eq!(
        user,
        "[DingTalk group \"测试群\" | 王五]\n> 原始消息\n\n这是什么意思？"
    );
}

#[test]
fn per_sender_sessions_separate_people_in_one_group() {
    let h = Harness::start("conv-per-sender");
    let manifest = h
        .manifest()
        .with(|m| m.conversation.per_sender_sessions = Some(true))
        .to_yaml();
    let skill = h.skill_with(&plugin(), &manifest);
    for staff in ["alice", "bob"] {
        let mut spec = MessageSpec::group_text("cidTeam", "hi");
        spec.sender = Sender {
            staff_id: staff.into(),
            nick: staff.into(),
        };
        collect(
            skill
                .handle_event(&h.dingtalk.bot_message(spec).to_string())
                .unwrap(),
        );
    }
    assert_eq!(session_header(&h, 0), "dingtalk:group:cidTeam:user:alice");
    assert_eq!(session_header(&h, 1), "dingtalk:group:cidTeam:user:bob");
}

#[test]
fn the_allowlist_refuses_others_with_a_clear_answer() {
    let h = Harness::start("conv-access");
    let manifest = h
        .manifest()
        .with(|m| {
            m.conversation.access.policy = Some("allowlist".into());
            m.conversation.access.allowed_groups = Some(vec!["cidAllowed".into()]);
            m.conversation.access.allowed_senders = Some(vec!["boss".into()]);
        })
        .to_yaml();
    let skill = h.skill_with(&plugin(), &manifest);
    let refused = collect(skill.handle_event(&h.group_text("cidOther", "hi")).unwrap());
    assert!(
        matches!(refused.as_slice(), [Ok(Chunk::Replied(t))] if t.contains("not allowed")),
        "{refused:?}"
    );
    let mut dm = MessageSpec::direct_text("hi");
    dm.sender = Sender {
        staff_id: "stranger".into(),
        nick: "s".into(),
    };
    let refused_dm = collect(
        skill
            .handle_event(&h.dingtalk.bot_message(dm).to_string())
            .unwrap(),
    );
    assert!(matches!(refused_dm.as_slice(), [Ok(Chunk::Replied(_))]));
    assert!(
        h.gateway.requests().is_empty(),
        "nothing refused reaches the gateway"
    );
    assert_eq!(
        h.dingtalk
            .sent_messages()
            .iter()
            .filter(|m| m.text.contains("not allowed"))
            .count(),
        2
    );

    let ok = collect(
        skill
            .handle_event(&h.group_text("cidAllowed", "hi"))
            .unwrap(),
    );
    assert!(matches!(ok.last(), Some(Ok(Chunk::Finished { .. }))));
    let mut boss = MessageSpec::direct_text("hi");
    boss.sender = Sender {
        staff_id: "boss".into(),
        nick: "b".into(),
    };
    let ok_dm = collect(
        skill
            .handle_event(&h.dingtalk.bot_message(boss).to_string())
            .unwrap(),
    );
    assert!(
        matches!(ok_dm.last(), Some(Ok(Chunk::Finished { .. }))),
        "{ok_dm:?}"
    );
    let card = h.dingtalk.card(&card_of(&ok_dm)).unwrap();
    assert_eq!(card.open_space_id, "dtv1.card//IM_ROBOT.boss");
}

#[test]
fn a_video_gets_a_polite_reply_and_audio_uses_its_recognition() {
    let h = Harness::start("conv-types");
    let skill = h.skill(&plugin());
    let mut video = MessageSpec::group_text("cidTypes", "");
    video.content = Content::Video;
    let replied = collect(
        skill
            .handle_event(&h.dingtalk.bot_message(video).to_string())
            .unwrap(),
    );
    assert!(
        matches!(replied.as_slice(), [Ok(Chunk::Replied(t))] if t.contains("文字、语音、图片和文件")),
        "{replied:?}"
    );
    let webhook = h.dingtalk.sent_messages();
    assert_eq!(webhook.len(), 1);
    assert_eq!(webhook[0].via, ApiKind::SessionWebhook);
    assert!(
        h.gateway.requests().is_empty() && h.dingtalk.cards().is_empty(),
        "the video went nowhere else"
    );

    let mut audio = MessageSpec::group_text("cidTypes", "");
    audio.content = Content::Audio {
        recognition: "今天天气怎么样".into(),
    };
    let answered = collect(
        skill
            .handle_event(&h.dingtalk.bot_message(audio).to_string())
            .unwrap(),
    );
    assert!(
        answer_of(&answered).contains("今天天气怎么样"),
        "{}",
        answer_of(&answered)
    );
    let _ = Chat::Direct;
}
