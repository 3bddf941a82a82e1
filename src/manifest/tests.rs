use std::path::Path;

use super::*;

const EXAMPLE: &str = include_str!("../../openclaw-skill.yaml");

fn env(name: &str) -> Option<String> {
    match name {
        "OPENCLAW_GATEWAY_URL" => Some("http://127.0.0.1:18789".into()),
        "OPENCLAW_API_KEY" => Some("gw-secret-token".into()),
        "DINGTALK_APP_KEY" => Some("dingappkey".into()),
        "DINGTALK_APP_SECRET" => Some("very-secret".into()),
        "DINGTALK_ROBOT_CODE" => Some("dingrobot".into()),
        _ => None,
    }
}

fn load(text: &str) -> Result<Manifest, ManifestError> {
    Manifest::load_with(text, Path::new("/srv/bot"), env)
}

#[test]
fn the_example_manifest_loads_with_documented_defaults() {
    let m = load(EXAMPLE).unwrap();
    assert_eq!(m.name, "dingtalk-bot");
    assert_eq!(m.version, "1.0");
    assert_eq!(m.apps[0].app_key, "dingappkey");
    assert_eq!(m.apps[0].app_secret.expose(), "very-secret");
    assert!(m.streaming.enabled);
    assert_eq!(m.streaming.card_update_interval_ms, 300);
    assert_eq!(m.apps[0].api_qps, 20);
    assert_eq!(m.gateway.model, "openclaw/main");
    assert_eq!(m.gateway.idle_timeout_ms, 120_000);
    assert_eq!(m.state_dir(), Path::new("/srv/bot/.openclaw-dingtalk"));
}

#[test]
fn secrets_are_redacted_in_debug_and_summary() {
    let m = load(EXAMPLE).unwrap();
    let shown = format!("{m:?} {}", m.summary());
    assert!(!shown.contains("very-secret"), "{shown}");
    assert!(!shown.contains("gw-secret-token"), "{shown}");
    assert!(shown.contains("***"));
}

#[test]
fn an_unset_variable_is_named_with_key_and_line() {
    let err = Manifest::load_with(EXAMPLE, Path::new("."), |n| {
        if n == "DINGTALK_APP_SECRET" {
            None
        } else {
            env(n)
        }
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("DINGTALK_APP_SECRET is not set"), "{err}");
    assert!(err.contains("dingtalk.app_secret (line "), "{err}");
}

const MINIMAL: &str = "name: b\nversion: \"1\"\ngateway:\n  endpoint: http://127.0.0.1:1\ndingtalk:\n  app_key: k\n  app_secret: s\n";

#[test]
fn an_unknown_key_is_an_error_with_its_line() {
    let err = load(&format!(
        "{MINIMAL}streaming:\n  card_update_intervall_ms: 5\n"
    ))
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("unknown field `card_update_intervall_ms`"),
        "{err}"
    );
    assert!(err.contains("line 9"), "{err}");
}

#[test]
fn a_wrong_type_is_an_error_naming_the_key() {
    let err = load(&format!(
        "{MINIMAL}streaming:\n  card_update_interval_ms: soon\n"
    ))
    .unwrap_err()
    .to_string();
    assert!(err.contains("streaming.card_update_interval_ms"), "{err}");
    assert!(err.contains("line 9"), "{err}");
}

#[test]
fn an_out_of_range_value_names_the_key_and_line() {
    let err = load(&format!(
        "{MINIMAL}streaming:\n  card_update_interval_ms: 5\n"
    ))
    .unwrap_err()
    .to_string();
    assert_eq!(
        err,
        "streaming.card_update_interval_ms (line 9): 5 is out of range (100..=60000)"
    );
    let err = load(&format!("{MINIMAL}  api_qps: 0\n"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("dingtalk.api_qps (line 8)"), "{err}");
}

#[test]
fn a_missing_required_key_is_named() {
    let err = load("name: b\nversion: \"1\"\ngateway:\n  endpoint: http://x\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("dingtalk: missing: give the DingTalk app"),
        "{err}"
    );
}

#[test]
fn a_bad_endpoint_is_refused() {
    let err = load(&MINIMAL.replace("http://127.0.0.1:1", "ftp://x"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("gateway.endpoint (line 4)"), "{err}");
}

#[test]
fn robot_code_defaults_to_the_app_key() {
    assert_eq!(load(MINIMAL).unwrap().apps[0].robot_code, "k");
}

#[test]
fn numeric_and_keyword_looking_values_stay_strings_for_string_keys() {
    for value in ["123456", "1.0", "true", "0x1F", "yes"] {
        let text = "name: b\nversion: \"1\"\ngateway:\n  endpoint: http://127.0.0.1:1\ndingtalk:\n  app_key: ${K}\n  app_secret: ${K}\n";
        let m = Manifest::load_with(text, Path::new("."), |_| Some(value.to_owned()))
            .unwrap_or_else(|e| panic!("{value}: {e}"));
        assert_eq!(m.apps[0].app_key, value);
        assert_eq!(m.apps[0].app_secret.expose(), value);
    }
}

#[test]
fn the_shipped_manifest_without_environment_names_all_four_variables_at_once() {
    let err = Manifest::load_with(EXAMPLE, Path::new("."), |_| None).unwrap_err();
    let lines: Vec<String> = err.problems.iter().map(ToString::to_string).collect();
    assert_eq!(lines.len(), 4, "one problem per unset variable: {lines:#?}");
    for (variable, key) in [
        ("OPENCLAW_GATEWAY_URL", "gateway.endpoint"),
        ("OPENCLAW_API_KEY", "gateway.auth_token"),
        ("DINGTALK_APP_KEY", "dingtalk.app_key"),
        ("DINGTALK_APP_SECRET", "dingtalk.app_secret"),
    ] {
        let line = openclaw_skill_abi::manifest_text::line_of_key(EXAMPLE, key).unwrap();
        assert!(
            lines.contains(&format!(
                "{key} (line {line}): environment variable {variable} is not set"
            )),
            "{variable}: {lines:#?}"
        );
    }
}

#[test]
fn every_problem_of_a_manifest_is_reported_in_one_pass() {
    let text = "name: 客服机器人\nversion: \"1\"\ngateway:\n  endpoint: https://gw.internal/v1/chat/completions\n  retry_count: 3\ndingtalk:\n  app_key: k\n  app_secret: s\n  api_qps: lots\nstreaming:\n  card_update_interval_ms: 5\n  colour: blue\nconversation:\n  access:\n    policy: allowlist\ningress:\n  http:\n    listen: localhost:99999\n  metrics_listen: nope\n";
    let err = load(text).unwrap_err();
    let shown = err.to_string();
    for (key, line, says) in [
        ("gateway.retry_count", 5, "unknown field"),
        ("dingtalk.api_qps", 9, "invalid type"),
        ("streaming.colour", 12, "unknown field"),
        ("gateway.endpoint", 4, "without `/v1/chat/completions`"),
        ("streaming.card_update_interval_ms", 11, "out of range"),
        ("conversation.access.policy", 15, "admits nobody"),
        ("ingress.http.listen", 18, "not a listen address"),
        ("ingress.metrics_listen", 19, "not a listen address"),
    ] {
        assert!(
            err.problems.iter().any(|p| p.key.as_deref() == Some(key)
                && p.line == Some(line)
                && p.message.contains(says)),
            "{key} (line {line}) {says}:\n{shown}"
        );
    }
    assert_eq!(err.problems.len(), 8, "{shown}");
}

#[test]
fn the_example_placeholder_endpoint_is_refused() {
    let err = load(&MINIMAL.replace(
        "http://127.0.0.1:1",
        "https://your-openclaw-gateway.example.com",
    ))
    .unwrap_err()
    .to_string();
    assert!(err.contains("gateway.endpoint (line 4): `your-openclaw-gateway.example.com` is the example's placeholder"), "{err}");
}

#[test]
fn an_unwritable_state_dir_is_reported_by_the_environment_check() {
    let m = Manifest::load_with(
        &format!("{MINIMAL}state_dir: /proc/openclaw-状态\n"),
        Path::new("."),
        |_| None,
    )
    .unwrap();
    let problems = m.check_environment(&format!("{MINIMAL}state_dir: /proc/openclaw-状态\n"));
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].key.as_deref(), Some("state_dir"));
    assert!(
        problems[0].message.contains("not a writable directory"),
        "{problems:?}"
    );
}

#[test]
fn attachments_work_out_of_the_box() {
    let a = load(MINIMAL).unwrap().attachments;
    assert!(a.images && a.files);
    assert_eq!(a.max_download_bytes, 20 * 1024 * 1024);
    assert_eq!(a.download_timeout_ms, 15_000);
    assert_eq!(a.max_image_bytes, 5 * 1024 * 1024);
    assert_eq!(a.max_file_text_bytes, 64 * 1024);
    let m = load(&format!("{MINIMAL}attachments:\n  images: false\n")).unwrap();
    assert!(!m.attachments.images && m.attachments.files);
    assert_eq!(m.summary()["attachments"]["images"], false);
}

#[test]
fn bad_attachment_limits_are_named_with_key_and_line() {
    let text = format!(
        "{MINIMAL}attachments:\n  images: 可以\n  max_download_bytes: 2048\n  download_timeout_ms: 50\n  max_image_bytes: 4096\n  max_file_text_bytes: 0\n  pdf: true\n"
    );
    let err = load(&text).unwrap_err();
    let shown = err.to_string();
    for (key, line, says) in [
        ("attachments.images", 9, "invalid type"),
        ("attachments.pdf", 14, "unknown field"),
        (
            "attachments.download_timeout_ms",
            11,
            "50 is out of range (1000..=300000)",
        ),
        (
            "attachments.max_file_text_bytes",
            13,
            "0 is out of range (1024..=1048576)",
        ),
        (
            "attachments.max_image_bytes",
            12,
            "exceeds attachments.max_download_bytes (2048)",
        ),
    ] {
        assert!(
            err.problems.iter().any(|p| p.key.as_deref() == Some(key)
                && p.line == Some(line)
                && p.message.contains(says)),
            "{key} (line {line}) {says}:\n{shown}"
        );
    }
    assert_eq!(err.problems.len(), 5, "{shown}");
}

#[test]
fn a_card_callback_url_that_is_not_a_url_names_the_key_and_line() {
    let text = format!(
        "{MINIMAL}ingress:\n  mode: http\n  http:\n    card_callback_url: 机器人回调地址\n"
    );
    let err = load(&text).unwrap_err().to_string();
    assert!(
        err.contains("ingress.http.card_callback_url (line "),
        "{err}"
    );
    assert!(err.contains("public http:// or https:// URL"), "{err}");
}

#[test]
fn an_unknown_stop_button_style_is_refused_with_the_choices() {
    let text = MINIMAL.replace("dingtalk:\n", "dingtalk:\n  card_stop_button: 红色按钮\n");
    let err = load(&text).unwrap_err().to_string();
    assert!(err.contains("dingtalk.card_stop_button"), "{err}");
    assert!(err.contains("msg_buttons"), "{err}");
}

#[test]
fn routes_load_in_order_with_their_conditions() {
    let text = format!(
        "{MINIMAL}routes:\n  - name: hr\n    match:\n      keyword: /hr\n    model: openclaw/hr\n    preamble: 你是人事助手。\n  - name: oncall\n    match:\n      chat: group\n      conversations: [cid-值班群]\n    model: agent:oncall\n"
    );
    let m = load(&text).unwrap();
    assert_eq!(m.routes.len(), 2);
    assert_eq!(m.routes[0].when.keyword.as_deref(), Some("/hr"));
    assert_eq!(m.routes[1].when.chat, Some(ChatKind::Group));
    assert_eq!(m.summary()["routes"][1]["model"], "agent:oncall");
}

#[test]
fn malformed_and_unreachable_routes_are_reported_with_their_item_and_line() {
    let text = format!(
        "{MINIMAL}routes:\n  - name: all\n    model: openclaw/general\n  - name: hr\n    match:\n      keyword: /hr\n    model: gpt-4\n  - name: hr\n    match:\n      senders: []\n  - name: 别的应用\n    match:\n      apps: [dingother]\n      keyword: 人 事\n"
    );
    let err = load(&text).unwrap_err().to_string();
    for expected in [
        "routes[1] (line 11): route `hr` can never match: routes[0] (`all`)",
        "routes[1].model (line 14): must name an OpenClaw agent target",
        "routes[2].name (line 15): `hr` is the name of an earlier route",
        "routes[2].match.senders (line 17): is an empty list",
        "routes[3].match.keyword (line 21): `人 事` must be one word",
        "routes[3].match.apps (line 20): `dingother` is no app of this manifest (apps: default)",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in\n{err}");
    }
}

#[test]
fn a_stand_up_schedule_loads_with_its_defaults() {
    let text = format!(
        "{MINIMAL}schedules:\n  - name: standup\n    cron: \"30 9 * * 1-5\"\n    groups: [cid研发群==]\n    prompt: 整理今天的站会\n    collect:\n      tag: \"#standup\"\n"
    );
    let m = load(&text).unwrap();
    let s = &m.schedules[0];
    assert_eq!(s.time_zone, "Asia/Shanghai");
    assert_eq!(s.catch_up_secs, 900);
    let collect = s.collect.as_ref().unwrap();
    assert_eq!(collect.when_empty, WhenEmpty::Note);
    assert_eq!(collect.max_messages, 200);
    assert_eq!(m.summary()["schedules"][0]["collect_tag"], "#standup");
}

#[test]
fn bad_schedules_are_reported_with_their_item_key_and_line() {
    let text = format!(
        "{MINIMAL}schedules:\n  - name: 早会\n    cron: 每天九点\n    time_zone: Beijing\n    prompt: 总结\n    route: 人事\n  - name: 早会\n    cron: \"0 9 * * *\"\n    groups: [cid1]\n    users: [u1]\n    prompt: \" \"\n    collect:\n      tag: \"# standup\"\n"
    );
    let err = load(&text).unwrap_err().to_string();
    for expected in [
        "schedules[0].cron (line 10): `每天九点` is not a cron pattern",
        "schedules[0].time_zone (line 11): `Beijing` is not an IANA time zone",
        "schedules[0] (line 9): schedule `早会` posts nowhere",
        "schedules[0].route (line 13): no route is named `人事` (routes: default)",
        "schedules[1].name (line 14): `早会` is the name of an earlier schedule",
        "schedules[1].prompt (line 18): must not be empty",
        "schedules[1].collect.tag (line 20): `# standup` must be one word",
        "schedules[1].collect (line 19): collects the messages of its groups",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in\n{err}");
    }
}

#[test]
fn with_several_apps_a_schedule_names_an_app_of_the_manifest() {
    let text = "name: b\nversion: \"1\"\ngateway:\n  endpoint: http://127.0.0.1:1\napps:\n  - name: hr\n    app_key: k1\n    app_secret: s\n  - name: it\n    app_key: k2\n    app_secret: s\nschedules:\n  - name: 早会\n    cron: \"0 9 * * *\"\n    groups: [cid1]\n    prompt: 总结\n  - name: 周报\n    app: 人事\n    cron: \"0 9 * * 5\"\n    groups: [cid1]\n    prompt: 总结\n";
    let err = load(text).unwrap_err().to_string();
    for expected in [
        "schedules[0].app (line 13): is required with several apps: name the app whose robot posts (apps: hr, it)",
        "schedules[1].app (line 18): `人事` is no app of this manifest (apps: hr, it)",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in\n{err}");
    }
}

#[test]
fn shared_state_is_a_redis_url_or_a_mapping_and_its_problems_are_named() {
    let short = load(&format!(
        "{MINIMAL}shared_state: redis://:口令@127.0.0.1:6379/0\n"
    ))
    .unwrap();
    let shared = short.shared_state.as_ref().unwrap();
    assert_eq!(
        (
            shared.expected_hosts,
            shared.key_prefix.as_str(),
            shared.lease_ms
        ),
        (2, "openclaw-dingtalk", 15_000)
    );
    let summary = short.summary().to_string();
    assert!(
        summary.contains("redis://***@127.0.0.1:6379/0"),
        "{summary}"
    );
    assert!(!summary.contains("口令"), "{summary}");

    let full = load(&format!(
        "{MINIMAL}shared_state:\n  url: rediss://redis.internal:6380\n  expected_hosts: 3\n  lease_ms: 5000\n"
    ))
    .unwrap();
    assert_eq!(full.shared_state.unwrap().expected_hosts, 3);

    let err = load(&format!(
        "{MINIMAL}shared_state:\n  url: http://127.0.0.1:6379\n  expected_hosts: 0\n  lease_ms: 10\n  key_prefix: 两 个\n"
    ))
    .unwrap_err()
    .to_string();
    for expected in [
        "shared_state.url (line 9): must be a redis:// or rediss:// URL",
        "shared_state.expected_hosts (line 10): 0 is out of range (1..=64)",
        "shared_state.lease_ms (line 11): 10 is out of range",
        "shared_state.key_prefix (line 12): must be one word",
    ] {
        assert!(err.contains(expected), "{expected} in {err}");
    }
    let err = load(&format!(
        "{MINIMAL}shared_state:\n  url: redis://h:1\n  colour: 红\n"
    ))
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("shared_state") && err.contains("colour"),
        "{err}"
    );
}
