//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::time::Duration;

use openclaw_dingtalk_emulator::dingtalk::{DingTalkEmulator, EmulatorConfig};
use serde_json::{json, Value};

/// Generous upper bound for waits in tests (they return as soon as the condition holds).
pub const WAIT: Duration = Duration::from_secs(10);

/// A client that never uses a proxy (servers are on loopback).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
}

/// An emulator, a client and a valid token.
pub struct Dt {
    pub emu: DingTalkEmulator,
    pub http: reqwest::Client,
    pub token: String,
}

impl Dt {
    pub async fn start(config: EmulatorConfig) -> Self {
        let emu = DingTalkEmulator::start(config)
            .await
            .expect("emulator starts");
        // The groups the tests post cards and messages to (DingTalk refuses groups the robot
        // is not in; `cards::a_group_the_robot_is_not_in_is_refused` covers that).
        for group in TEST_GROUPS {
            emu.add_robot_to_group(group);
        }
        let http = client();
        let mut dt = Self {
            emu,
            http,
            token: String::new(),
        };
        dt.token = dt.fetch_token().await;
        dt
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.emu.base_url())
    }

    pub async fn fetch_token(&self) -> String {
        let c = self.emu.config();
        let (status, body) = self
            .send(
                reqwest::Method::POST,
                "/v1.0/oauth2/accessToken",
                None,
                json!({"appKey": c.app_key, "appSecret": c.app_secret}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["accessToken"]
            .as_str()
            .expect("accessToken")
            .to_string()
    }

    /// Sends JSON with an optional token; returns status and JSON body.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> (u16, Value) {
        let mut req = self.http.request(method, self.url(path)).json(&body);
        if let Some(t) = token {
            req = req.header("x-acs-dingtalk-access-token", t);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, Some(&self.token), body)
            .await
    }

    pub async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::PUT, path, Some(&self.token), body)
            .await
    }

    /// createAndDeliver of a group card; returns status and body.
    pub async fn create_card(&self, out_track_id: &str) -> (u16, Value) {
        self.post(
            "/v1.0/card/instances/createAndDeliver",
            group_card(self, out_track_id),
        )
        .await
    }

    /// One streaming update of the `content` key.
    pub async fn stream(
        &self,
        out_track_id: &str,
        guid: &str,
        content: &str,
        finalize: bool,
    ) -> (u16, Value) {
        self.put(
            "/v1.0/card/streaming",
            json!({"outTrackId": out_track_id, "guid": guid, "key": "content", "content": content,
                   "isFull": true, "isFinalize": finalize, "isError": false}),
        )
        .await
    }
}

/// A valid group createAndDeliver body, as an existing DingTalk plugin (@soimy/dingtalk) sends it
/// (docs/dingtalk.md, "AI Cards"; docs/dingtalk-events.md, "Card calls").
pub fn group_card(dt: &Dt, out_track_id: &str) -> Value {
    json!({
        "cardTemplateId": dt.emu.config().templates[0].id,
        "outTrackId": out_track_id,
        "cardData": {"cardParamMap": {"content": "", "flowStatus": "1", "config": "{\"autoLayout\":true}"}},
        "callbackType": "STREAM",
        "imGroupOpenSpaceModel": {"supportForward": true},
        "openSpaceId": "dtv1.card//IM_GROUP.cidTestGroup==",
        "userIdType": 1,
        "imGroupOpenDeliverModel": {"robotCode": dt.emu.config().robot_code, "extension": {"dynamicSummary": "true"}}
    })
}

/// Asserts DingTalk's error shape and returns the body's `code`.
pub fn error_code(status: u16, body: &Value, expected_status: u16) -> String {
    assert_eq!(status, expected_status, "{body}");
    assert!(
        body["requestid"].as_str().is_some_and(|r| !r.is_empty()),
        "requestid in {body}"
    );
    assert!(body["message"].is_string(), "message in {body}");
    body["code"].as_str().expect("code").to_string()
}

/// Waits for the next change of a change feed (fails the test after [`WAIT`]) and marks it seen.
pub async fn changed(rx: &mut tokio::sync::watch::Receiver<u64>) {
    tokio::time::timeout(WAIT, rx.changed())
        .await
        .expect("a change in time")
        .expect("the server is alive");
}

/// Serves `bytes` with `content_type` at a loopback URL (for tests that fetch images); returns the URL.
pub async fn serve_bytes(content_type: &'static str, bytes: Vec<u8>) -> String {
    let app = axum::Router::new().route(
        "/image",
        axum::routing::get(move || {
            let bytes = bytes.clone();
            async move { ([(axum::http::header::CONTENT_TYPE, content_type)], bytes) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/image", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// The groups [`Dt::start`] makes the robot a member of.
pub const TEST_GROUPS: [&str; 5] = [
    "cidTestGroup==",
    "cidG==",
    "cidGroup==",
    "cidQ",
    "cidConv1==",
];
