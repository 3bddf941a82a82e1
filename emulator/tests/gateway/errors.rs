use openclaw_dingtalk_emulator::gateway::{FakeGatewayConfig, RequestOutcome};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::Gw;

async fn error_of(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    assert_eq!(
        resp.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    (status, resp.json().await.unwrap())
}

fn invalid(message: &str) -> Value {
    json!({"error": {"message": message, "type": "invalid_request_error"}})
}

fn hi() -> Value {
    json!({"messages": [{"role": "user", "content": "hi"}]})
}

#[tokio::test]
async fn unauthorized_and_method_not_allowed() {
    let g = Gw::fast().await;
    let unauthorized = json!({"error": {"message": "Unauthorized", "type": "unauthorized"}});
    let resp = g.http.post(g.url()).json(&hi()).send().await.unwrap();
    assert_eq!(error_of(resp).await, (401, unauthorized.clone()));
    let resp = g
        .http
        .post(g.url())
        .bearer_auth("wrong")
        .json(&hi())
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(resp).await, (401, unauthorized));

    let resp = g
        .http
        .get(g.url())
        .bearer_auth("fake-gateway-token")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "POST");
    assert_eq!(resp.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(resp.text().await.unwrap(), "Method Not Allowed");

    let records = g.gw.requests();
    assert_eq!(
        records.iter().map(|r| r.status).collect::<Vec<_>>(),
        [401, 401, 405]
    );
    assert!(records
        .iter()
        .all(|r| r.outcome == RequestOutcome::Rejected));
    assert_eq!(records[1].headers["authorization"], "Bearer ***");
}

#[tokio::test]
async fn bad_requests_have_the_documented_messages() {
    let g = Gw::fast().await;
    let cases = [
        (
            json!({"model": "openclaw", "messages": [{"role": "system", "content": "only system"}]}),
            "Missing user message in `messages`.",
        ),
        (
            json!({"model": "openclaw"}),
            "Missing user message in `messages`.",
        ),
        (
            json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}),
            "Invalid `model`. Use `openclaw` or `openclaw/<agentId>`.",
        ),
        (
            json!({"model": "openclaw/nosuch", "messages": [{"role": "user", "content": "hi"}]}),
            "Unknown agent 'nosuch'.",
        ),
    ];
    for (body, message) in cases {
        let resp = g.post().json(&body).send().await.unwrap();
        assert_eq!(error_of(resp).await, (400, invalid(message)));
    }
    let resp = g
        .post()
        .header("x-openclaw-agent-id", "ghost")
        .json(&hi())
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(resp).await,
        (400, invalid("Unknown agent 'ghost'."))
    );
    for key in ["subagent:x", "cron:nightly", "acp:1"] {
        let resp = g
            .post()
            .header("x-openclaw-session-key", key)
            .json(&hi())
            .send()
            .await
            .unwrap();
        let expected =
            invalid("`x-openclaw-session-key` cannot use reserved internal session namespaces.");
        assert_eq!(error_of(resp).await, (400, expected));
    }
    let resp = g
        .post()
        .header("content-type", "application/json")
        .body("{bad")
        .send()
        .await
        .unwrap();
    let expected = invalid("Expected property name or '}' in JSON at position 1 (line 1 column 2)");
    assert_eq!(error_of(resp).await, (400, expected));
    let resp = g
        .post()
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(resp).await,
        (
            415,
            invalid("Unsupported Media Type. Expected application/json.")
        )
    );
}

#[tokio::test]
async fn every_documented_model_form_is_accepted_and_echoed() {
    let g = Gw::fast().await;
    for model in [
        "openclaw",
        "openclaw/default",
        "openclaw/main",
        "openclaw:main",
        "agent:main",
    ] {
        let body = json!({"model": model, "messages": [{"role": "user", "content": "TOKENS:1"}]});
        let v: Value = g
            .post()
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(v["model"], model);
    }
    let resp = g
        .post()
        .header("x-openclaw-agent-id", "main")
        .json(&hi())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn oversized_body_is_payload_too_large() {
    let g = Gw::start(FakeGatewayConfig::default()).await;
    let addr = g.gw.base_url().trim_start_matches("http://").to_string();
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer fake-gateway-token\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        20 * 1024 * 1024 + 1
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tcp.read_to_end(&mut raw).await.unwrap();
    let raw = String::from_utf8(raw).unwrap();
    assert!(
        raw.starts_with("HTTP/1.1 413 Payload Too Large\r\n"),
        "{raw}"
    );
    assert!(
        raw.ends_with(
            r#"{"error":{"message":"Payload too large","type":"invalid_request_error"}}"#
        ),
        "{raw}"
    );
}
