use std::time::Duration;

use openclaw_dingtalk_emulator::dingtalk::{ApiKind, Call, Card, EmulatorConfig, SentMessage};
use serde_json::{json, Value};

use crate::common::{changed, error_code, Dt, WAIT};

#[tokio::test]
async fn control_api_serves_records_and_takes_commands() {
    let dt = Dt::start(EmulatorConfig::default()).await;
    assert_eq!(dt.create_card("c1").await.0, 200);

    let fault = json!({"api": "StreamingUpdate", "response": "ServerError", "count": 1});
    let resp = dt
        .http
        .post(dt.url("/__emulator/faults"))
        .json(&fault)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(dt.stream("c1", "g", "x", false).await.0, 500);

    let resp: Value = dt
        .http
        .post(dt.url("/__emulator/session-webhooks"))
        .json(&json!({"conversationId": "cidX=="}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = resp["url"].as_str().unwrap();
    assert!(resp["expiresAt"].as_i64().unwrap() > 0);
    let sent: Value = dt
        .http
        .post(url)
        .json(&json!({"msgtype": "text", "text": {"content": "hey"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sent["errcode"], 0);

    let calls: Vec<Call> = dt
        .http
        .get(dt.url("/__emulator/calls"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kinds: Vec<ApiKind> = calls.iter().map(|c| c.kind).collect();
    assert_eq!(
        kinds,
        [
            ApiKind::AccessToken,
            ApiKind::CreateAndDeliver,
            ApiKind::StreamingUpdate,
            ApiKind::SessionWebhook
        ],
        "control calls are not recorded"
    );
    let cards: Vec<Card> = dt
        .http
        .get(dt.url("/__emulator/cards"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cards[0].out_track_id, "c1");
    let messages: Vec<SentMessage> = dt
        .http
        .get(dt.url("/__emulator/messages"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(messages[0].text, "hey");

    let msg: Value = dt.http.post(dt.url("/__emulator/bot-messages"))
        .json(&json!({"chat": "Direct", "sender": {"staff_id": "u9", "nick": "n"}, "content": {"Text": "yo"}, "quoted_text": null, "msg_id": null}))
        .send().await.unwrap().json().await.unwrap();
    assert_eq!(
        (
            msg["text"]["content"].as_str(),
            msg["senderStaffId"].as_str()
        ),
        (Some("yo"), Some("u9"))
    );

    assert_eq!(
        dt.http
            .post(dt.url("/__emulator/revoke-tokens"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let (status, body) = dt.create_card("c2").await;
    assert_eq!(error_code(status, &body, 400), "InvalidAuthentication");
    assert_eq!(
        dt.http
            .get(dt.url("/__emulator/nope"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

#[tokio::test]
async fn unknown_apis_are_not_found() {
    let dt = Dt::start(EmulatorConfig::default()).await;
    let (status, body) = dt.post("/v1.0/card/nothing", json!({})).await;
    assert_eq!(error_code(status, &body, 404), "InvalidAction.NotFound");
    let resp = dt
        .http
        .get(dt.url("/v1.0/card/streaming"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404, "routing is by method and path");
    assert!(dt
        .emu
        .calls()
        .iter()
        .skip(1)
        .all(|c| c.kind == ApiKind::Unknown));
}

#[tokio::test]
async fn wait_for_wakes_on_new_calls_and_times_out() {
    let dt = Dt::start(EmulatorConfig::default()).await;
    assert!(
        !dt.emu
            .wait_for(|calls| calls.len() > 1, Duration::from_millis(50))
            .await
    );
    let emu = dt.emu.clone();
    let waiter = tokio::spawn(async move {
        emu.wait_for(
            |calls| calls.iter().any(|c| c.kind == ApiKind::CreateAndDeliver),
            WAIT,
        )
        .await
    });
    assert_eq!(dt.create_card("w").await.0, 200);
    assert!(waiter.await.unwrap());
}

#[tokio::test]
async fn the_change_feed_wakes_on_calls_cards_and_messages() {
    let dt = Dt::start(EmulatorConfig::default()).await;
    let mut rx = dt.emu.subscribe_changes();
    assert!(!rx.has_changed().unwrap(), "nothing new since subscribing");

    assert_eq!(dt.create_card("订阅卡片").await.0, 200);
    changed(&mut rx).await;
    assert_eq!(dt.emu.cards().len(), 1);

    assert_eq!(dt.stream("订阅卡片", "g1", "流式内容", false).await.0, 200);
    changed(&mut rx).await;
    assert_eq!(dt.emu.card("订阅卡片").unwrap().text("content"), "流式内容");

    let (url, _) = dt.emu.new_session_webhook("cidFeed==");
    let sent = dt
        .http
        .post(url)
        .json(&json!({"msgtype": "text", "text": {"content": "你好"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 200);
    changed(&mut rx).await;
    assert_eq!(dt.emu.sent_messages().len(), 1);

    // A waiting observer is woken by a call made while it waits.
    let waiter = tokio::spawn(async move {
        changed(&mut rx).await;
    });
    assert_eq!(dt.create_card("另一张").await.0, 200);
    waiter.await.unwrap();
}
