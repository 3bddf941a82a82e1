//! Schedules through `openclaw-skill run` with the real `.so` ↔ the DingTalk emulator (Stream
//! mode) ↔ the fake gateway. Time is the plugin's test clock (`OCDT_TEST_CLOCK_FILE`, a
//! `test-hooks` build): the test writes the time into a file, no test waits for real minutes.

mod support;

use std::path::{Path, PathBuf};

use openclaw_dingtalk_emulator::dingtalk::{ApiKind, CardState, DingTalkEmulator};
use openclaw_dingtalk_emulator::event::{MessageSpec, Sender};
use serde_json::json;
use support::{quiet_stream, Env, Host, TestManifest};

/// The test clock: a file holding epoch milliseconds.
struct Clock(PathBuf);

impl Clock {
    fn new(env: &Env) -> Clock {
        Clock(env.dir.join("clock"))
    }

    /// Sets the time (RFC 3339).
    fn set(&self, at: &str) {
        let t: jiff::Timestamp = at.parse().expect("an RFC 3339 time");
        std::fs::write(&self.0, t.as_millisecond().to_string()).expect("write the clock");
    }

    fn host(&self, env: &Env, manifest: &Path) -> Host {
        let clock = self.0.to_string_lossy().into_owned();
        env.host_with_env(manifest, &[], &[("OCDT_TEST_CLOCK_FILE", &clock)])
    }
}

fn finished_cards(e: &DingTalkEmulator, conversation: &str) -> usize {
    e.cards()
        .iter()
        .filter(|c| c.open_space_id.ends_with(conversation) && c.state == CardState::Finished)
        .count()
}

fn stop(mut host: Host) {
    host.sigterm();
    assert!(host.wait_exit().success());
}

/// Weekdays at 9:30 in Shanghai, two groups and one 1:1 chat.
fn duty(env: &Env) -> TestManifest {
    env.manifest().stream_ingress().set(
        "schedules",
        json!([{
            "name": "值班提醒", "cron": "30 9 * * 1-5", "groups": ["cid值班一==", "cid值班二=="],
            "users": ["值班长-01"], "prompt": "请给出今天的值班提醒 TOKENS:5",
        }]),
    )
}

#[test]
fn a_tick_posts_a_card_in_every_target_and_a_missed_tick_runs_once_when_recent() {
    let env = Env::start("schedule-duty", quiet_stream());
    for group in ["cid值班一==", "cid值班二=="] {
        env.dt.add_robot_to_group(group);
    }
    let manifest = env.write(duty(&env));
    let clock = Clock::new(&env);
    // Monday 2026-11-30 09:29:50 in Shanghai.
    clock.set("2026-11-30T09:29:50+08:00");
    let host = clock.host(&env, &manifest);
    env.wait_connections(1);
    host.wait_log("the next tick", |m| {
        m.contains("schedule 值班提醒: next tick 2026-11-30 09:30:00 CST")
    });
    assert!(env.dt.cards().is_empty(), "nothing before the tick");

    clock.set("2026-11-30T09:30:00+08:00");
    env.wait("a finished card in each target", |e| {
        finished_cards(e, "cid值班一==") == 1
            && finished_cards(e, "cid值班二==") == 1
            && finished_cards(e, "值班长-01") == 1
    });
    let requests = env.gw.requests();
    let mut sessions: Vec<String> = requests
        .iter()
        .map(|r| r.headers["x-openclaw-session-key"].clone())
        .collect();
    sessions.sort();
    assert_eq!(
        sessions,
        [
            "dingtalk:dm:值班长-01",
            "dingtalk:group:cid值班一==",
            "dingtalk:group:cid值班二=="
        ]
    );
    let text = requests[0].body["messages"][0]["content"].as_str().unwrap();
    assert!(
        text.contains("the robot posts this on its own (schedule 值班提醒)"),
        "{text}"
    );
    assert!(text.ends_with("请给出今天的值班提醒 TOKENS:5"), "{text}");
    host.wait_log("the next tick, the next day", |m| {
        m.contains("schedule 值班提醒: next tick 2026-12-01 09:30:00 CST")
    });
    stop(host);

    // Down over Tuesday's tick, back 10 minutes later: that tick runs once, at the start.
    clock.set("2026-12-01T09:40:00+08:00");
    let host = clock.host(&env, &manifest);
    env.wait_connections(2);
    env.wait("the caught-up cards", |e| {
        finished_cards(e, "cid值班一==") == 2
    });
    env.wait("the caught-up cards", |e| {
        finished_cards(e, "cid值班二==") == 2 && finished_cards(e, "值班长-01") == 2
    });
    stop(host);

    // Down over Wednesday's tick, back 40 minutes later (catch_up_secs is 900): skipped.
    clock.set("2026-12-02T10:10:00+08:00");
    let host = clock.host(&env, &manifest);
    env.wait_connections(3);
    host.wait_log("the skip", |m| {
        m.contains("schedule 值班提醒: ticks were missed") && m.contains("skipped")
    });
    host.wait_log("the next tick", |m| {
        m.contains("next tick 2026-12-03 09:30:00 CST")
    });
    assert_eq!(finished_cards(&env.dt, "cid值班一=="), 2, "no third card");
    assert_eq!(env.gw.requests().len(), 6);
    stop(host);
}

fn person(staff_id: &str, nick: &str, text: &str) -> MessageSpec {
    MessageSpec {
        sender: Sender {
            staff_id: staff_id.into(),
            nick: nick.into(),
        },
        ..MessageSpec::group_text("cid站会群==", text)
    }
}

#[test]
fn collected_stand_up_messages_survive_a_restart_and_are_all_in_the_summary() {
    let env = Env::start("schedule-standup", quiet_stream());
    let manifest = env.write(env.manifest().stream_ingress().set(
        "schedules",
        json!([{
            "name": "standup", "cron": "30 9 * * *", "groups": ["cid站会群=="],
            "prompt": "按人整理今天的站会：昨天、今天、阻碍。",
            "collect": {"tag": "#standup"},
        }]),
    ));
    let clock = Clock::new(&env);
    clock.set("2026-11-30T09:00:00+08:00");
    let host = clock.host(&env, &manifest);
    env.wait_connections(1);
    env.dt.push_bot_message(person(
        "zs-01",
        "张三",
        "#standup 昨天：修复登录超时；今天：联调支付",
    ));
    // The next one after the first is noted: two messages in the same instant are handled
    // side by side, in no set order.
    env.wait("the first acknowledgement", |e| {
        e.sent_messages().iter().any(|m| m.text.contains("已记下"))
    });
    env.dt.push_bot_message(person(
        "ls-02",
        "李四",
        "今天：写周报 #standup 阻碍：测试环境不稳定",
    ));
    env.wait("two acknowledgements", |e| {
        e.sent_messages()
            .iter()
            .filter(|m| m.text.contains("已记下"))
            .count()
            == 2
    });
    assert!(
        env.dt.cards().is_empty(),
        "collected messages get no answer card"
    );
    stop(host);

    // A new process: what was collected before is still there.
    clock.set("2026-11-30T09:10:00+08:00");
    let host = clock.host(&env, &manifest);
    env.wait_connections(2);
    env.dt
        .push_bot_message(person("ww-03", "王五", "#standup 昨天请假，今天补测试"));
    env.dt
        .push_bot_message(person("zl-04", "赵六", "这个接口怎么调用？ TOKENS:3"));
    env.wait("the third acknowledgement and the question's answer", |e| {
        e.sent_messages()
            .iter()
            .filter(|m| m.text.contains("已记下"))
            .count()
            == 3
            && finished_cards(e, "cid站会群==") == 1
    });

    clock.set("2026-11-30T09:30:00+08:00");
    env.wait("the summary card", |e| {
        finished_cards(e, "cid站会群==") == 2
    });
    let summary = env
        .gw
        .requests()
        .into_iter()
        .find(|r| r.body.to_string().contains("按人整理今天的站会"))
        .expect("the summary's request");
    let text = summary.body["messages"][0]["content"].as_str().unwrap();
    let (zs, ls, ww) = (
        text.find("张三] 昨天：修复登录超时；今天：联调支付"),
        text.find("李四] 今天：写周报  阻碍：测试环境不稳定"),
        text.find("王五] 昨天请假，今天补测试"),
    );
    assert!(
        zs.is_some() && ls.is_some() && ww.is_some() && zs < ls && ls < ww,
        "all three, in order, without the tag: {text}"
    );
    assert!(
        !text.contains("#standup") && !text.contains("接口怎么调用"),
        "{text}"
    );
    assert!(text.contains("3 条消息"), "{text}");

    // Summarized messages are gone: the next day's tick finds nothing and says so.
    clock.set("2026-12-01T09:30:00+08:00");
    host.wait_log("the empty tick", |m| {
        m.contains("schedule standup: nothing was collected in cid站会群==")
    });
    env.wait("the note that nothing was collected", |e| {
        e.sent_messages()
            .iter()
            .any(|m| m.via == ApiKind::GroupSend && m.text.contains("本期没有收集到消息"))
    });
    assert_eq!(
        finished_cards(&env.dt, "cid站会群=="),
        2,
        "no empty summary card"
    );
    stop(host);
}
