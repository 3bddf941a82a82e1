//! `openclaw-skill send`: one answer into a new card of a group or a 1:1 chat, with no inbound
//! message, through the real `.so` ↔ the DingTalk emulator ↔ the fake gateway on 127.0.0.1.
//! It runs next to a running host that shares the `state_dir`, and neither touches the
//! other's cards.

mod support;

use std::process::{Command, Output};

use openclaw_dingtalk_emulator::dingtalk::{ApiKind, CardState};
use openclaw_dingtalk_emulator::event::MessageSpec;
use support::{plugin_path, quiet_stream, Env};

fn send(env: &Env, manifest: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_openclaw-skill"))
        .arg("send")
        .arg(manifest)
        .arg("--library")
        .arg(plugin_path())
        .args(args)
        .env("RUST_LOG", "info")
        .current_dir(&env.dir)
        .output()
        .expect("run openclaw-skill send")
}

#[test]
fn send_streams_an_answer_into_a_new_group_card_next_to_a_running_host() {
    let env = Env::start("send", quiet_stream());
    let manifest = env.write(env.manifest().stream_ingress());
    let mut host = env.host(&manifest, &[]);
    env.wait_connections(1);
    // The running host is in the middle of a long answer when `send` starts.
    env.dt
        .push_bot_message(MessageSpec::group_text("cid研发群==", "TOKENS:60 PACE:50"));
    env.wait("the running host's card streaming", |e| {
        e.cards()
            .iter()
            .any(|c| c.open_space_id.ends_with("cid研发群==") && c.text("content").contains("t2 "))
    });

    env.dt.add_robot_to_group("cid值班群==");
    let out = send(
        &env,
        &manifest,
        &["--group", "cid值班群==", "总结今天的告警", "TOKENS:8"],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}\n{stderr}", out.status);
    assert!(
        stdout.contains("t1 t2 t3 t4 t5 t6 t7 t8"),
        "the answer on stdout: {stdout}"
    );
    let card = env
        .cards_in("cid值班群==")
        .pop()
        .expect("a card in the group");
    assert_eq!(card.state, CardState::Finished);
    assert!(
        card.text("content").contains("t8"),
        "{}",
        card.text("content")
    );
    assert!(
        !card.text("content").contains("/stop") && card.text("sys_full_json_obj").is_empty(),
        "no stop button and no /stop line on a card nobody can stop: {card:?}"
    );
    let request = env
        .gw
        .requests()
        .into_iter()
        .find(|r| r.body.to_string().contains("总结今天的告警"))
        .expect("the prompt reached the gateway");
    assert_eq!(
        request.headers["x-openclaw-session-key"], "dingtalk:group:cid值班群==",
        "the group's own session"
    );

    // The running host's card was not finalized by `send`'s start: it finishes whole.
    let theirs = env.wait_card_finished("cid研发群==");
    assert!(
        theirs.text("content").contains("t60"),
        "{}",
        theirs.text("content")
    );
    assert!(!theirs.text("content").contains("中断"));
    host.sigterm();
    assert!(host.wait_exit().success());
}

#[test]
fn send_to_a_user_finishes_their_1_to_1_card_and_a_group_without_the_robot_fails() {
    let env = Env::start("send-user", quiet_stream());
    let manifest = env.write(env.manifest().stream_ingress());

    let out = send(&env, &manifest, &["--user", "值班-01", "你好", "TOKENS:3"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let card = env.cards_in("值班-01").pop().expect("a 1:1 card");
    assert_eq!(card.state, CardState::Finished);
    assert!(card.open_space_id.contains("IM_ROBOT.值班-01"));

    // The robot is not in this group: DingTalk refuses the card and the group message.
    let out = send(&env, &manifest, &["--group", "cid陌生群==", "你好"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the card did not finish"),
        "the reason is named: {stderr}"
    );
    assert!(
        !env.dt
            .sent_messages()
            .iter()
            .any(|m| m.via == ApiKind::GroupSend),
        "nothing reached the group"
    );

    // A bad request names the problem.
    let out = send(
        &env,
        &manifest,
        &["--group", "cid值班群==", "--route", "人事", "你好"],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no route named `人事` (routes: default)"),
        "{stderr}"
    );
}
