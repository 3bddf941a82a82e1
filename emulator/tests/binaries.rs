//! The two binaries: first stdout line, serving, clean exit on SIGTERM.

mod common;

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use serde_json::{json, Value};

/// Starts a binary and returns it with the URL from its first stdout line.
fn spawn(bin: &str, args: &[&str]) -> (Child, String) {
    let mut child = Command::new(bin)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("first stdout line");
    let url = line
        .trim_end()
        .strip_prefix("listening ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    (child, url)
}

/// Sends SIGTERM to the child (by its pid) and checks it exits cleanly.
fn terminate(mut child: Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    let exit = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("exits after SIGTERM")
        .unwrap();
    assert!(exit.success(), "{exit:?}");
}

#[tokio::test]
async fn dingtalk_emulator_binary_serves_until_sigterm() {
    let (child, url) = spawn(
        env!("CARGO_BIN_EXE_dingtalk-emulator"),
        &[
            "--listen",
            "127.0.0.1:0",
            "--app-key",
            "k",
            "--app-secret",
            "s",
            "--qps",
            "0",
        ],
    );
    let http = common::client();
    let resp = http
        .post(format!("{url}/v1.0/oauth2/accessToken"))
        .json(&json!({"appKey": "k", "appSecret": "s"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let calls: Vec<Value> = http
        .get(format!("{url}/__emulator/calls"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(calls.len(), 1);
    terminate(child);
}

#[tokio::test]
async fn dingtalk_emulator_binary_takes_the_limit_flags() {
    let (child, url) = spawn(
        env!("CARGO_BIN_EXE_dingtalk-emulator"),
        &[
            "--app-key",
            "k",
            "--app-secret",
            "s",
            "--max-card-value-bytes",
            "5",
            "--applied-timeout-every",
            "2",
            "--monthly-call-quota",
            "2",
        ],
    );
    let http = common::client();
    let token: Value = http
        .post(format!("{url}/v1.0/oauth2/accessToken"))
        .json(&json!({"appKey": "k", "appSecret": "s"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["accessToken"].as_str().unwrap().to_string();
    let create = |id: &str, content: &str| {
        http.post(format!("{url}/v1.0/card/instances/createAndDeliver"))
            .header("x-acs-dingtalk-access-token", &token)
            .json(
                &json!({"cardTemplateId": "emulator-ai-card.schema", "outTrackId": id,
                          "cardData": {"cardParamMap": {"content": content}},
                          "openSpaceId": "dtv1.card//IM_ROBOT.u1"}),
            )
            .send()
    };
    let too_large: Value = create("a", "中中").await.unwrap().json().await.unwrap();
    assert_eq!(too_large["code"], "param.cardParamMapValueTooLarge");
    assert_eq!(create("b", "中").await.unwrap().status(), 504);
    let over: Value = create("c", "中").await.unwrap().json().await.unwrap();
    assert_eq!(over["code"], "Forbidden.AccessDenied.ApiCountLimitForOrg");
    let applied: Vec<u64> = http
        .get(format!("{url}/__emulator/applied-timeouts"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(applied, [3], "the second card call (seq 3) was applied");
    terminate(child);
}

#[tokio::test]
async fn fake_gateway_binary_serves_until_sigterm() {
    let (child, url) = spawn(
        env!("CARGO_BIN_EXE_fake-gateway"),
        &[
            "--mode",
            "upstream",
            "--no-auth",
            "--token-interval-ms",
            "1",
        ],
    );
    let body = json!({"model": "fake-model", "stream": true, "messages": [{"role": "user", "content": "TOKENS:2"}]});
    let text = common::client()
        .post(format!("{url}/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains(r#""content":"t2 ""#) && text.ends_with("data: [DONE]\n\n"));
    terminate(child);
}

#[tokio::test]
async fn dingtalk_emulator_binary_serves_stream_mode_with_its_flags() {
    use futures_util::StreamExt;
    let (child, url) = spawn(
        env!("CARGO_BIN_EXE_dingtalk-emulator"),
        &[
            "--app-key",
            "k",
            "--app-secret",
            "s",
            "--stream-ping-interval-ms",
            "50",
            "--stream-disconnect-every-ms",
            "0",
            "--stream-disconnect-grace-ms",
            "100",
            "--stream-redelivery-ms",
            "0",
            "--stream-ticket-ttl-secs",
            "90",
        ],
    );
    let open: Value = common::client()
        .post(format!("{url}/v1.0/gateway/connections/open"))
        .json(&json!({"clientId": "k", "clientSecret": "s",
                      "subscriptions": [{"type": "CALLBACK", "topic": "/v1.0/im/bot/messages/get"}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ws_url = format!(
        "{}?ticket={}",
        open["endpoint"].as_str().unwrap(),
        open["ticket"].as_str().unwrap()
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url)
        .await
        .expect("handshake");
    let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .expect("a ping within the interval")
        .expect("open")
        .expect("frame");
    let frame: Value = serde_json::from_str(frame.to_text().unwrap()).unwrap();
    assert_eq!(frame["headers"]["topic"], "ping");
    terminate(child);
}
