//! Card callbacks: pressing a card button, over Stream (topic `/v1.0/card/instances/callback`) and over
//! HTTP (registered route keys, signed POSTs), and the answers that update the card.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{extract::State, http::HeaderMap, routing::post, Json, Router};
use futures_util::{SinkExt, StreamExt};
use openclaw_dingtalk_emulator::{
    dingtalk::{
        ApiKind, CallbackMode, CardState, EmulatorConfig, FrameKind, PressError, PressStatus,
        StreamConfig, BOT_MESSAGE_TOPIC, CARD_CALLBACK_TOPIC,
    },
    event::{card_callback_signature, MessageSpec},
};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::{tungstenite::Message, MaybeTlsStream, WebSocketStream};

use crate::common::{client, error_code, group_card, Dt, WAIT};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

fn quiet(redelivery_after: Option<Duration>) -> EmulatorConfig {
    EmulatorConfig {
        stream: StreamConfig {
            ping_interval: None,
            redelivery_after,
            ..StreamConfig::default()
        },
        ..EmulatorConfig::default()
    }
}

/// A WebSocket subscribed to the given CALLBACK topics.
async fn connect(dt: &Dt, topics: &[&str]) -> Ws {
    let c = dt.emu.config();
    let mut subscriptions = vec![json!({"type": "EVENT", "topic": "*"})];
    subscriptions.extend(
        topics
            .iter()
            .map(|t| json!({"type": "CALLBACK", "topic": t})),
    );
    let (status, body) = dt
        .send(
            reqwest::Method::POST,
            "/v1.0/gateway/connections/open",
            None,
            json!({"clientId": c.app_key, "clientSecret": c.app_secret, "subscriptions": subscriptions}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let url = format!(
        "{}?ticket={}",
        body["endpoint"].as_str().unwrap(),
        body["ticket"].as_str().unwrap()
    );
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

async fn next_frame(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a frame in time")
            .expect("open")
            .expect("no error");
        if let Message::Text(t) = msg {
            return serde_json::from_str(t.as_str()).unwrap();
        }
    }
}

fn ack(frame: &Value, data: Value) -> Message {
    Message::text(
        json!({"code": 200, "headers": {"contentType": "application/json", "messageId": frame["headers"]["messageId"]},
               "message": "OK", "data": data.to_string()})
        .to_string(),
    )
}

async fn stream_card(dt: &Dt, id: &str) {
    let (status, body) = dt.create_card(id).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_stream_press_reaches_the_subscriber_and_its_ack_updates_the_card() {
    let dt = Dt::start(quiet(None)).await;
    let mut ws = connect(&dt, &[BOT_MESSAGE_TOPIC, CARD_CALLBACK_TOPIC]).await;
    stream_card(&dt, "card-stop").await;
    let receipt = dt
        .emu
        .press_card(
            "card-stop",
            "staff42",
            "btn_stop",
            json!({"reason": "user"}),
        )
        .unwrap();
    assert_eq!(receipt.mode, CallbackMode::Stream);
    let frame = next_frame(&mut ws).await;
    assert_eq!(frame["type"], "CALLBACK");
    assert_eq!(frame["headers"]["topic"], CARD_CALLBACK_TOPIC);
    assert_eq!(
        frame["headers"]["messageId"],
        receipt.message_id.as_deref().unwrap()
    );
    let data: Value = serde_json::from_str(frame["data"].as_str().unwrap()).unwrap();
    assert_eq!(data["type"], "actionCallback");
    assert_eq!(data["outTrackId"], "card-stop");
    assert_eq!(data["userId"], "staff42");
    assert_eq!(data["spaceType"], "IM_GROUP");
    assert_eq!(data["spaceId"], "cidTestGroup==");
    assert!(data["corpId"].as_str().unwrap().starts_with("ding"));
    assert_eq!(data["extension"], "{}");
    let content: Value = serde_json::from_str(data["content"].as_str().unwrap()).unwrap();
    assert_eq!(
        content,
        json!({"cardPrivateData": {"actionIds": ["btn_stop"], "params": {"reason": "user"}}})
    );
    // The SDKs' ACK: {"response": <the card answer>}.
    ws.send(ack(
        &frame,
        json!({"response": {"cardUpdateOptions": {"updateCardDataByKey": true},
                            "cardData": {"cardParamMap": {"stop_action": "false", "flowStatus": "3"}},
                            "userPrivateData": {"cardParamMap": {"pressed": "true"}}}}),
    ))
    .await
    .unwrap();
    assert!(
        dt.emu
            .wait_until(
                |e| e.card_presses()[0].status == PressStatus::Answered,
                WAIT
            )
            .await
    );
    let press = &dt.emu.card_presses()[0];
    assert!(press.applied, "{press:?}");
    assert_eq!(
        press.response.as_ref().unwrap()["userPrivateData"]["cardParamMap"]["pressed"],
        "true"
    );
    let card = dt.emu.card("card-stop").unwrap();
    assert_eq!(card.text("stop_action"), "false");
    assert_eq!(card.text("content"), "", "merged by key: the rest stays");
    assert_eq!(card.state, CardState::Finished);
    assert!(card
        .updates
        .iter()
        .any(|u| u.via == ApiKind::CardCallback && u.key == "stop_action"));
    let kinds: Vec<FrameKind> = dt.emu.stream_frames().iter().map(|f| f.kind).collect();
    assert!(
        kinds.ends_with(&[FrameKind::CardCallback, FrameKind::CardAck]),
        "{kinds:?}"
    );
}

#[tokio::test]
async fn only_connections_subscribed_to_the_card_topic_get_presses() {
    let dt = Dt::start(quiet(None)).await;
    let mut bot_only = connect(&dt, &[BOT_MESSAGE_TOPIC]).await;
    stream_card(&dt, "card-a").await;
    dt.emu
        .press_card("card-a", "u1", "btn_stop", Value::Null)
        .unwrap();
    // The robot-message connection gets robot messages, not the press.
    let msg_id = dt.emu.push_bot_message(MessageSpec::direct_text("hi"));
    let frame = next_frame(&mut bot_only).await;
    assert_eq!(frame["headers"]["topic"], BOT_MESSAGE_TOPIC);
    assert!(frame["data"].as_str().unwrap().contains(&msg_id));
    assert!(dt.emu.card_presses()[0].message_id.is_some());
    assert!(!dt
        .emu
        .stream_frames()
        .iter()
        .any(|f| f.kind == FrameKind::CardCallback));
    // A connection that subscribes to the card topic gets the waiting press.
    let mut cards = connect(&dt, &[CARD_CALLBACK_TOPIC]).await;
    let frame = next_frame(&mut cards).await;
    assert_eq!(frame["headers"]["topic"], CARD_CALLBACK_TOPIC);
    cards
        .send(ack(&frame, json!({"response": null})))
        .await
        .unwrap();
    assert!(
        dt.emu
            .wait_until(
                |e| e.card_presses()[0].status == PressStatus::Answered,
                WAIT
            )
            .await
    );
    assert!(!dt.emu.card_presses()[0].applied);
}

#[tokio::test]
async fn an_unacked_press_is_delivered_again_and_a_bare_ack_applies_nothing() {
    let dt = Dt::start(quiet(Some(Duration::from_millis(300)))).await;
    let mut ws = connect(&dt, &[CARD_CALLBACK_TOPIC]).await;
    stream_card(&dt, "card-r").await;
    dt.emu
        .press_card("card-r", "u1", "btn_stop", json!({}))
        .unwrap();
    let first = next_frame(&mut ws).await;
    let again = next_frame(&mut ws).await;
    assert_eq!(first["headers"]["messageId"], again["headers"]["messageId"]);
    assert!(dt.emu.stream_frames().iter().any(|f| f.redelivery));
    // Not wrapped in {"response": …}: answered, nothing applied, and said so.
    ws.send(ack(
        &again,
        json!({"cardData": {"cardParamMap": {"x": "1"}}}),
    ))
    .await
    .unwrap();
    assert!(
        dt.emu
            .wait_until(
                |e| e.card_presses()[0].status == PressStatus::Answered,
                WAIT
            )
            .await
    );
    let press = &dt.emu.card_presses()[0];
    assert!(!press.applied);
    assert!(press.detail.as_deref().unwrap().contains("response"));
    assert_eq!(dt.emu.card("card-r").unwrap().text("x"), "");
}

#[tokio::test]
async fn what_cannot_be_pressed() {
    let dt = Dt::start(quiet(None)).await;
    assert_eq!(
        dt.emu.press_card("nope", "u", "b", Value::Null),
        Err(PressError::UnknownCard)
    );
    let mut plain = group_card(&dt, "card-plain");
    plain.as_object_mut().unwrap().remove("callbackType");
    assert_eq!(
        dt.post("/v1.0/card/instances/createAndDeliver", plain)
            .await
            .0,
        200
    );
    assert_eq!(
        dt.emu.press_card("card-plain", "u", "b", Value::Null),
        Err(PressError::NotInteractive)
    );
    stream_card(&dt, "card-s").await;
    assert_eq!(
        dt.emu.press_card("card-s", "u", "b", json!(["x"])),
        Err(PressError::InvalidParams)
    );
    // Created but never delivered (two-step create without deliver).
    let (status, _) = dt
        .post(
            "/v1.0/card/instances",
            json!({"cardTemplateId": dt.emu.config().templates[0].id, "outTrackId": "card-undelivered",
                   "callbackType": "STREAM", "cardData": {"cardParamMap": {}}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        dt.emu.press_card("card-undelivered", "u", "b", Value::Null),
        Err(PressError::NotDelivered)
    );
    // The create calls check the callback fields.
    let mut bad = group_card(&dt, "card-bad");
    bad["callbackType"] = "WEBHOOK".into();
    let (status, body) = dt.post("/v1.0/card/instances/createAndDeliver", bad).await;
    assert_eq!(error_code(status, &body, 400), "InvalidParameter");
    let mut no_key = group_card(&dt, "card-nokey");
    no_key["callbackType"] = "HTTP".into();
    let (status, body) = dt
        .post("/v1.0/card/instances/createAndDeliver", no_key)
        .await;
    assert_eq!(
        error_code(status, &body, 400),
        "param.callbackRouteKeyEmpty"
    );
    // HTTP with a key nobody registered.
    let mut http = group_card(&dt, "card-http");
    http["callbackType"] = "HTTP".into();
    http["callbackRouteKey"] = "unregistered".into();
    assert_eq!(
        dt.post("/v1.0/card/instances/createAndDeliver", http)
            .await
            .0,
        200
    );
    assert_eq!(
        dt.emu.press_card("card-http", "u", "b", Value::Null),
        Err(PressError::RouteKeyNotRegistered("unregistered".into()))
    );
}

/// What the test's callback server saw.
#[derive(Default)]
struct Seen {
    requests: Vec<(HeaderMap, Value)>,
}

/// A loopback server answering card callbacks with `answer` after `delay`.
async fn callback_server(answer: Value, delay: Duration) -> (String, Arc<Mutex<Seen>>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let app = Router::new()
        .route(
            "/card-callback",
            post(
                move |State(seen): State<Arc<Mutex<Seen>>>,
                      headers: HeaderMap,
                      Json(body): Json<Value>| {
                    let answer = answer.clone();
                    async move {
                        seen.lock().unwrap().requests.push((headers, body));
                        tokio::time::sleep(delay).await;
                        Json(answer)
                    }
                },
            ),
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/card-callback", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

async fn register(
    dt: &Dt,
    key: &str,
    url: &str,
    secret: Option<&str>,
    force: bool,
) -> (u16, Value) {
    let mut body = json!({"callbackRouteKey": key, "callbackUrl": url, "forceUpdate": force});
    if let Some(s) = secret {
        body["apiSecret"] = s.into();
    }
    dt.post("/v1.0/card/callbacks/register", body).await
}

async fn http_card(dt: &Dt, id: &str, key: &str) {
    let mut body = group_card(dt, id);
    body["callbackType"] = "HTTP".into();
    body["callbackRouteKey"] = key.into();
    let (status, answer) = dt.post("/v1.0/card/instances/createAndDeliver", body).await;
    assert_eq!(status, 200, "{answer}");
}

#[tokio::test]
async fn an_http_press_is_a_signed_post_and_its_answer_updates_the_card() {
    let dt = Dt::start(quiet(None)).await;
    let (url, seen) = callback_server(
        json!({"cardData": {"cardParamMap": {"content": "stopped"}}}),
        Duration::ZERO,
    )
    .await;
    let (status, body) = register(&dt, "stop-route", &url, Some("card-secret"), false).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"success": true, "result": {"callbackUrl": url, "apiSecret": "card-secret"}})
    );
    assert_eq!(
        dt.emu.calls().last().unwrap().kind,
        ApiKind::RegisterCardCallback
    );
    http_card(&dt, "card-h", "stop-route").await;
    let receipt = dt
        .emu
        .press_card("card-h", "staff42", "btn_stop", json!({"k": 1}))
        .unwrap();
    assert_eq!(receipt.mode, CallbackMode::Http);
    assert_eq!(receipt.callback_url.as_deref(), Some(url.as_str()));
    assert!(
        dt.emu
            .wait_until(|e| e.card_presses()[0].status != PressStatus::Pending, WAIT)
            .await
    );
    let press = &dt.emu.card_presses()[0];
    assert_eq!(press.status, PressStatus::Answered, "{press:?}");
    assert_eq!(press.http_status, Some(200));
    assert!(press.applied);
    let (headers, body) = seen.lock().unwrap().requests[0].clone();
    assert_eq!(headers["content-type"], "application/json");
    let ts: i64 = headers["x-ddpaas-signature-timestamp"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        headers["x-ddpaas-signature"].to_str().unwrap(),
        card_callback_signature("card-secret", ts)
    );
    let mut keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["content", "corpId", "outTrackId", "type", "userId"]);
    assert_eq!(body["type"], "actionCallback");
    assert_eq!(body["userId"], "staff42");
    let content: Value = serde_json::from_str(body["content"].as_str().unwrap()).unwrap();
    assert_eq!(content["cardPrivateData"]["actionIds"], json!(["btn_stop"]));
    // Without updateCardDataByKey the answer replaces all card data, as PUT instances does.
    let card = dt.emu.card("card-h").unwrap();
    assert_eq!(card.text("content"), "stopped");
    assert_eq!(card.text("flowStatus"), "");
}

#[tokio::test]
async fn without_an_api_secret_no_signature_and_a_slow_answer_is_dropped() {
    let dt = Dt::start(EmulatorConfig {
        card_callback_timeout: Duration::from_millis(150),
        ..quiet(None)
    })
    .await;
    let (url, seen) = callback_server(
        json!({"cardData": {"cardParamMap": {"content": "late"}}}),
        Duration::from_millis(600),
    )
    .await;
    assert_eq!(register(&dt, "slow", &url, None, false).await.0, 200);
    http_card(&dt, "card-slow", "slow").await;
    dt.emu
        .press_card("card-slow", "u", "btn_stop", Value::Null)
        .unwrap();
    assert!(
        dt.emu
            .wait_until(|e| e.card_presses()[0].status != PressStatus::Pending, WAIT)
            .await
    );
    let press = &dt.emu.card_presses()[0];
    assert_eq!(press.status, PressStatus::Failed);
    assert!(
        press.detail.as_deref().unwrap().contains("150 ms"),
        "{press:?}"
    );
    assert_eq!(dt.emu.card("card-slow").unwrap().text("content"), "");
    let (headers, _) = seen.lock().unwrap().requests[0].clone();
    assert!(headers.get("x-ddpaas-signature").is_none());
    assert!(headers.get("x-ddpaas-signature-timestamp").is_none());
}

#[tokio::test]
async fn route_registration_rules() {
    let dt = Dt::start(quiet(None)).await;
    let url = "http://127.0.0.1:9/cb";
    for (body, status, code) in [
        (json!({}), 400, "param.empty"),
        (
            json!({"callbackUrl": url}),
            400,
            "param.callbackRouteKeyEmpty",
        ),
        (
            json!({"callbackRouteKey": "k"}),
            400,
            "param.callbackUrlEmpty",
        ),
        (
            json!({"callbackRouteKey": "k", "callbackUrl": "not a url"}),
            400,
            "param.callbackUrlInvalid",
        ),
    ] {
        let (s, answer) = dt.post("/v1.0/card/callbacks/register", body).await;
        assert_eq!(error_code(s, &answer, status), code);
    }
    assert_eq!(register(&dt, "k", url, None, false).await.0, 200);
    // Taken: even the same registration needs forceUpdate.
    let (s, answer) = register(&dt, "k", url, None, false).await;
    assert_eq!(error_code(s, &answer, 500), "param.callbackRouteKeyExist");
    let (s, _) = register(&dt, "k", "http://127.0.0.1:10/cb", Some("s2"), true).await;
    assert_eq!(s, 200);
    let routes = dt.emu.card_callback_routes();
    assert_eq!(routes.len(), 1);
    assert_eq!(routes[0].callback_url, "http://127.0.0.1:10/cb");
    assert_eq!(routes[0].api_secret.as_deref(), Some("s2"));
    // A non-loopback URL may be registered, but the emulator never calls out.
    assert_eq!(
        register(&dt, "far", "https://example.com/cb", None, false)
            .await
            .0,
        200
    );
    http_card(&dt, "card-far", "far").await;
    dt.emu
        .press_card("card-far", "u", "b", Value::Null)
        .unwrap();
    assert!(
        dt.emu
            .wait_until(|e| e.card_presses()[0].status == PressStatus::Failed, WAIT)
            .await
    );
    assert!(dt.emu.card_presses()[0]
        .detail
        .as_deref()
        .unwrap()
        .contains("loopback"));
}

#[tokio::test]
async fn the_control_api_presses_and_lists() {
    let dt = Dt::start(quiet(None)).await;
    let mut ws = connect(&dt, &[CARD_CALLBACK_TOPIC]).await;
    stream_card(&dt, "card-c").await;
    let resp = client()
        .post(dt.url("/__emulator/cards/press"))
        .json(&json!({"outTrackId": "card-c", "userId": "u9", "actionId": "btn_stop"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let receipt: Value = resp.json().await.unwrap();
    assert_eq!(receipt["mode"], "Stream");
    let frame = next_frame(&mut ws).await;
    assert_eq!(frame["headers"]["messageId"], receipt["message_id"]);
    let resp = client()
        .post(dt.url("/__emulator/cards/press"))
        .json(&json!({"outTrackId": "nope", "userId": "u9", "actionId": "btn_stop"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let presses: Value = client()
        .get(dt.url("/__emulator/card-presses"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(presses[0]["action_ids"], json!(["btn_stop"]));
    let routes: Value = client()
        .get(dt.url("/__emulator/card-callback-routes"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(routes, json!([]));
}
