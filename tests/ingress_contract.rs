//! ABI v2's ingress entries through the real `.so`: hosts ask the plugin for their settings,
//! for the Stream open request and whether an HTTP callback is genuine; the plugin's log
//! records are pulled, not pushed.

mod common;

use std::time::Duration;

use common::{answer_of, collect, plugin, Harness};
use openclaw_dingtalk_emulator::event::callback_headers;
use openclaw_skill_abi::{Chunk, OcStatus, Refusal};

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn pairs(headers: &[(String, String)]) -> Vec<(&str, &str)> {
    headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

fn refusal(r: Refusal) -> (u16, &'static str, String) {
    match r {
        Refusal::Callback {
            http_status,
            kind,
            reason,
        } => (http_status, kind, reason),
        Refusal::Plugin(e) => panic!("not a refusal: {e}"),
    }
}

#[test]
fn host_settings_are_resolved_by_the_plugin_without_secrets() {
    let h = Harness::start("v2-settings");
    let manifest = h
        .manifest()
        .set("ingress.mode", "http")
        .set("ingress.http.listen", "127.0.0.1:0")
        .set("ingress.http.path", "/钉钉/callback")
        .set("ingress.metrics_listen", "127.0.0.1:0")
        .to_yaml();
    let json = plugin()
        .host_settings(&manifest, &h.dir.join("robot.yaml"))
        .unwrap();
    let settings: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(settings["ingress"]["mode"], "http");
    assert_eq!(settings["ingress"]["http"]["path"], "/钉钉/callback");
    assert_eq!(settings["ingress"]["http"]["max_body_bytes"], 1 << 20);
    assert_eq!(settings["ingress"]["metrics_listen"], "127.0.0.1:0");
    let cfg = h.dingtalk.config();
    assert_eq!(settings["app_key"], cfg.app_key.as_str());
    assert!(settings["ingress"]["stream"]["open_url"]
        .as_str()
        .unwrap()
        .ends_with("/v1.0/gateway/connections/open"));
    assert!(
        !json.contains(&cfg.app_secret),
        "no secret in host settings"
    );

    let err = plugin()
        .host_settings("name: x\n", &h.dir.join("robot.yaml"))
        .unwrap_err();
    assert_eq!(err.status, OcStatus::CONFIG);
    assert!(
        err.message
            .starts_with(&format!("{}: ", h.dir.join("robot.yaml").display())),
        "{}",
        err.message
    );
}

#[test]
fn the_stream_open_request_carries_the_apps_credentials() {
    let h = Harness::start("v2-open");
    let skill = h.skill(&plugin());
    let body = skill.stream_open_request().unwrap();
    assert_eq!(
        format!("{body:?}"),
        "***",
        "the body is handed over as a secret"
    );
    let body: serde_json::Value = serde_json::from_str(body.expose()).unwrap();
    let cfg = h.dingtalk.config();
    assert_eq!(body["clientId"], cfg.app_key.as_str());
    assert_eq!(body["clientSecret"], cfg.app_secret.as_str());
    assert_eq!(
        body["subscriptions"][0]["topic"],
        "/v1.0/im/bot/messages/get"
    );
}

#[test]
fn a_signed_callback_is_answered_once_and_forgeries_and_replays_are_refused() {
    let h = Harness::start("v2-callback");
    let skill = h.skill(&plugin());
    let secret = h.dingtalk.config().app_secret.clone();
    let event = h.group_text("cidCallback", "你好，回调");

    let signed = callback_headers(&secret, now_ms());
    skill.verify_callback(pairs(&signed)).unwrap();
    let chunks = collect(skill.handle_callback(pairs(&signed), &event).unwrap());
    assert!(
        matches!(chunks.last(), Some(Ok(Chunk::Finished { .. }))),
        "{chunks:?}"
    );
    assert!(answer_of(&chunks).contains("你好，回调"));

    let (status, kind, _) = refusal(skill.verify_callback(pairs(&signed)).unwrap_err());
    assert_eq!((status, kind), (403, "replay"));
    let (status, kind, _) = refusal(
        skill
            .handle_callback(pairs(&signed), &event)
            .map(drop)
            .unwrap_err(),
    );
    assert_eq!((status, kind), (403, "replay"), "the same headers twice");

    let forged = callback_headers("另一个应用的 secret", now_ms());
    let (status, kind, reason) = refusal(skill.verify_callback(pairs(&forged)).unwrap_err());
    assert_eq!(
        (status, kind, reason.as_str()),
        (403, "bad_signature", "bad signature")
    );
    let stale = callback_headers(&secret, now_ms() - 2 * 3_600_000);
    let (status, kind, _) = refusal(skill.verify_callback(pairs(&stale)).unwrap_err());
    assert_eq!((status, kind), (403, "stale_timestamp"));
    let (status, kind, _) = refusal(skill.verify_callback([]).unwrap_err());
    assert_eq!((status, kind), (401, "missing_signature"));
}

#[test]
fn a_callback_the_skill_refuses_keeps_its_headers_usable() {
    let h = Harness::start("v2-callback-retry");
    let skill = h.skill(&plugin());
    let secret = h.dingtalk.config().app_secret.clone();
    let signed = callback_headers(&secret, now_ms());
    match skill.handle_callback(pairs(&signed), "not a robot message") {
        Err(Refusal::Plugin(e)) => assert_eq!(e.status, OcStatus::INVALID_ARGUMENT),
        other => panic!("{:?}", other.map(drop)),
    }
    let event = h.group_text("cidRetry", "再试一次");
    let chunks = collect(skill.handle_callback(pairs(&signed), &event).unwrap());
    assert!(matches!(chunks.last(), Some(Ok(Chunk::Finished { .. }))));
}

#[test]
fn log_records_wait_in_the_plugin_until_the_host_pulls_them() {
    let h = Harness::start("v2-logs");
    let plugin = plugin();
    plugin.set_log_level(log::LevelFilter::Info).unwrap();
    let skill = h.skill(&plugin);
    let chunks = collect(
        skill
            .handle_event(&h.group_text("cidLogs", "日志"))
            .unwrap(),
    );
    assert!(matches!(chunks.last(), Some(Ok(Chunk::Finished { .. }))));
    // No host thread forwards logs in this test binary: the records are still queued.
    let mut lines = Vec::new();
    while let Some(record) = plugin.next_log(Duration::from_millis(200)).unwrap() {
        lines.push(record.message);
        if lines
            .iter()
            .any(|l| l.starts_with("reply ") && l.contains("conv=cidLogs"))
        {
            break;
        }
    }
    assert!(
        lines.iter().any(|l| l.contains(" ready: gateway ")),
        "the start line was queued: {lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("reply ") && l.contains("outcome=finished")),
        "the reply line was queued: {lines:?}"
    );
    let info: serde_json::Value = serde_json::from_str(&skill.info().unwrap()).unwrap();
    assert_eq!(info["log_records_dropped"], 0);
}
