use std::time::Duration;

use openclaw_dingtalk_emulator::dingtalk::{ApiKind, EmulatorConfig, SESSION_INVALID_ERRCODE};
use serde_json::{json, Value};

use crate::common::{error_code, Dt};

async fn post_webhook(dt: &Dt, url: &str, body: Value) -> Value {
    let resp = dt.http.post(url).json(&body).send().await.unwrap();
    assert_eq!(resp.status(), 200, "webhook answers are HTTP 200");
    resp.json().await.unwrap()
}

#[tokio::test]
async fn session_webhook_accepts_text_and_markdown() {
    let dt = Dt::start(EmulatorConfig::default()).await;
    let (url, expires_at) = dt.emu.new_session_webhook("cidConv1==");
    assert!(url.starts_with(&format!(
        "{}/robot/sendBySession?session=",
        dt.emu.base_url()
    )));
    assert!(expires_at > 0);
    let text = json!({"msgtype": "text", "text": {"content": "hi"}, "at": {"atUserIds": ["u1"], "isAtAll": false}});
    assert_eq!(
        post_webhook(&dt, &url, text).await,
        json!({"errcode": 0, "errmsg": "ok"})
    );
    let md = json!({"msgtype": "markdown", "markdown": {"title": "答复", "text": "**bold**"}});
    assert_eq!(post_webhook(&dt, &url, md).await["errcode"], 0);
    let sent = dt.emu.sent_messages();
    assert_eq!(sent.len(), 2);
    assert_eq!(
        (sent[0].via, sent[0].target.as_str(), sent[0].text.as_str()),
        (ApiKind::SessionWebhook, "cidConv1==", "hi")
    );
    assert_eq!(
        (sent[1].msgtype.as_str(), sent[1].title.as_deref()),
        ("markdown", Some("答复"))
    );

    let bad = post_webhook(&dt, &url, json!({"msgtype": "interactiveCard", "card": {}})).await;
    assert_eq!(bad["errcode"], 400105);
    let missing = post_webhook(&dt, &url, json!({"msgtype": "text", "text": {}})).await;
    assert_eq!(missing["errcode"], 40035);
    assert_eq!(dt.emu.sent_messages().len(), 2);
}

#[tokio::test]
async fn expired_and_unknown_session_webhooks_fail_in_the_body() {
    let dt = Dt::start(EmulatorConfig::default()).await;
    let (url, _) = dt.emu.new_session_webhook("cidConv1==");
    dt.emu.expire_session_webhooks();
    let text = json!({"msgtype": "text", "text": {"content": "late"}});
    let body = post_webhook(&dt, &url, text.clone()).await;
    assert_eq!(body["errcode"], SESSION_INVALID_ERRCODE);
    assert!(body["errmsg"].is_string());
    let unknown = format!("{}/robot/sendBySession?session=nope", dt.emu.base_url());
    assert_eq!(
        post_webhook(&dt, &unknown, text.clone()).await["errcode"],
        SESSION_INVALID_ERRCODE
    );

    let short = Dt::start(EmulatorConfig {
        session_webhook_ttl: Duration::ZERO,
        ..EmulatorConfig::default()
    })
    .await;
    let (url, _) = short.emu.new_session_webhook("cidConv2==");
    assert_eq!(
        post_webhook(&short, &url, text).await["errcode"],
        SESSION_INVALID_ERRCODE
    );
    assert!(dt.emu.sent_messages().is_empty() && short.emu.sent_messages().is_empty());
    let call = dt.emu.calls().pop().unwrap();
    assert_eq!(
        (call.kind, call.error_code.as_deref()),
        (ApiKind::SessionWebhook, Some("300001"))
    );
}

#[tokio::test]
async fn robot_api_group_and_direct_sends() {
    let dt = Dt::start(EmulatorConfig::default()).await;
    let param = json!({"title": "标题", "text": "正文"}).to_string();
    let group = json!({"robotCode": "dingemulatorappkey", "openConversationId": "cidGroup==", "msgKey": "sampleMarkdown", "msgParam": param});
    let (status, body) = dt
        .post("/v1.0/robot/groupMessages/send", group.clone())
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["processQueryKey"]
        .as_str()
        .is_some_and(|k| !k.is_empty()));

    let oto = json!({"robotCode": "dingemulatorappkey", "userIds": ["u1", "u2"], "msgKey": "sampleText",
                     "msgParam": json!({"content": "hello"}).to_string()});
    let (status, body) = dt
        .post("/v1.0/robot/oToMessages/batchSend", oto.clone())
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["invalidStaffIdList"], json!([]));
    assert_eq!(body["flowControlledStaffIdList"], json!([]));

    let sent = dt.emu.sent_messages();
    assert_eq!(
        (
            sent[0].via,
            sent[0].target.as_str(),
            sent[0].title.as_deref(),
            sent[0].text.as_str()
        ),
        (ApiKind::GroupSend, "cidGroup==", Some("标题"), "正文")
    );
    assert_eq!(
        (sent[1].via, sent[1].target.as_str(), sent[1].text.as_str()),
        (ApiKind::OtoSend, "u1,u2", "hello")
    );

    let mut bad = group.clone();
    bad["msgParam"] = json!({"title": "x"});
    let (status, body) = dt.post("/v1.0/robot/groupMessages/send", bad).await;
    assert_eq!(
        error_code(status, &body, 400),
        "InvalidParameter",
        "msgParam must be a JSON string"
    );
    let mut bad = group;
    bad["msgParam"] = json!("{not json");
    let (status, body) = dt.post("/v1.0/robot/groupMessages/send", bad).await;
    assert_eq!(
        error_code(status, &body, 400),
        "invalidParameter.msgParam.invalid"
    );
    let mut bad = oto.clone();
    bad["userIds"] = json!([]);
    let (status, body) = dt.post("/v1.0/robot/oToMessages/batchSend", bad).await;
    assert_eq!(
        error_code(status, &body, 400),
        "invalidParameter.userIds.empty"
    );
    let mut bad = oto;
    bad.as_object_mut().unwrap().remove("robotCode");
    let (status, body) = dt.post("/v1.0/robot/oToMessages/batchSend", bad).await;
    assert_eq!(
        error_code(status, &body, 400),
        "invalidParameter.robotCode.empty"
    );
    assert_eq!(dt.emu.sent_messages().len(), 2);
}

#[tokio::test]
async fn robot_api_needs_its_scope() {
    let config = EmulatorConfig {
        granted_scopes: vec!["Card.Instance.Write".into()],
        ..EmulatorConfig::default()
    };
    let dt = Dt::start(config).await;
    let body = json!({"robotCode": "dingemulatorappkey", "userIds": ["u1"], "msgKey": "sampleText", "msgParam": "{\"content\":\"x\"}"});
    let (status, resp) = dt.post("/v1.0/robot/oToMessages/batchSend", body).await;
    assert_eq!(
        error_code(status, &resp, 403),
        "Forbidden.AccessDenied.AccessTokenPermissionDenied"
    );
    assert_eq!(
        resp["accessdenieddetail"]["requiredScopes"],
        json!(["qyapi_robot_sendmsg"])
    );
}
