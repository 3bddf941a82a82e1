//! Hardening through the real `.so`: start-up never waits for the recovery of interrupted
//! cards, a corrupt journal entry is moved aside once, a panic inside card-sync still
//! finalizes the card, refused credentials cost one token call for many events, and a
//! session webhook is used only where DingTalk's session replies live.

mod common;

use std::time::{Duration, Instant};

use common::{card_of, collect, plugin, wait_info, Harness};
use openclaw_dingtalk_emulator::dingtalk::{ApiKind, CardState, Fault, FaultResponse};
use openclaw_skill_abi::Chunk;

/// Creates `n` cards in the emulator the way an earlier process would have, and leaves
/// their journal entries (showing some text) in the state directory.
fn leave_cards_in_flight(h: &Harness, n: usize) -> Vec<String> {
    let base = h.dingtalk.base_url();
    let cfg = h.dingtalk.config().clone();
    let ids: Vec<String> = (0..n).map(|i| format!("card_leftover{i:02}")).collect();
    h.rt.block_on(async {
        let http = reqwest::Client::new();
        let token: serde_json::Value = http
            .post(format!("{base}/v1.0/oauth2/accessToken"))
            .json(&serde_json::json!({"appKey": cfg.app_key, "appSecret": cfg.app_secret}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = token["accessToken"].as_str().unwrap().to_owned();
        for id in &ids {
            let status = http
                .post(format!("{base}/v1.0/card/instances/createAndDeliver"))
                .header("x-acs-dingtalk-access-token", &token)
                .json(&serde_json::json!({
                    "cardTemplateId": "emulator-ai-card.schema",
                    "outTrackId": id,
                    "cardData": {"cardParamMap": {"content": ""}},
                    "openSpaceId": "dtv1.card//IM_GROUP.cidLeftover",
                    "imGroupOpenDeliverModel": {"robotCode": cfg.robot_code},
                }))
                .send()
                .await
                .unwrap()
                .status();
            assert_eq!(status, 200);
        }
    });
    let cards = h.dir.join("state/cards");
    std::fs::create_dir_all(&cards).unwrap();
    for (i, id) in ids.iter().enumerate() {
        let entry = serde_json::json!({
            "card_id": id,
            "content_key": "content",
            "text": format!("回答到一半 {i}"),
            "created_at_ms": 1_700_000_000_000u64 + i as u64,
        });
        std::fs::write(cards.join(format!("{id}.json")), entry.to_string()).unwrap();
    }
    ids
}

#[test]
fn start_up_does_not_wait_for_a_slow_dingtalk_to_take_the_interrupted_cards() {
    let h = Harness::start("recovery-background");
    let ids = leave_cards_in_flight(&h, 20);
    // DingTalk answers every call 2 s late from now on.
    h.dingtalk.inject(Fault::new(
        None,
        FaultResponse::Latency(Duration::from_secs(2)),
        200,
    ));
    let started = Instant::now();
    let skill = h.skill(&plugin());
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(1),
        "init waited {took:?} for the recovery of 20 cards at 2 s per call"
    );
    for id in &ids {
        let card = h.wait_card_final(id);
        assert_eq!(card.state, CardState::Failed, "{id}");
        let text = card.text("content");
        assert!(
            text.starts_with("回答到一半") && text.contains("请重新发送"),
            "{text}"
        );
    }
    assert!(wait_info(&skill, |i| i["replies"]["recovered_cards"] == 20));
    let left: Vec<String> = std::fs::read_dir(h.dir.join("state/cards"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        left.len() == 1 && left[0].ends_with(".owner"),
        "the journal is empty once every card is finalized, but for the running skill's owner file: {left:?}"
    );
}

#[test]
fn a_corrupt_journal_entry_is_moved_aside_once_and_temp_files_are_removed() {
    let h = Harness::start("journal-corrupt");
    let cards = h.dir.join("state/cards");
    std::fs::create_dir_all(&cards).unwrap();
    std::fs::write(cards.join("card_torn.json"), "{\"card_id\": \"card_to").unwrap();
    std::fs::write(cards.join("card_x.json.tmp"), "{half").unwrap();
    let skill = h.skill(&plugin());
    assert!(cards.join("card_torn.json.corrupt").exists());
    assert!(!cards.join("card_torn.json").exists());
    assert!(!cards.join("card_x.json.tmp").exists());
    drop(skill);
    // The next start does not read (or warn about) it again, and never calls DingTalk for it.
    let _again = h.skill(&plugin());
    assert!(cards.join("card_torn.json.corrupt").exists());
    assert!(h
        .dingtalk
        .calls()
        .iter()
        .all(|c| c.kind == ApiKind::AccessToken || c.out_track_id.is_none()));
}

#[test]
fn a_panic_inside_card_sync_still_finalizes_the_card() {
    let h = Harness::start("card-sync-panic");
    let skill = h.skill(&plugin());
    // The fake gateway echoes the text, so the answer carries the marker.
    let chunks = collect(
        skill
            .handle_event(&h.group_text("cidPanic", "请回答 __oc_test__:panic_in_card_sync"))
            .unwrap(),
    );
    let card = card_of(&chunks);
    let shown = h.wait_card_final(&card);
    assert_eq!(shown.state, CardState::Failed);
    assert!(
        shown.text("content").contains("internal error"),
        "{shown:?}"
    );
    assert!(chunks.last().is_some_and(|c| c.is_ok()), "{chunks:?}");
}

#[test]
fn refused_credentials_cost_one_token_call_for_many_events() {
    let h = Harness::start("bad-credentials");
    let manifest = h.manifest().app_secret("not-the-secret").to_yaml();
    let skill = h.skill_with(&plugin(), &manifest);
    for i in 0..4 {
        let chunks = collect(
            skill
                .handle_event(&h.group_text(&format!("cidCred{i}"), "你好 TOKENS:2"))
                .unwrap(),
        );
        // No card without a token; the answer still reaches the group through the session
        // webhook, which needs none.
        assert!(
            matches!(chunks.last(), Some(Ok(Chunk::Finished { .. }))),
            "{chunks:?}"
        );
    }
    let token_calls = h
        .dingtalk
        .calls()
        .iter()
        .filter(|c| c.kind == ApiKind::AccessToken)
        .count();
    assert_eq!(token_calls, 1, "the refusal is shared and remembered");
    let info: serde_json::Value = serde_json::from_str(&skill.info().unwrap()).unwrap();
    assert_eq!(info["replies"]["degraded"], 4, "{info}");
}

#[test]
fn a_session_webhook_is_used_only_on_the_session_send_path() {
    let h = Harness::start("webhook-path");
    let manifest = h
        .manifest()
        .with(|m| m.streaming.enabled = Some(false))
        .to_yaml();
    let skill = h.skill_with(&plugin(), &manifest);
    let mut event =
        h.dingtalk
            .bot_message(openclaw_dingtalk_emulator::event::MessageSpec::group_text(
                "cidHook",
                "你好 TOKENS:2",
            ));
    let hook = event["sessionWebhook"].as_str().unwrap().to_owned();
    event["sessionWebhook"] = hook
        .replace("/robot/sendBySession", "/robot/elsewhere")
        .into();
    let chunks = collect(skill.handle_event(&event.to_string()).unwrap());
    assert!(
        matches!(chunks.last(), Some(Ok(Chunk::Finished { .. }))),
        "{chunks:?}"
    );
    let calls = h.dingtalk.calls();
    assert!(
        calls.iter().all(|c| !c.path.contains("/robot/elsewhere")),
        "the webhook was not called"
    );
    assert!(
        calls.iter().any(|c| c.kind == ApiKind::GroupSend),
        "the robot send API was used instead"
    );
}
