//! End to end against the REAL OpenClaw gateway (openclaw 2026.9.6 under Node 24, with the
//! project's fake upstream model), started by `.ci/openclaw-peer.sh` in a loopback-only
//! network namespace. `.ci/run` runs these with `--ignored` inside that namespace:
//!
//! ```sh
//! FAKE_UPSTREAM_BIN=target/debug/fake-gateway .ci/openclaw-peer.sh start
//! .ci/openclaw-peer.sh exec cargo test --offline --features openclaw-dingtalk/test-hooks --test real_gateway -- --ignored
//! .ci/openclaw-peer.sh stop
//! ```

mod common;

use common::{answer_of, card_of, collect, plugin, Harness};
use openclaw_dingtalk_emulator::dingtalk::CardState;
use openclaw_skill_abi::Chunk;

fn gateway_env() -> (String, String) {
    let url = std::env::var("OPENCLAW_TEST_GATEWAY_URL")
        .expect("OPENCLAW_TEST_GATEWAY_URL (run through .ci/openclaw-peer.sh exec)");
    let token = std::env::var("OPENCLAW_TEST_GATEWAY_TOKEN").expect("OPENCLAW_TEST_GATEWAY_TOKEN");
    (url, token)
}

fn manifest(h: &Harness) -> String {
    let (url, token) = gateway_env();
    h.manifest().gateway(url, Some(token.into())).to_yaml()
}

fn upstream_requests() -> Vec<serde_json::Value> {
    let Ok(path) = std::env::var("OPENCLAW_TEST_UPSTREAM_RECORD") else {
        return Vec::new();
    };
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[test]
#[ignore = "needs the real OpenClaw gateway: run through .ci/openclaw-peer.sh (see the module docs)"]
fn a_dingtalk_message_goes_through_the_real_gateway_with_history_and_new_sessions() {
    let h = Harness::start("real-gateway");
    let skill = h.skill_with(&plugin(), &manifest(&h));
    let conversation = format!("cidReal{}", std::process::id());

    let first = collect(
        skill
            .handle_event(&h.group_text(&conversation, "第一个问题 first question"))
            .unwrap(),
    );
    assert!(
        matches!(first.last(), Some(Ok(Chunk::Finished { .. }))),
        "{first:?}"
    );
    let answer = answer_of(&first);
    assert!(
        answer.starts_with("Hello from the fake gateway."),
        "{answer}"
    );
    assert!(
        answer.contains("first question") && answer.ends_with("Turn 1."),
        "{answer}"
    );
    let card = h.wait_card_final(&card_of(&first));
    assert_eq!(card.state, CardState::Finished);
    assert_eq!(
        card.text("content").trim_end(),
        answer.trim_end().replace('\n', "<br>\n")
    );

    let upstream = upstream_requests();
    if let Some(last) = upstream.last() {
        assert!(
            last.to_string().contains("channel=dingtalk"),
            "x-openclaw-message-channel reached the prompt"
        );
    }

    let second = collect(
        skill
            .handle_event(&h.group_text(&conversation, "second question"))
            .unwrap(),
    );
    let answer2 = answer_of(&second);
    assert!(
        answer2.contains("second question") && answer2.ends_with("Turn 2."),
        "the gateway kept the history: {answer2}"
    );

    let reset = collect(
        skill
            .handle_event(&h.group_text(&conversation, "/new"))
            .unwrap(),
    );
    assert!(
        matches!(reset.as_slice(), [Ok(Chunk::Replied(_))]),
        "{reset:?}"
    );
    let third = collect(
        skill
            .handle_event(&h.group_text(&conversation, "third question"))
            .unwrap(),
    );
    let answer3 = answer_of(&third);
    assert!(
        answer3.ends_with("Turn 1."),
        "/new started a fresh session: {answer3}"
    );
}
