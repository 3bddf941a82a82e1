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

/// Asks every question (a group of its own each, `TOKENS:n PACE:ms` of the fake gateway),
/// alternating between the hosts, and waits until each reply finished.
fn answer_all(h: &Harness, hosts: [&Skill; 2], questions: usize, group: &str, pace: &str) {
    let streams: Vec<_> = (0..questions)
        .map(|i| {
            let event = h.group_text(&format!("cid{group}{i}=="), &format!("问题{i} {pace}"));
            hosts[i % 2].handle_event(&event).unwrap()
        })
        .collect();
    for stream in streams {
        let chunks = collect(stream);
        assert!(
            matches!(chunks.last(), Some(Ok(Chunk::Finished { .. }))),
            "{chunks:?}"
        );
    }
}

/// A host's manifest with the stand-up schedule `standup` (cron `cron`, `collect` its
/// collect settings) in the group `cid站会群==`.
fn standup_manifest(
    h: &Harness,
    redis: &RedisServer,
    name: &str,
    cron: &str,
    collect: serde_json::Value,
) -> String {
    h.manifest()
        .state_dir(format!("state-{name}"))
        .shared_state(&redis.url(), 2)
        .set(
            "schedules",
            serde_json::json!([{
                "name": "standup", "cron": cron, "groups": ["cid站会群=="],
                "prompt": "按人整理今天的站会", "collect": collect,
            }]),
        )
        .to_yaml()
}

/// `text` from `nick` (`staff_id`) in the stand-up group, as DingTalk delivers it.
fn standup_message(h: &Harness, staff_id: &str, nick: &str, text: &str) -> String {
    use openclaw_dingtalk_emulator::event::{MessageSpec, Sender};
    h.dingtalk
        .bot_message(MessageSpec {
            sender: Sender {
                staff_id: staff_id.into(),
                nick: nick.into(),
            },
            ..MessageSpec::group_text("cid站会群==", text)
        })
        .to_string()
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
    answer_all(&h, [&a, &b], 20, "群", "TOKENS:16 PACE:40");
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
    answer_all(&h, [&a, &b], 10, "断开", "TOKENS:12 PACE:40");
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

#[test]
fn a_tenant_limit_below_the_budget_is_learned_from_what_both_hosts_sent() {
    let Some(redis) = RedisServer::start_for_test("a_tenant_limit_below_the_budget") else {
        return;
    };
    // DingTalk holds the app to 10 calls a second; the manifests do not know it (no
    // `app_qps`, 20 per API): the hosts learn it from the 403s.
    let h = Harness::start_with("shared-learn", limited_app(), FakeGatewayConfig::default());
    let plugin = plugin();
    let manifest = |name: &str| {
        h.manifest()
            .state_dir(format!("state-{name}"))
            .shared_state(&redis.url(), 2)
            .to_yaml()
    };
    let a = h.skill_with(&plugin, &manifest("a"));
    let b = h.skill_with(&plugin, &manifest("b"));
    assert!(shared_up(&a) && shared_up(&b));
    answer_all(&h, [&a, &b], 20, "学习群", "TOKENS:20 PACE:50");
    let refused = h
        .dingtalk
        .calls()
        .iter()
        .filter(|c| c.status == 403)
        .count();
    assert!(refused > 0, "the limit was met");
    // A 403 is cut to 70 % of what both hosts sent in the window (about the 10 DingTalk
    // allows), not of one host's part (about half of it).
    let app_rate = |skill: &Skill| {
        let info: serde_json::Value = serde_json::from_str(&skill.info().unwrap()).unwrap();
        let app = &info["dingtalk_budget"]["app"];
        (app["learned"] == true).then(|| app["calls_per_second"].as_f64().unwrap_or(0.0))
    };
    let learned: Vec<f64> = [&a, &b].into_iter().filter_map(app_rate).collect();
    assert!(!learned.is_empty(), "a host learned the app-wide limit");
    for rate in &learned {
        assert!(
            (5.0..=10.0).contains(rate),
            "learned {rate} calls/s app-wide for a limit of 10 ({learned:?}, {refused} × 403)"
        );
    }
    a.shutdown(Duration::from_secs(5)).unwrap();
    b.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn a_stand_up_collected_on_two_hosts_is_summarized_once_whichever_host_posts_it() {
    let Some(redis) = RedisServer::start_for_test("a_stand_up_collected_on_two_hosts") else {
        return;
    };
    let h = Harness::start("shared-standup");
    let plugin = plugin();
    h.dingtalk.add_robot_to_group("cid站会群==");
    // A tick every 2 s (6-field pattern, seconds first); nothing is posted while nothing was
    // collected.
    let manifest = |name: &str| {
        standup_manifest(
            &h,
            &redis,
            name,
            "*/2 * * * * *",
            serde_json::json!({"tag": "#standup", "when_empty": "skip"}),
        )
    };
    let a = h.skill_with(&plugin, &manifest("a"));
    let b = h.skill_with(&plugin, &manifest("b"));
    assert!(shared_up(&a) && shared_up(&b));

    let person = |staff_id: &str, nick: &str, text: &str| standup_message(&h, staff_id, nick, text);
    let said = [
        (&a, person("zs-01", "张三", "#standup 昨天：修复登录超时")),
        (&b, person("ls-02", "李四", "#standup 今天：联调支付")),
        (&a, person("ww-03", "王五", "#standup 阻碍：测试环境不稳定")),
    ];
    for (skill, event) in &said {
        let chunks = collect(skill.handle_event(event).unwrap());
        assert!(
            matches!(chunks.last(), Some(Ok(Chunk::Replied(_)))),
            "acknowledged: {chunks:?}"
        );
    }
    let texts = [
        "昨天：修复登录超时",
        "今天：联调支付",
        "阻碍：测试环境不稳定",
    ];
    let summaries = || -> Vec<String> {
        h.gateway
            .requests()
            .iter()
            .map(|r| r.body.to_string())
            .filter(|b| b.contains("按人整理今天的站会"))
            .collect()
    };
    // Host a (which heard two of the three) goes away; b posts the summary alone.
    a.shutdown(Duration::from_secs(5)).unwrap();
    let all_in = h.rt.block_on(h.gateway.wait_for(
        |requests| {
            let seen: Vec<String> = requests.iter().map(|r| r.body.to_string()).collect();
            texts.iter().all(|t| seen.iter().any(|b| b.contains(t)))
        },
        Duration::from_secs(30),
    ));
    assert!(all_in, "every collected message reached a summary");
    let dt = h.dingtalk.clone();
    let summary_finished = h.rt.block_on(h.dingtalk.wait_for(
        move |_| dt.cards().iter().any(|c| c.state == CardState::Finished),
        Duration::from_secs(30),
    ));
    assert!(
        summary_finished,
        "the summary card finished: {:?}",
        h.dingtalk.cards()
    );
    // Then b goes away and a comes back on its own state_dir: its ticks find nothing that
    // was summarized already.
    b.shutdown(Duration::from_secs(5)).unwrap();
    let a = h.skill_with(&plugin, &manifest("a"));
    assert!(shared_up(&a));
    let last_tick = |skill: &Skill| {
        let info: serde_json::Value = serde_json::from_str(&skill.info().unwrap()).unwrap();
        info["schedules"][0]["last_tick"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    for _ in 0..2 {
        let before = last_tick(&a);
        assert!(wait_info(&a, |i| {
            i["schedules"][0]["last_tick"]
                .as_str()
                .is_some_and(|t| t > before.as_str())
        }));
    }
    for text in texts {
        let n = summaries().iter().filter(|b| b.contains(text)).count();
        assert_eq!(n, 1, "{text} summarized {n} times");
    }
    a.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn a_collection_full_on_one_host_is_full_on_every_host() {
    let Some(redis) = RedisServer::start_for_test("a_collection_full") else {
        return;
    };
    let h = Harness::start("shared-collect-full");
    let plugin = plugin();
    // At most two messages a tick; the tick (1 January, 09:00) does not come during the test.
    let manifest = |name: &str| {
        standup_manifest(
            &h,
            &redis,
            name,
            "0 9 1 1 *",
            serde_json::json!({"tag": "#standup", "max_messages": 2}),
        )
    };
    let a = h.skill_with(&plugin, &manifest("a"));
    let b = h.skill_with(&plugin, &manifest("b"));
    assert!(shared_up(&a) && shared_up(&b));
    let said = [
        (&a, "zs-01", "张三", "#standup 昨天：修复登录超时"),
        (&b, "ls-02", "李四", "#standup 今天：联调支付"),
        (&a, "ww-03", "王五", "#standup 阻碍：测试环境不稳定"),
    ];
    for (skill, staff_id, nick, text) in said {
        let event = standup_message(&h, staff_id, nick, text);
        collect(skill.handle_event(&event).unwrap());
    }
    let answers: Vec<String> = h
        .dingtalk
        .sent_messages()
        .into_iter()
        .map(|m| m.text)
        .collect();
    assert_eq!(answers.len(), 3, "{answers:?}");
    assert!(
        answers[0].contains("已记下") && answers[1].contains("已记下"),
        "{answers:?}"
    );
    assert!(
        answers[2].contains("已满"),
        "王五 is told the list is full: {answers:?}"
    );
    a.shutdown(Duration::from_secs(5)).unwrap();
    b.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn an_unreachable_tls_redis_with_a_password_leaves_replies_working_and_the_password_unshown() {
    let Some(redis) = RedisServer::start_for_test("an_unreachable_tls_redis") else {
        return;
    };
    let h = Harness::start("shared-tls");
    let plugin = plugin();
    // A TLS URL to a server that speaks plain Redis: the handshake fails.
    let url = format!("rediss://:口令-secret@127.0.0.1:{}/0", redis.port());
    let skill = host(&h, &plugin, "tls", &url);
    let chunks = collect(
        skill
            .handle_event(&h.group_text("cid加密==", "你好"))
            .unwrap(),
    );
    assert!(
        matches!(chunks.last(), Some(Ok(Chunk::Finished { .. }))),
        "{chunks:?}"
    );
    assert!(wait_info(&skill, |i| i["shared_state"]["outages"] == 1));
    let info = skill.info().unwrap();
    assert!(!info.contains("口令") && !info.contains("secret"), "{info}");
    assert!(info.contains("rediss://***@127.0.0.1"), "{info}");
    skill.shutdown(Duration::from_secs(5)).unwrap();
}
