use std::time::Duration;

use openclaw_dingtalk_emulator::dingtalk::{ApiKind, EmulatorConfig};
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{error_code, Dt};

#[tokio::test]
async fn access_token_is_issued_and_reused_while_valid() {
    let dt = Dt::start(EmulatorConfig::default()).await;
    assert_eq!(dt.token.len(), 32);
    let c = dt.emu.config();
    let (status, body) = dt
        .send(
            Method::POST,
            "/v1.0/oauth2/accessToken",
            None,
            json!({"appKey": c.app_key, "appSecret": c.app_secret}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"accessToken": dt.token, "expireIn": 7200}),
        "same token while valid"
    );
    let calls = dt.emu.calls();
    assert_eq!(calls.len(), 2);
    assert!(calls
        .iter()
        .all(|c| c.kind == ApiKind::AccessToken && c.status == 200));
    assert_eq!(calls[0].app_key.as_deref(), Some("dingemulatorappkey"));
}

#[tokio::test]
async fn bad_credentials_get_the_documented_error() {
    let dt = Dt::start(EmulatorConfig::default()).await;
    let (status, body) = dt
        .send(
            Method::POST,
            "/v1.0/oauth2/accessToken",
            None,
            json!({"appKey": "dingemulatorappkey", "appSecret": "wrong"}),
        )
        .await;
    assert_eq!(error_code(status, &body, 400), "invalidClientIdOrSecret");
    assert_eq!(body["message"], "无效的clientId或者clientSecret");
    assert_eq!(
        dt.emu.calls().last().unwrap().error_code.as_deref(),
        Some("invalidClientIdOrSecret")
    );
}

#[tokio::test]
async fn legacy_gettoken_shape_and_interchangeable_token() {
    let dt = Dt::start(EmulatorConfig::default()).await;
    let url = dt.url("/gettoken?appkey=dingemulatorappkey&appsecret=emulator-app-secret");
    let body: Value = dt.http.get(url).send().await.unwrap().json().await.unwrap();
    assert_eq!(body["errcode"], 0);
    assert_eq!(body["errmsg"], "ok");
    assert_eq!(body["expires_in"], 7200);
    assert_eq!(
        body["access_token"],
        dt.token.as_str(),
        "one token per app while valid"
    );

    let bad = dt.url("/gettoken?appkey=dingemulatorappkey&appsecret=nope");
    let resp = dt.http.get(bad).send().await.unwrap();
    assert_eq!(resp.status(), 200, "legacy errors are HTTP 200");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["errcode"], 40089);
    let last = dt.emu.calls().pop().unwrap();
    assert_eq!(
        (last.kind, last.error_code.as_deref()),
        (ApiKind::LegacyAccessToken, Some("40089"))
    );
}

#[tokio::test]
async fn expired_token_is_invalid_authentication() {
    let config = EmulatorConfig {
        token_ttl: Duration::ZERO,
        ..EmulatorConfig::default()
    };
    let dt = Dt::start(config).await;
    let (status, body) = dt.create_card("card-expired").await;
    assert_eq!(error_code(status, &body, 400), "InvalidAuthentication");
    assert_eq!(body["message"], "不合法的access_token");
    assert!(dt.emu.cards().is_empty(), "not applied");
}

#[tokio::test]
async fn revoked_unknown_and_missing_tokens() {
    let mut dt = Dt::start(EmulatorConfig::default()).await;
    let (status, _) = dt.create_card("card-1").await;
    assert_eq!(status, 200);
    dt.emu.revoke_tokens();
    let (status, body) = dt.create_card("card-2").await;
    assert_eq!(error_code(status, &body, 400), "InvalidAuthentication");

    let (status, body) = dt
        .send(
            Method::POST,
            "/v1.0/card/instances/createAndDeliver",
            Some("forged"),
            json!({}),
        )
        .await;
    assert_eq!(error_code(status, &body, 400), "InvalidAuthentication");
    let (status, body) = dt
        .send(
            Method::POST,
            "/v1.0/card/instances/createAndDeliver",
            None,
            json!({}),
        )
        .await;
    assert_eq!(
        error_code(status, &body, 400),
        "Missingx-acs-dingtalk-access-token"
    );

    let old = dt.token.clone();
    dt.token = dt.fetch_token().await;
    assert_ne!(dt.token, old, "a new token after revocation");
    assert_eq!(dt.create_card("card-2").await.0, 200);
    assert_eq!(dt.emu.cards().len(), 2);
}
