//! The replay server and the transcript files.

mod common;

use std::time::{Duration, Instant};

use openclaw_dingtalk_emulator::replay::{
    parse_transcript, success_steps, transcript, ReplayServer,
};
use serde_json::{json, Value};

const NAMES: [&str; 7] = [
    "success",
    "usage",
    "in_stream_error",
    "cut",
    "slow_tokens",
    "unauthorized_401",
    "bad_request_400",
];

/// The body part of a transcript file as sent (after the head, without directives).
fn body_of(name: &str) -> String {
    transcript(name)
        .concat_bytes()
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap()
}

trait Concat {
    fn concat_bytes(&self) -> String;
}

impl Concat for Vec<openclaw_dingtalk_emulator::replay::ReplayStep> {
    fn concat_bytes(&self) -> String {
        String::from_utf8(self.iter().flat_map(|s| s.bytes.clone()).collect()).unwrap()
    }
}

async fn post(server: &ReplayServer) -> reqwest::Response {
    common::client()
        .post(format!("{}/v1/chat/completions", server.base_url()))
        .json(&json!({"model": "openclaw/default", "stream": true, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap()
}

#[test]
fn every_transcript_parses_and_declared_lengths_match() {
    for name in NAMES {
        let raw = transcript(name).concat_bytes();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 "), "{name}");
        if let Some(len) = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
        {
            assert_eq!(
                len.parse::<usize>().unwrap(),
                body.len(),
                "{name}: Content-Length matches"
            );
        }
        if head.contains("text/event-stream") && !head.contains("chunked") {
            assert!(
                body.split("\n\n")
                    .filter(|e| !e.is_empty())
                    .all(|e| e.starts_with("data: ")),
                "{name}"
            );
        }
    }
    let success = body_of("success");
    assert!(
        success.starts_with("data: {\"id\":\"chatcmpl_") && success.ends_with("data: [DONE]\n\n")
    );
    assert!(success.contains(r#""delta":{"role":"assistant"},"finish_reason":null"#));
    assert!(body_of("usage").contains(
        r#""choices":[],"usage":{"prompt_tokens":5,"completion_tokens":6,"total_tokens":11}"#
    ));
}

#[tokio::test]
async fn replays_the_success_transcript_verbatim() {
    let server = ReplayServer::start(transcript("success"), true)
        .await
        .unwrap();
    let resp = post(&server).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "text/event-stream; charset=utf-8"
    );
    assert_eq!(resp.headers()["connection"], "close");
    assert_eq!(resp.text().await.unwrap(), body_of("success"));
    assert_eq!(server.connections(), 1);
    let request = server.last_request().unwrap();
    assert!(
        request.starts_with("POST /v1/chat/completions HTTP/1.1\r\n"),
        "{request}"
    );
    let (_, body) = request.split_once("\r\n\r\n").unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(body).unwrap()["messages"][0]["content"],
        "hi",
        "the body was read"
    );
}

#[tokio::test]
async fn replays_delays_errors_and_cuts() {
    let server = ReplayServer::start(transcript("in_stream_error"), true)
        .await
        .unwrap();
    let started = Instant::now();
    let text = post(&server).await.text().await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "#delay 300"
    );
    assert!(text
        .contains(r#"data: {"error":{"message":"upstream provider error","type":"api_error"}}"#));

    let server = ReplayServer::start(transcript("cut"), true).await.unwrap();
    let mut resp = post(&server).await;
    assert_eq!(resp.headers()["transfer-encoding"], "chunked");
    let mut text = String::new();
    let failed = loop {
        match resp.chunk().await {
            Ok(Some(b)) => text.push_str(&String::from_utf8_lossy(&b)),
            Ok(None) => break false,
            Err(_) => break true,
        }
    };
    assert!(
        failed,
        "an unterminated chunked body is an error for the client"
    );
    assert!(text.contains(r#""content":" from""#) && !text.contains("[DONE]"));

    let server = ReplayServer::start(transcript("unauthorized_401"), false)
        .await
        .unwrap();
    let resp = post(&server).await;
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body,
        json!({"error": {"message": "Unauthorized", "type": "unauthorized"}})
    );
}

#[tokio::test]
async fn built_steps_pace_tokens() {
    let steps = success_steps("openclaw", &["a", " b"], Duration::from_millis(40), true);
    assert_eq!(steps.len(), 4);
    let server = ReplayServer::start(steps, true).await.unwrap();
    let started = Instant::now();
    let text = post(&server).await.text().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(80));
    assert!(
        text.contains(r#""delta":{"content":" b"}"#)
            && text.contains(r#""usage""#)
            && text.ends_with("data: [DONE]\n\n")
    );
    assert!(
        parse_transcript("HTTP/1.1 200 OK\n").is_err(),
        "a head needs its empty line"
    );
}
