use std::time::Duration;

use openclaw_dingtalk_emulator::gateway::{FakeGatewayConfig, RequestOutcome};
use serde_json::json;

use crate::{common::WAIT, content, events, Gw};

#[tokio::test]
async fn history_is_kept_per_session() {
    let g = Gw::fast().await;
    assert!(
        content(&g.ask("dingtalk:conv-42", "first").await).ends_with("You said: first. Turn 1.")
    );
    assert!(
        content(&g.ask("dingtalk:conv-42", "second").await).ends_with("You said: second. Turn 2.")
    );
    assert!(content(&g.ask("dingtalk:other", "x").await).ends_with("Turn 1."));

    let body = json!({"stream": true, "messages": [{"role": "user", "content": "hi"}]});
    for _ in 0..2 {
        let text = g
            .post()
            .json(&body)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            content(&text).ends_with("Turn 1."),
            "no user, no header: a new session per call"
        );
    }
    for expected in ["Turn 1.", "Turn 2."] {
        let resp = g
            .post()
            .header("x-openclaw-session-key", "dingtalk:group:abc")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(content(&resp.text().await.unwrap()).ends_with(expected));
    }
    let keys: Vec<String> =
        g.gw.requests()
            .iter()
            .map(|r| r.session_key.clone().unwrap())
            .collect();
    assert_eq!(keys[0], "agent:main:openai-user:dingtalk:conv-42");
    assert!(keys[3].starts_with("agent:main:openai:") && keys[3] != keys[4]);
    assert_eq!(keys[5], "agent:main:dingtalk:group:abc");
}

#[tokio::test]
async fn concurrent_request_on_a_new_session_fails_like_the_real_gateway() {
    let g = Gw::fast().await;
    let first = g.post().json(&json!({"stream": true, "user": "race", "messages": [{"role": "user", "content": "PACE:500 TOKENS:3"}]}));
    let first = tokio::spawn(async move { first.send().await.unwrap().text().await.unwrap() });
    assert!(
        g.gw.wait_for(|r| r.len() == 1, WAIT).await,
        "the first request is admitted"
    );
    let second = g.ask("race", "me too").await;
    let ev = events(&second);
    assert_eq!(ev.len(), 3);
    assert_eq!(
        ev[1],
        r#"{"error":{"message":"internal error","type":"api_error"}}"#
    );
    assert_eq!(content(&first.await.unwrap()), "t1 t2 t3 ");
    let outcomes: Vec<RequestOutcome> = g.gw.requests().iter().map(|r| r.outcome.clone()).collect();
    assert_eq!(
        outcomes,
        [
            RequestOutcome::Completed,
            RequestOutcome::FailedInStream("internal error".into())
        ]
    );
}

#[tokio::test]
async fn established_session_serializes_concurrent_requests() {
    let g = Gw::fast().await;
    g.ask("serial", "one").await;
    let first = g.post().json(&json!({"stream": true, "user": "serial", "messages": [{"role": "user", "content": "PACE:60 TOKENS:3"}]}));
    let first = tokio::spawn(async move { first.send().await.unwrap().text().await.unwrap() });
    assert!(g.gw.wait_for(|r| r.len() == 2, WAIT).await);
    let second = g.ask("serial", "three").await;
    assert!(
        content(&second).ends_with("You said: three. Turn 3."),
        "it saw the turn it waited for"
    );
    first.await.unwrap();
    let records = g.gw.requests();
    let first_done = records[1].emitted_tokens.last().unwrap().0;
    let second_start = records[2].emitted_tokens.first().unwrap().0;
    assert!(
        second_start >= first_done,
        "serialized: {first_done} then {second_start}"
    );
}

#[tokio::test]
async fn client_disconnect_is_recorded_and_stops_production() {
    let g = Gw::fast().await;
    let mut resp = g
        .post()
        .json(&json!({"stream": true, "messages": [{"role": "user", "content": "SILENT"}]}))
        .send()
        .await
        .unwrap();
    let role = resp.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&role).contains(r#""role":"assistant""#));
    drop(resp);
    assert!(
        g.gw.wait_for(|r| r[0].outcome == RequestOutcome::ClientDisconnected, WAIT)
            .await
    );

    let mut resp = g.post().json(&json!({"stream": true, "messages": [{"role": "user", "content": "PACE:50 TOKENS:1000"}]})).send().await.unwrap();
    resp.chunk().await.unwrap();
    assert!(
        g.gw.wait_for(|r| r[1].emitted_tokens.len() >= 2, WAIT)
            .await
    );
    drop(resp);
    assert!(
        g.gw.wait_for(|r| r[1].outcome == RequestOutcome::ClientDisconnected, WAIT)
            .await
    );
    assert!(g.gw.requests()[1].emitted_tokens.len() < 1000);

    let slow = g
        .post()
        .json(&json!({"messages": [{"role": "user", "content": "SLOW"}]}))
        .send();
    let slow = tokio::spawn(slow);
    assert!(
        g.gw.wait_for(|r| r.len() == 3, WAIT).await,
        "the slow non-streamed request is being answered"
    );
    slow.abort();
    assert!(
        g.gw.wait_for(|r| r[2].outcome == RequestOutcome::ClientDisconnected, WAIT)
            .await
    );
}

#[tokio::test]
async fn record_limit_keeps_the_newest_requests_and_the_turn_count() {
    let g = Gw::start(FakeGatewayConfig {
        token_interval: Duration::ZERO,
        record_limit: Some(50),
        ..FakeGatewayConfig::default()
    })
    .await;
    for i in 0..499 {
        // Not streamed: one write per answer keeps 500 requests quick.
        let body = json!({"model": "openclaw/default", "user": "dingtalk:长会话",
                          "messages": [{"role": "user", "content": format!("第{i}问 TOKENS:1")}]});
        let answer: serde_json::Value = g
            .post()
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(answer["choices"][0]["message"]["content"], "t1 ");
    }
    let last = content(&g.ask("dingtalk:长会话", "最后一问").await);
    assert!(
        last.ends_with("You said: 最后一问. Turn 500."),
        "turns go on counting past the kept history: {last}"
    );
    assert!(
        g.gw.wait_for(
            |r| r
                .last()
                .is_some_and(|r| r.outcome == RequestOutcome::Completed),
            WAIT
        )
        .await
    );
    let requests = g.gw.requests();
    assert_eq!(requests.len(), 50);
    let seqs: Vec<u64> = requests.iter().map(|r| r.seq).collect();
    assert_eq!(
        seqs,
        (451..=500).collect::<Vec<u64>>(),
        "the newest requests"
    );
    assert_eq!(
        requests[49].body["messages"][0]["content"], "最后一问",
        "the newest is the last one sent"
    );
}

#[tokio::test]
async fn the_change_feed_wakes_on_requests() {
    let g = Gw::fast().await;
    let mut rx = g.gw.subscribe_changes();
    let waiter = tokio::spawn(async move {
        crate::common::changed(&mut rx).await;
    });
    g.ask("dingtalk:订阅", "你好").await;
    waiter.await.unwrap();
}
