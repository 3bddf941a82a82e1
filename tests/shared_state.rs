//! `shared_state:` through the real `.so`: two skills (two hosts of one DingTalk app, each
//! with its own `state_dir`) share a real `redis-server` on loopback. Their calls keep
//! together to the app's DingTalk limit, a message both receive is answered once, `/new` on
//! one is seen by the other; while Redis is down each keeps to its share of the budget and
//! replies go on, and both rejoin when it is back. (A dead host's cards taken over by another:
//! `skill/host/tests/shared_state.rs`, with real processes.)

mod common;

use std::time::Duration;

use common::{card_of, collect, plugin, wait_info, Harness};
use openclaw_dingtalk_emulator::dingtalk::{CardState, EmulatorConfig, QpsScope};
use openclaw_dingtalk_emulator::gateway::FakeGatewayConfig;
use openclaw_dingtalk_emulator::redis::RedisServer;
use openclaw_skill_abi::{Chunk, Plugin, Skill};

/// One DingTalk app limited to 10 calls per second app-wide.
fn limited_app() -> EmulatorConfig {
    EmulatorConfig {
        qps_limit: Some(10),
        qps_scope: QpsScope::App,
        ..EmulatorConfig::default()
    }
}

/// A host of the app: its own `state_dir`, the shared Redis at `url`, the app's limit known.
fn host(h: &Harness, plugin: &Plugin, name: &str, url: &str) -> Skill {
    let manifest = h
        .manifest()
        .state_dir(format!("state-{name}"))
        .shared_state(url, 2)
        .with(|m| m.dingtalk.app_qps = Some(10))
        .to_yaml();
    h.skill_with(plugin, &manifest)
}

fn shared_up(skill: &Skill) -> bool {
    wait_info(skill, |i| i["shared_state"]["up"] == true)
}

#[test]
fn two_hosts_keep_together_to_the_apps_limit_and_answer_a_message_once() {
    let Some(redis) = RedisServer::start_for_test("two_hosts_keep_together") else {
        return;
    };
    let h = Harness::start_with("shared-budget", limited_app(), FakeGatewayConfig::default());
    let plugin = plugin();
    let a = host(&h, &plugin, "a", &redis.url());
    let b = host(&h, &plugin, "b", &redis.url());
    assert!(shared_up(&a) && shared_up(&b));

    // 20 replies at once, half on each host: alone each host would send up to 10 calls a
    // second, together twice the app's limit.
    let streams: Vec<_> = (0..20)
        .map(|i| {
            let skill = if i % 2 == 0 { &a } else { &b };
            let event = h.group_text(
                &format!("cid群{i}=="),
                &format!("第{i}个问题 TOKENS:16 PACE:40"),
            );
            skill.handle_event(&event).unwrap()
        })
        .collect();
    for stream in streams {
        let chunks = collect(stream);
        assert!(
            matches!(chunks.last(), Some(Ok(Chunk::Finished { .. }))),
            "{chunks:?}"
        );
    }
    let calls = h.dingtalk.calls();
    let refused = calls.iter().filter(|c| c.status == 403).count();
    assert_eq!(
        refused,
        0,
        "{} of {} calls refused with 403",
        refused,
        calls.len()
    );
    assert_eq!(h.dingtalk.cards().len(), 20);

    // The same message on both hosts (a redelivery landing on the other one): one answer.
    let event = h.group_text("cid重投群==", "只回答一次");
    let first = collect(a.handle_event(&event).unwrap());
    let second = collect(b.handle_event(&event).unwrap());
    assert!(
        matches!(first.last(), Some(Ok(Chunk::Finished { .. }))),
        "{first:?}"
    );
    assert!(
        matches!(second.last(), Some(Ok(Chunk::Skipped(_)))),
        "{second:?}"
    );
    let asked = h
        .gateway
        .requests()
        .iter()
        .filter(|r| r.body.to_string().contains("只回答一次"))
        .count();
    assert_eq!(asked, 1);

    // `/new` on one host starts a fresh session on both.
    let before = collect(
        b.handle_event(&h.group_text("cid会话群==", "你好"))
            .unwrap(),
    );
    assert!(matches!(before.last(), Some(Ok(Chunk::Finished { .. }))));
    collect(
        a.handle_event(&h.group_text("cid会话群==", "/new"))
            .unwrap(),
    );
    collect(
        b.handle_event(&h.group_text("cid会话群==", "再问一次"))
            .unwrap(),
    );
    let keys: Vec<String> = h
        .gateway
        .requests()
        .iter()
        .filter(|r| {
            r.body.to_string().contains("cid会话群")
                || r.headers
                    .get("x-openclaw-session-key")
                    .is_some_and(|k| k.contains("cid会话群"))
        })
        .filter_map(|r| r.headers.get("x-openclaw-session-key").cloned())
        .collect();
    assert_eq!(
        keys,
        [
            "dingtalk:group:cid会话群==",
            "dingtalk:group:cid会话群==:s1"
        ],
        "the second question went to the session `/new` started on the other host"
    );
    a.shutdown(Duration::from_secs(5)).unwrap();
    b.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn while_redis_is_down_each_host_keeps_to_its_share_and_replies_go_on() {
    let Some(mut redis) = RedisServer::start_for_test("while_redis_is_down") else {
        return;
    };
    let h = Harness::start_with("shared-down", limited_app(), FakeGatewayConfig::default());
    let plugin = plugin();
    let a = host(&h, &plugin, "a", &redis.url());
    let b = host(&h, &plugin, "b", &redis.url());
    assert!(shared_up(&a) && shared_up(&b));

    redis.stop().expect("redis stops");
    let streams: Vec<_> = (0..10)
        .map(|i| {
            let skill = if i % 2 == 0 { &a } else { &b };
            let event = h.group_text(
                &format!("cid断开{i}=="),
                &format!("问题{i} TOKENS:12 PACE:40"),
            );
            skill.handle_event(&event).unwrap()
        })
        .collect();
    for stream in streams {
        let chunks = collect(stream);
        assert!(
            matches!(chunks.last(), Some(Ok(Chunk::Finished { .. }))),
            "{chunks:?}"
        );
    }
    let refused = h
        .dingtalk
        .calls()
        .iter()
        .filter(|c| c.status == 403)
        .count();
    assert_eq!(refused, 0, "each host kept to half the app's limit");
    for skill in [&a, &b] {
        let info: serde_json::Value = serde_json::from_str(&skill.info().unwrap()).unwrap();
        assert_eq!(info["shared_state"]["up"], false, "{info}");
        assert_eq!(info["shared_state"]["outages"], 1, "{info}");
    }

    redis.restart().expect("redis starts again");
    assert!(shared_up(&a) && shared_up(&b), "both hosts rejoin");
    let chunks = collect(
        a.handle_event(&h.group_text("cid恢复==", "又连上了"))
            .unwrap(),
    );
    assert_eq!(
        h.dingtalk.card(&card_of(&chunks)).unwrap().state,
        CardState::Finished
    );
    a.shutdown(Duration::from_secs(5)).unwrap();
    b.shutdown(Duration::from_secs(5)).unwrap();
}
