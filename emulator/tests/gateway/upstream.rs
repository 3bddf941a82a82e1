use std::time::Duration;

use openclaw_dingtalk_emulator::gateway::{
    FakeGatewayConfig, GatewayMode, GatewayRequest, RequestOutcome,
};
use serde_json::{json, Value};

use crate::{common::WAIT, content, json_events, Gw};

async fn upstream(token: Option<&str>, record: Option<std::path::PathBuf>) -> Gw {
    Gw::start(FakeGatewayConfig {
        mode: GatewayMode::Upstream,
        token: token.map(String::from),
        token_interval: Duration::from_millis(1),
        record_path: record,
        ..FakeGatewayConfig::default()
    })
    .await
}

/// What the real gateway sends upstream (docs/gateway.md, "Upstream requests").
fn gateway_like(text: &str, history: bool) -> Value {
    let mut messages = vec![json!({"role": "system", "content": "agent prompt"})];
    if history {
        messages.push(json!({"role": "user", "content": "[Tue 2026-11-24 18:05 UTC] earlier"}));
        messages.push(json!({"role": "assistant", "content": "answer"}));
    }
    messages.push(json!({"role": "user", "content": format!("[Tue 2026-11-24 18:06 UTC] {text}\n\nRuntime: agent=main | session=s | channel=dingtalk")}));
    messages
        .push(json!({"role": "user", "content": "<<<BEGIN_OPENCLAW_INTERNAL_CONTEXT>>>\ncontext"}));
    json!({"model": "fake-model", "messages": messages, "stream": true, "stream_options": {"include_usage": true},
           "tool_choice": "auto", "max_completion_tokens": 1024})
}

#[tokio::test]
async fn upstream_stream_shape() {
    let g = upstream(None, None).await;
    let text = g
        .http
        .post(g.url())
        .json(&gateway_like("hello there", true))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let ev = json_events(&text);
    assert_eq!(
        ev[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": ""})
    );
    assert_eq!(ev[0]["model"], "fake-model");
    assert_eq!(
        content(&text),
        "Hello from the fake gateway. You said: hello there. Turn 2."
    );
    assert_eq!(
        ev.last().unwrap()["choices"],
        json!([]),
        "usage chunk always"
    );
    assert!(ev.last().unwrap()["usage"]["total_tokens"]
        .as_u64()
        .is_some());
    assert!(text.ends_with("data: [DONE]\n\n"));
}

#[tokio::test]
async fn upstream_failures_and_auth() {
    let g = upstream(Some("sk-fake-local"), None).await;
    let post = |body: Value| {
        g.http
            .post(g.url())
            .bearer_auth("sk-fake-local")
            .json(&body)
            .send()
    };
    let resp = post(gateway_like("FAIL500", false)).await.unwrap();
    assert_eq!(resp.status(), 500);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["type"],
        "server_error"
    );
    let resp = post(gateway_like("x FAIL401", false)).await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["message"],
        "bad upstream key"
    );

    let mut resp = post(gateway_like("FAILMID", false)).await.unwrap();
    let mut text = String::new();
    let mut failed = false;
    for _ in 0..100 {
        match resp.chunk().await {
            Ok(Some(b)) => text.push_str(&String::from_utf8_lossy(&b)),
            Ok(None) => break,
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    assert!(failed && !text.contains("[DONE]"));
    assert_eq!(content(&text), "Hello from");

    let unauthorized = g
        .http
        .post(g.url())
        .json(&gateway_like("hi", false))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.status(), 401);
    assert_eq!(
        unauthorized.json::<Value>().await.unwrap()["error"]["code"],
        "invalid_api_key"
    );
}

#[tokio::test]
async fn triggers_are_found_in_the_internal_context_message_and_requests_are_recorded() {
    let dir = std::env::temp_dir().join(format!("fake-gateway-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("requests.jsonl");
    let _ = std::fs::remove_file(&path);
    let g = upstream(None, Some(path.clone())).await;
    let mut body = gateway_like("plain", false);
    body["messages"][2]["content"] = json!("<<<BEGIN_OPENCLAW_INTERNAL_CONTEXT>>>\nTOKENS:2");
    let text = g
        .http
        .post(g.url())
        .json(&body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(content(&text), "t1 t2 ");
    assert!(
        g.gw.wait_for(
            |r| r.len() == 1 && r[0].outcome == RequestOutcome::Completed,
            WAIT
        )
        .await
    );
    let lines: Vec<GatewayRequest> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].body["model"], "fake-model");
    let _ = std::fs::remove_dir_all(dir);
}
