use std::time::Duration;

use openclaw_dingtalk_emulator::gateway::{FakeGatewayConfig, RequestOutcome, ScriptedFailure};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{common::WAIT, content, events, json_events, Gw};

#[tokio::test]
async fn success_stream_has_the_captured_shape() {
    let g = Gw::fast().await;
    let body = json!({"model": "openclaw/default", "stream": true, "user": "dingtalk:conv-42", "messages": [{"role": "user", "content": " hi "}]});
    let resp = g.post().json(&body).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let h = resp.headers().clone();
    assert_eq!(h["content-type"], "text/event-stream; charset=utf-8");
    assert_eq!(h["cache-control"], "no-cache");
    assert_eq!(h["transfer-encoding"], "chunked");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(h.get("content-length").is_none());
    let text = resp.text().await.unwrap();
    assert!(text.ends_with("data: [DONE]\n\n"));
    let ev = json_events(&text);
    let role = &ev[0];
    assert_eq!(
        role["choices"][0]["delta"],
        json!({"role": "assistant"}),
        "the role chunk has no content key"
    );
    assert_eq!(role["choices"][0]["finish_reason"], Value::Null);
    assert_eq!(role["object"], "chat.completion.chunk");
    assert_eq!(role["model"], "openclaw/default", "model echoed verbatim");
    let id = role["id"].as_str().unwrap();
    assert!(
        id.starts_with("chatcmpl_") && id.len() == "chatcmpl_".len() + 36,
        "{id}"
    );
    assert!(ev.iter().all(|e| e["id"] == id));
    assert_eq!(
        content(&text),
        "Hello from the fake gateway. You said: hi. Turn 1."
    );
    let last = ev.last().unwrap();
    assert_eq!(
        (
            last["choices"][0]["delta"].clone(),
            last["choices"][0]["finish_reason"].as_str()
        ),
        (json!({}), Some("stop"))
    );
    assert!(
        ev.iter().all(|e| e.get("usage").is_none()),
        "no usage chunk unless requested"
    );
    assert!(
        events(&text)[1..ev.len() - 1]
            .iter()
            .all(|e| e.contains("\"content\"")),
        "one chunk per token"
    );

    assert!(
        g.gw.wait_for(|r| r[0].outcome == RequestOutcome::Completed, WAIT)
            .await
    );
    let record = &g.gw.requests()[0];
    assert_eq!(record.status, 200);
    assert_eq!(
        record.session_key.as_deref(),
        Some("agent:main:openai-user:dingtalk:conv-42")
    );
    assert_eq!(record.headers["authorization"], "Bearer ***");
    let tokens: String = record
        .emitted_tokens
        .iter()
        .map(|(_, t)| t.as_str())
        .collect();
    assert_eq!(tokens, content(&text));
}

#[tokio::test]
async fn raw_response_head_is_title_case_and_chunked() {
    let g = Gw::fast().await;
    let addr = g.gw.base_url().trim_start_matches("http://").to_string();
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let body = r#"{"stream":true,"messages":[{"role":"user","content":"TOKENS:1"}]}"#;
    let request = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer fake-gateway-token\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut raw = String::new();
    tcp.read_to_string(&mut raw).await.unwrap();
    let (head, chunks) = raw.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    for line in [
        "Content-Type: text/event-stream; charset=utf-8",
        "Cache-Control: no-cache",
        "Transfer-Encoding: chunked",
        "Permissions-Policy: camera=(), microphone=(self), geolocation=()",
    ] {
        assert!(head.contains(line), "{line} in {head}");
    }
    // Chunk sizes are hex (hyper writes upper case, Node lower case; both are valid HTTP).
    let chunks = chunks.to_ascii_lowercase();
    assert!(
        chunks.ends_with("\r\ne\r\ndata: [done]\n\n\r\n0\r\n\r\n"),
        "each event is its own chunk: {chunks:?}"
    );
}

#[tokio::test]
async fn usage_chunk_only_when_requested() {
    let g = Gw::fast().await;
    let body = json!({"model": "openclaw", "stream": true, "stream_options": {"include_usage": true}, "messages": [{"role": "user", "content": "TOKENS:4"}]});
    let text = g
        .post()
        .json(&body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let ev = json_events(&text);
    let usage = ev.last().unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["completion_tokens"], 4);
    let u = &usage["usage"];
    assert_eq!(
        u["total_tokens"].as_u64(),
        Some(u["prompt_tokens"].as_u64().unwrap() + 4)
    );
    assert_eq!(
        ev[ev.len() - 2]["choices"][0]["finish_reason"],
        "stop",
        "usage comes after the finish chunk"
    );
    assert_eq!(content(&text), "t1 t2 t3 t4 ");
}

#[tokio::test]
async fn scripted_content_reasoning_and_pace() {
    let g = Gw::fast().await;
    let text = g.ask("a", "REASON please").await;
    let ev = json_events(&text);
    let reasoning: Vec<&Value> = ev
        .iter()
        .filter(|e| e.pointer("/choices/0/delta/reasoning_content").is_some())
        .collect();
    assert_eq!(reasoning.len(), 3);
    let first_content = ev
        .iter()
        .position(|e| e.pointer("/choices/0/delta/content").is_some())
        .unwrap();
    assert!(first_content > 3, "reasoning comes first");

    let long = content(&g.ask("b", "LONG:500").await);
    assert_eq!(long.chars().count(), 500);
    assert!(long.contains("| 列 | Column |") && long.contains("```rust"));

    g.ask("c", "PACE:30 TOKENS:3").await;
    let record = g.gw.requests().pop().unwrap();
    let times: Vec<u64> = record.emitted_tokens.iter().map(|(t, _)| *t).collect();
    assert_eq!(times.len(), 3);
    // Paced on a schedule from the request: token i comes no earlier than (i + 1) × PACE after
    // it (a late token does not push the later ones back, so the answer keeps its length).
    for (i, t) in times.iter().enumerate() {
        assert!(
            *t + 1 >= record.at_ms + 30 * (i as u64 + 1),
            "paced: request at {} ms, tokens at {times:?}",
            record.at_ms
        );
    }
}

#[tokio::test]
async fn fail500_is_an_in_stream_error_after_silence() {
    let g = Gw::fast().await;
    let started = std::time::Instant::now();
    let text = g.ask("f", "trigger FAIL500").await;
    assert!(
        started.elapsed() >= Duration::from_millis(50),
        "failure_silence"
    );
    let ev = events(&text);
    assert_eq!(ev.len(), 3);
    assert!(ev[0].contains(r#""delta":{"role":"assistant"}"#));
    assert_eq!(
        ev[1],
        r#"{"error":{"message":"upstream provider error","type":"api_error"}}"#
    );
    assert_eq!(ev[2], "[DONE]");
    assert!(
        g.gw.wait_for(
            |r| r[0].outcome == RequestOutcome::FailedInStream("upstream provider error".into()),
            WAIT
        )
        .await
    );
    assert_eq!(g.gw.requests()[0].status, 200);
}

#[tokio::test]
async fn failmid_and_fail401() {
    let g = Gw::fast().await;
    let text = g.ask("m", "FAILMID").await;
    let ev = events(&text);
    assert_eq!(ev.len(), 5);
    assert_eq!(content(&text), "Hello from");
    assert_eq!(
        ev[3],
        r#"{"error":{"message":"upstream provider timeout","type":"api_error"}}"#
    );

    let text = g.ask("k", "FAIL401").await;
    assert_eq!(
        events(&text)[1],
        r#"{"error":{"message":"401 bad upstream key","type":"authentication_error"}}"#
    );
    let text = g.ask("k2", "an innocent question").await;
    assert!(
        events(&text)[1].contains("is temporarily disabled after a provider auth/billing failure"),
        "the key stays disabled for a minute"
    );

    let g = Gw::start(FakeGatewayConfig {
        upstream_key_cooldown: Duration::ZERO,
        token_interval: Duration::from_millis(1),
        ..FakeGatewayConfig::default()
    })
    .await;
    g.ask("k", "FAIL401").await;
    assert!(
        content(&g.ask("k2", "fine").await).ends_with("Turn 1."),
        "no cooldown when it is zero"
    );
}

#[tokio::test]
async fn cut_closes_the_connection_without_done() {
    let g = Gw::fast().await;
    let body = json!({"stream": true, "messages": [{"role": "user", "content": "CUT"}]});
    let mut resp = g.post().json(&body).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let mut received = Vec::new();
    let mut failed = false;
    for _ in 0..100 {
        match resp.chunk().await {
            Ok(Some(bytes)) => received.extend_from_slice(&bytes),
            Ok(None) => break,
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    assert!(
        failed,
        "the body ends with a transport error, not a clean end"
    );
    let text = String::from_utf8(received).unwrap();
    assert!(!text.contains("[DONE]"));
    assert_eq!(content(&text), "Hello from");
    assert!(
        g.gw.wait_for(
            |r| r[0].outcome == RequestOutcome::FailedInStream("connection cut".into()),
            WAIT
        )
        .await
    );
}

#[tokio::test]
async fn non_streaming_gets_the_completion_json() {
    let g = Gw::fast().await;
    let body = json!({"model": "openclaw:main", "messages": [{"role": "user", "content": "hi"}]});
    let resp = g.post().json(&body).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "openclaw:main");
    assert_eq!(
        v["choices"][0]["message"],
        json!({"role": "assistant", "content": "Hello from the fake gateway. You said: hi. Turn 1."})
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert!(v["usage"]["total_tokens"].as_u64().unwrap() > 0);

    let fail = json!({"messages": [{"role": "user", "content": "FAIL500"}]});
    let resp = g.post().json(&fail).send().await.unwrap();
    assert_eq!(resp.status(), 502);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"error": {"message": "upstream provider error", "type": "api_error"}})
    );
}

/// Streams one request; returns the bytes received and whether the body ended with a transport error.
async fn stream_until_end(g: &Gw, text: &str) -> (String, bool) {
    let body = json!({"stream": true, "user": "dingtalk:一次性故障", "messages": [{"role": "user", "content": text}]});
    let mut resp = g.post().json(&body).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let mut received = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(bytes)) => received.extend_from_slice(&bytes),
            Ok(None) => return (String::from_utf8(received).unwrap(), false),
            Err(_) => return (String::from_utf8(received).unwrap(), true),
        }
    }
}

#[tokio::test]
async fn fail_next_cuts_one_request_whatever_its_text() {
    let g = Gw::fast().await;
    g.gw.fail_next(ScriptedFailure::Cut);
    let (text, failed) = stream_until_end(&g, "你好").await;
    assert!(failed, "cut mid-stream, as with the CUT trigger");
    assert!(!text.contains("[DONE]"));
    assert_eq!(content(&text), "Hello from");
    assert!(
        g.gw.wait_for(
            |r| r.first().is_some_and(
                |r| r.outcome == RequestOutcome::FailedInStream("connection cut".into())
            ),
            WAIT
        )
        .await
    );

    let (text, failed) = stream_until_end(&g, "再问一次").await;
    assert!(!failed && text.ends_with("data: [DONE]\n\n"));
    assert!(
        content(&text).ends_with("You said: 再问一次. Turn 1."),
        "the next request is answered normally: {text}"
    );
}

#[tokio::test]
async fn fail_next_queues_one_failure_per_call_in_order() {
    let g = Gw::fast().await;
    g.gw.fail_next(ScriptedFailure::Fail500);
    g.gw.fail_next(ScriptedFailure::FailMid);
    let mut errors = Vec::new();
    for _ in 0..2 {
        let (text, failed) = stream_until_end(&g, "普通的问题").await;
        assert!(!failed);
        let error = json_events(&text).iter().find_map(|e| {
            e.pointer("/error/message")
                .and_then(Value::as_str)
                .map(str::to_string)
        });
        errors.push(error);
    }
    assert_eq!(
        errors,
        [
            Some("upstream provider error".to_string()),
            Some("upstream provider timeout".to_string())
        ]
    );
    let (text, _) = stream_until_end(&g, "普通的问题").await;
    assert!(content(&text).ends_with("Turn 1."), "{text}");
}
