//! Several robots in one process: `openclaw-skill run` with the real `.so` serving two DingTalk
//! apps (an emulator each, Stream mode) ↔ the fake gateway. Each app gets its own Stream
//! connection and answers its own robot's messages through its own DingTalk; an app whose
//! credentials DingTalk refuses is left out while the other serves; `send --app` posts through
//! the named app; `check` lists each app.

mod support;

use std::process::{Command, Output};

use openclaw_dingtalk_emulator::dingtalk::{CardState, DingTalkEmulator, EmulatorConfig};
use openclaw_dingtalk_emulator::event::MessageSpec;
use support::{plugin_path, quiet_stream, Env};

/// The IT help-desk app: its own credentials and robot, on its own emulator.
fn it_app(env: &Env, app_secret: &str) -> DingTalkEmulator {
    env.rt
        .block_on(DingTalkEmulator::start(EmulatorConfig {
            app_key: "ding-it-helpdesk".into(),
            app_secret: app_secret.into(),
            robot_code: "ding-it-robot".into(),
            stream: quiet_stream(),
            ..EmulatorConfig::default()
        }))
        .expect("second emulator")
}

fn cli(env: &Env, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_openclaw-skill"))
        .args(args)
        .arg("--library")
        .arg(plugin_path())
        .env("RUST_LOG", "info")
        .current_dir(&env.dir)
        .output()
        .expect("run openclaw-skill")
}

/// Waits until `emulator` has a finished card in `conversation`.
fn wait_finished(env: &Env, emulator: &DingTalkEmulator, conversation: &str) {
    let ok = env.rt.block_on(emulator.wait_until(
        |e| {
            e.cards()
                .iter()
                .any(|c| c.open_space_id.ends_with(conversation) && c.state == CardState::Finished)
        },
        std::time::Duration::from_secs(30),
    ));
    assert!(ok, "no finished card in {conversation}");
}

#[test]
fn each_app_has_its_own_stream_and_answers_its_own_robots_messages() {
    let env = Env::start("apps", quiet_stream());
    let it = it_app(&env, "运维-app-secret");
    let manifest = env.write(
        env.manifest()
            .stream_ingress()
            .apps(&[("hr", &env.dt), ("it", &it)]),
    );

    let check = cli(&env, &["check", manifest.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&check.stderr)
    );
    for line in [
        "app:      hr (app key dingemulatorappkey, robot dingemulatorappkey",
        "app:      it (app key ding-it-helpdesk, robot ding-it-robot",
    ] {
        assert!(stdout.contains(line), "{line:?} in\n{stdout}");
    }
    assert!(!stdout.contains("运维-app-secret"), "no secret in check");

    let mut host = env.host(&manifest, &["--metrics-listen", "127.0.0.1:0"]);
    let metrics_url = host.logged_url("metrics listening on ");
    env.wait_connections(1);
    let ok = env.rt.block_on(it.wait_until(
        |e| e.stream_connections().first().is_some_and(|c| c.is_open()),
        std::time::Duration::from_secs(30),
    ));
    assert!(ok, "the IT app's Stream connection");
    host.wait_log("the IT app's connection line", |m| {
        m.contains("connected (app it (ding-it-helpdesk))")
    });

    let hr_msg = env
        .dt
        .push_bot_message(MessageSpec::group_text("cid全员群==", "年假怎么算？"));
    let it_msg = it.push_bot_message(MessageSpec::group_text("cid全员群==", "VPN 连不上"));
    env.wait_card_finished("cid全员群==");
    wait_finished(&env, &it, "cid全员群==");
    assert_eq!(env.dt.cards().len(), 1, "the HR card went to the HR app");
    assert_eq!(it.cards().len(), 1, "the IT card went to the IT app");
    for (msg, app) in [(&hr_msg, "hr"), (&it_msg, "it")] {
        host.wait_log("the reply line", |m| {
            m.starts_with("reply msg=")
                && m.contains(msg.as_str())
                && m.contains(&format!(" app={app} "))
                && m.contains("outcome=finished")
        });
    }

    // Each robot's DingTalk calls are its own series.
    let metrics = env.get_text(&metrics_url);
    for series in [
        r#"openclaw_dingtalk_calls_total{app="hr",kind="create"} 1"#,
        r#"openclaw_dingtalk_calls_total{app="it",kind="create"} 1"#,
        r#"openclaw_dingtalk_qps_limited_total{app="it"} 0"#,
    ] {
        assert!(
            metrics.lines().any(|l| l == series),
            "{series} in\n{metrics}"
        );
    }

    it.add_robot_to_group("cid运维值班==");
    let sent = cli(
        &env,
        &[
            "send",
            manifest.to_str().unwrap(),
            "--app",
            "it",
            "--group",
            "cid运维值班==",
            "总结今天的告警",
        ],
    );
    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    wait_finished(&env, &it, "cid运维值班==");
    let without_app = cli(
        &env,
        &[
            "send",
            manifest.to_str().unwrap(),
            "--group",
            "cid运维值班==",
            "总结",
        ],
    );
    assert!(!without_app.status.success());
    let stderr = String::from_utf8_lossy(&without_app.stderr);
    assert!(
        stderr.contains("`app` is required: this skill serves several apps (hr, it)"),
        "{stderr}"
    );

    host.sigterm();
    assert!(host.wait_exit().success());
}

#[test]
fn an_app_whose_credentials_are_refused_is_left_out_while_the_other_serves() {
    let env = Env::start("apps-refused", quiet_stream());
    let it = it_app(&env, "运维-real-secret");
    // The IT entry carries a secret the IT app's DingTalk does not know.
    let text = env
        .manifest()
        .stream_ingress()
        .apps(&[("hr", &env.dt), ("it", &it)])
        .to_yaml()
        .replace("运维-real-secret", "过期的-secret");
    let manifest = env.dir.join("openclaw-skill.yaml");
    std::fs::write(&manifest, text).expect("manifest");
    let mut host = env.host(&manifest, &[]);
    host.wait_log("the IT app's refusal", |m| {
        m.contains("stream: app it (ding-it-helpdesk) stopped")
            && m.contains("DingTalk refused the app credentials")
    });
    env.wait_connections(1);
    env.dt
        .push_bot_message(MessageSpec::group_text("cid人事群==", "请假流程？"));
    env.wait_card_finished("cid人事群==");
    assert!(
        it.stream_connections().is_empty(),
        "no connection with refused credentials"
    );
    assert!(!host.raw_lines().iter().any(|l| l.contains("过期的-secret")));
    host.sigterm();
    assert!(host.wait_exit().success());
}
