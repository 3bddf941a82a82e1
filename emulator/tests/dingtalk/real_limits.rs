//! DingTalk's real limits: byte-sized card values, finalized cards, applied timeouts, app-wide flow
//! control and the monthly call quota.

use openclaw_dingtalk_emulator::dingtalk::{
    ApiKind, CardState, EmulatorConfig, Fault, FaultResponse, QpsScope,
};
use serde_json::{json, Value};

use crate::common::{error_code, group_card, Dt};

fn card_with_content(dt: &Dt, out_track_id: &str, content: &str) -> Value {
    let mut body = group_card(dt, out_track_id);
    body["cardData"]["cardParamMap"]["content"] = json!(content);
    body
}

fn instances_update(out_track_id: &str, map: Value) -> Value {
    json!({"outTrackId": out_track_id, "cardData": {"cardParamMap": map},
           "cardUpdateOptions": {"updateCardDataByKey": true}})
}

#[tokio::test]
async fn card_values_are_limited_in_utf8_bytes() {
    let dt = Dt::start(EmulatorConfig::default()).await;
    let fits = "中".repeat(1000); // 3000 bytes
    let too_large = "中".repeat(1001); // 3003 bytes, only 1001 characters

    // Streaming: the resulting value counts.
    assert_eq!(dt.create_card("s").await.0, 200);
    let (status, body) = dt.stream("s", "g1", &too_large, false).await;
    assert_eq!(error_code(status, &body, 400), "param.stream.content");
    assert_eq!(body["message"], "content is too large");
    assert_eq!(dt.stream("s", "g2", &fits, false).await.0, 200);
    let append = |guid: &str, piece: &str| {
        json!({"outTrackId": "s", "guid": guid, "key": "statusLine", "content": piece,
               "isFull": false, "isFinalize": false, "isError": false})
    };
    assert_eq!(
        dt.put("/v1.0/card/streaming", append("a1", &"x".repeat(2999)))
            .await
            .0,
        200
    );
    let (status, body) = dt.put("/v1.0/card/streaming", append("a2", "中")).await;
    assert_eq!(
        error_code(status, &body, 400),
        "param.stream.content",
        "an append that would make the value 3002 bytes"
    );
    let card = dt.emu.card("s").unwrap();
    assert_eq!(card.updates.len(), 2, "refused updates are not applied");
    assert_eq!(card.text("content"), fits);

    // createAndDeliver and POST instances: every cardParamMap value.
    let (status, body) = dt
        .post(
            "/v1.0/card/instances/createAndDeliver",
            card_with_content(&dt, "big", &too_large),
        )
        .await;
    assert_eq!(
        error_code(status, &body, 400),
        "param.cardParamMapValueTooLarge"
    );
    assert!(dt.emu.card("big").is_none(), "not created");
    let (status, body) = dt
        .post(
            "/v1.0/card/instances",
            card_with_content(&dt, "big2", &too_large),
        )
        .await;
    assert_eq!(
        error_code(status, &body, 400),
        "param.cardParamMapValueTooLarge"
    );
    assert!(dt.emu.card("big2").is_none(), "not created");
    let (status, _) = dt
        .post(
            "/v1.0/card/instances/createAndDeliver",
            card_with_content(&dt, "ok", &fits),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(dt.emu.card("ok").unwrap().text("content"), fits);

    // PUT instances: the whole call is refused, nothing applied.
    let (status, body) = dt
        .put(
            "/v1.0/card/instances",
            instances_update("ok", json!({"flowStatus": "3", "content": too_large})),
        )
        .await;
    assert_eq!(
        error_code(status, &body, 400),
        "param.cardParamMapValueTooLarge"
    );
    let card = dt.emu.card("ok").unwrap();
    assert_eq!((card.state, card.updates.len()), (CardState::Processing, 0));
    let (status, _) = dt
        .put(
            "/v1.0/card/instances",
            instances_update("ok", json!({"flowStatus": "3", "content": fits})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(dt.emu.card("ok").unwrap().state, CardState::Finished);
}

#[tokio::test]
async fn the_byte_limit_is_configurable() {
    let dt = Dt::start(EmulatorConfig {
        max_card_value_bytes: 20, // the test card's `config` value is 19 bytes
        ..EmulatorConfig::default()
    })
    .await;
    assert_eq!(dt.create_card("s").await.0, 200);
    assert_eq!(dt.stream("s", "g1", &"中".repeat(6), false).await.0, 200);
    let (status, body) = dt.stream("s", "g2", &"中".repeat(7), false).await;
    assert_eq!(error_code(status, &body, 400), "param.stream.content");
}

#[tokio::test]
async fn a_finalized_card_refuses_new_streaming_updates() {
    let dt = Dt::start(EmulatorConfig::default()).await;
    assert_eq!(dt.create_card("f").await.0, 200);
    assert_eq!(dt.stream("f", "g1", "partial", false).await.0, 200);
    assert_eq!(dt.stream("f", "g2", "final", true).await.0, 200);
    assert_eq!(
        dt.stream("f", "g2", "final", true).await,
        (200, json!({"success": true, "result": true})),
        "a retry of the finalizing call stays an idempotent success"
    );
    let (status, body) = dt.stream("f", "g3", "more", false).await;
    assert_eq!(error_code(status, &body, 400), "param.stream.cardFinished");
    let (status, body) = dt.stream("f", "g3", "more", true).await;
    assert_eq!(
        error_code(status, &body, 400),
        "param.stream.cardFinished",
        "a refused guid is not used up"
    );
    let card = dt.emu.card("f").unwrap();
    assert_eq!(
        (card.text("content").as_str(), card.updates.len()),
        ("final", 2)
    );

    // PUT instances is still allowed on a finished card.
    let (status, _) = dt
        .put(
            "/v1.0/card/instances",
            instances_update("f", json!({"flowStatus": "3", "content": "final, full"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(dt.emu.card("f").unwrap().text("content"), "final, full");

    // A failed card too (finished via flowStatus 5 here).
    assert_eq!(dt.create_card("x").await.0, 200);
    let (status, _) = dt
        .put(
            "/v1.0/card/instances",
            instances_update("x", json!({"flowStatus": "5"})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = dt.stream("x", "g1", "late", false).await;
    assert_eq!(error_code(status, &body, 400), "param.stream.cardFinished");
}

#[tokio::test]
async fn an_applied_timeout_fault_applies_then_answers_504() {
    let dt = Dt::start(EmulatorConfig::default()).await;
    // The JSON form of the control API.
    let fault = json!({"api": "CreateAndDeliver", "response": "AppliedGatewayTimeout", "count": 1});
    let resp = dt
        .http
        .post(dt.url("/__emulator/faults"))
        .json(&fault)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (status, body) = dt.create_card("a").await;
    assert_eq!(error_code(status, &body, 504), "GatewayTimeout");
    assert!(dt.emu.card("a").is_some(), "applied despite the 504");
    let (status, body) = dt.create_card("a").await;
    assert_eq!(
        error_code(status, &body, 400),
        "param.cardAlreadyExist",
        "a retry finds the card"
    );

    dt.emu.inject(Fault::new(
        Some(ApiKind::StreamingUpdate),
        FaultResponse::AppliedGatewayTimeout,
        1,
    ));
    assert_eq!(dt.stream("a", "g1", "shown", false).await.0, 504);
    assert_eq!(dt.emu.card("a").unwrap().text("content"), "shown");
    assert_eq!(
        dt.stream("a", "g1", "shown", false).await.0,
        200,
        "the same guid is an idempotent success"
    );
    dt.emu
        .inject(Fault::new(None, FaultResponse::GatewayTimeout, 1));
    assert_eq!(dt.stream("a", "g2", "not shown", false).await.0, 504);
    assert_eq!(dt.emu.card("a").unwrap().text("content"), "shown");

    let calls = dt.emu.calls();
    let timeouts: Vec<u64> = calls
        .iter()
        .filter(|c| c.status == 504)
        .map(|c| c.seq)
        .collect();
    assert_eq!(timeouts.len(), 3);
    assert_eq!(
        dt.emu.applied_timeouts(),
        timeouts[..2],
        "the plain timeout is not listed"
    );
    let listed: Vec<u64> = dt
        .http
        .get(dt.url("/__emulator/applied-timeouts"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed, timeouts[..2]);
}

#[tokio::test]
async fn every_nth_card_call_is_applied_then_answered_504() {
    let dt = Dt::start(EmulatorConfig {
        applied_timeout_every: Some(3),
        ..EmulatorConfig::default()
    })
    .await;
    let mut statuses = vec![dt.create_card("n").await.0];
    for i in 1..=6 {
        let text = format!("v{i}");
        statuses.push(dt.stream("n", &text, &text, false).await.0);
    }
    dt.fetch_token().await; // not a card call
    statuses.push(
        dt.put(
            "/v1.0/card/instances",
            instances_update("n", json!({"flowStatus": "3"})),
        )
        .await
        .0,
    );
    assert_eq!(statuses, [200, 200, 504, 200, 200, 504, 200, 200]);
    let card = dt.emu.card("n").unwrap();
    assert_eq!(card.updates.len(), 7, "every call was applied");
    assert_eq!(card.text("content"), "v6");
    let calls = dt.emu.calls();
    let card_504: Vec<u64> = calls
        .iter()
        .filter(|c| c.status == 504)
        .map(|c| c.seq)
        .collect();
    assert_eq!(dt.emu.applied_timeouts(), card_504);
    assert_eq!(card_504.len(), 2);
}

#[tokio::test]
async fn app_wide_flow_control_counts_every_api() {
    let dt = Dt::start(EmulatorConfig {
        qps_limit: Some(5),
        qps_scope: QpsScope::App,
        ..EmulatorConfig::default()
    })
    .await;
    let c = dt.emu.config().clone();
    // Six calls of five different APIs; retried if the burst straddled a one-second boundary.
    for attempt in 0..5 {
        let calls_before = dt.emu.calls().len();
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let id = format!("m{attempt}");
        let mut answers = vec![dt.create_card(&id).await];
        answers.push(dt.stream(&id, "g", "x", false).await);
        answers.push(
            dt.send(
                reqwest::Method::POST,
                "/v1.0/oauth2/accessToken",
                None,
                json!({"appKey": c.app_key, "appSecret": c.app_secret}),
            )
            .await,
        );
        answers.push(
            dt.send(
                reqwest::Method::POST,
                "/v1.0/gateway/connections/open",
                None,
                json!({"clientId": c.app_key, "clientSecret": c.app_secret,
                       "subscriptions": [{"type": "CALLBACK", "topic": "/v1.0/im/bot/messages/get"}]}),
            )
            .await,
        );
        answers.push(
            dt.post(
                "/v1.0/robot/groupMessages/send",
                json!({"robotCode": c.robot_code, "openConversationId": "cidQ", "msgKey": "sampleText",
                       "msgParam": "{\"content\":\"hi\"}"}),
            )
            .await,
        );
        answers.push(
            dt.put(
                "/v1.0/card/instances",
                instances_update(&id, json!({"flowStatus": "3"})),
            )
            .await,
        );
        let calls = dt.emu.calls();
        let burst = &calls[calls_before..];
        if burst.first().map(|c| c.at_ms / 1000) != burst.last().map(|c| c.at_ms / 1000) {
            continue;
        }
        for (i, (status, body)) in answers[..5].iter().enumerate() {
            assert_eq!(*status, 200, "call {i} within the budget: {body}");
        }
        let (status, body) = &answers[5];
        assert_eq!(
            error_code(*status, body, 403),
            "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi"
        );
        assert_ne!(
            dt.emu.card(&id).unwrap().state,
            CardState::Finished,
            "the refused call was not applied"
        );
        return;
    }
    panic!("no burst fitted in one second");
}

#[tokio::test]
async fn the_monthly_quota_refuses_calls_over_it() {
    let dt = Dt::start(EmulatorConfig {
        monthly_call_quota: Some(3),
        ..EmulatorConfig::default()
    })
    .await;
    assert_eq!(dt.emu.monthly_calls(), 0, "token calls are not counted");
    assert_eq!(dt.create_card("q").await.0, 200);
    assert_eq!(dt.stream("q", "g1", "one", false).await.0, 200);
    assert_eq!(dt.stream("q", "g2", "two", false).await.0, 200);
    let (status, body) = dt.stream("q", "g3", "three", false).await;
    assert_eq!(
        error_code(status, &body, 403),
        "Forbidden.AccessDenied.ApiCountLimitForOrg"
    );
    assert_eq!(
        body["message"],
        "您的企业本月api调用量已超过限制，调用量:4次，额度:3次"
    );
    assert_eq!(dt.emu.card("q").unwrap().text("content"), "two");

    // Token endpoints are neither counted nor refused.
    assert_eq!(dt.fetch_token().await, dt.token);
    assert_eq!(dt.emu.monthly_calls(), 4);

    // Legacy form on a session-webhook post.
    let (url, _) = dt.emu.new_session_webhook("cidQuota==");
    let answer: Value = dt
        .http
        .post(&url)
        .json(&json!({"msgtype": "text", "text": {"content": "hi"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        answer,
        json!({"errcode": 90020, "errmsg": "您的企业本月api调用量已超过限制，调用量:5次，额度:3次"})
    );
    assert!(dt.emu.sent_messages().is_empty(), "nothing sent");
    let counted: Value = dt
        .http
        .get(dt.url("/__emulator/monthly-calls"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counted, json!({"calls": 5}));
}
