//! Stream mode: connections/open, tickets, frames, ACKs, pings, disconnects and redelivery, as a
//! WebSocket client sees them.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use openclaw_dingtalk_emulator::{
    dingtalk::{
        ApiKind, Closer, EmulatorConfig, FrameDirection, FrameKind, PushOptions, StreamConfig,
        StreamFrame, BOT_MESSAGE_TOPIC,
    },
    event::MessageSpec,
};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::{tungstenite::Message, MaybeTlsStream, WebSocketStream};

use crate::common::{changed, error_code, Dt, WAIT};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

fn config(stream: StreamConfig) -> EmulatorConfig {
    EmulatorConfig {
        stream,
        ..EmulatorConfig::default()
    }
}

/// Quiet defaults for tests: no pings, no periodic disconnects.
fn quiet() -> StreamConfig {
    StreamConfig {
        ping_interval: None,
        ..StreamConfig::default()
    }
}

fn open_body(dt: &Dt) -> Value {
    let c = dt.emu.config();
    json!({
        "clientId": c.app_key, "clientSecret": c.app_secret,
        "subscriptions": [{"type": "EVENT", "topic": "*"}, {"type": "CALLBACK", "topic": BOT_MESSAGE_TOPIC}],
        "ua": "emulator-test", "localIp": "127.0.0.1"
    })
}

async fn open(dt: &Dt) -> (String, String) {
    let (status, body) = dt
        .send(
            reqwest::Method::POST,
            "/v1.0/gateway/connections/open",
            None,
            open_body(dt),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    (
        body["endpoint"].as_str().unwrap().to_string(),
        body["ticket"].as_str().unwrap().to_string(),
    )
}

async fn connect(dt: &Dt) -> Ws {
    let (endpoint, ticket) = open(dt).await;
    tokio_tungstenite::connect_async(format!("{endpoint}?ticket={ticket}"))
        .await
        .expect("websocket handshake")
        .0
}

/// The next text frame as JSON (bounded wait).
async fn next_frame(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a frame in time")
            .expect("stream open")
            .expect("no error");
        if let Message::Text(t) = msg {
            return serde_json::from_str(t.as_str()).expect("JSON frame");
        }
    }
}

fn ack(frame: &Value) -> Message {
    Message::text(
        json!({"code": 200, "headers": {"contentType": "application/json", "messageId": frame["headers"]["messageId"]},
               "message": "OK", "data": "{\"response\": null}"})
        .to_string(),
    )
}

#[tokio::test]
async fn connections_open_checks_credentials_and_issues_a_ticket() {
    let dt = Dt::start(config(quiet())).await;
    let mut bad = open_body(&dt);
    bad["clientSecret"] = "wrong".into();
    let (status, body) = dt
        .send(
            reqwest::Method::POST,
            "/v1.0/gateway/connections/open",
            None,
            bad,
        )
        .await;
    assert_eq!(error_code(status, &body, 401), "authFailed");
    let mut bad_topic = open_body(&dt);
    bad_topic["subscriptions"][0]["topic"] = "/some/event".into();
    let (status, _) = dt
        .send(
            reqwest::Method::POST,
            "/v1.0/gateway/connections/open",
            None,
            bad_topic,
        )
        .await;
    assert_eq!(status, 400);
    let (endpoint, ticket) = open(&dt).await;
    assert_eq!(
        endpoint,
        format!("{}/connect", dt.emu.base_url().replace("http://", "ws://"))
    );
    assert!(!ticket.is_empty());
    let opens: Vec<u16> = dt
        .emu
        .calls()
        .iter()
        .filter(|c| c.kind == ApiKind::StreamConnectionOpen)
        .map(|c| c.status)
        .collect();
    assert_eq!(opens, [401, 400, 200]);
}

#[tokio::test]
async fn a_ticket_opens_one_connection_only() {
    let dt = Dt::start(config(quiet())).await;
    let (endpoint, ticket) = open(&dt).await;
    let url = format!("{endpoint}?ticket={ticket}");
    let _ws = tokio_tungstenite::connect_async(&url)
        .await
        .expect("first use");
    let again = tokio_tungstenite::connect_async(&url).await;
    assert!(
        matches!(&again, Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == 401),
        "{again:?}"
    );
    let unknown = tokio_tungstenite::connect_async(format!("{endpoint}?ticket=nope")).await;
    assert!(unknown.is_err());
    assert_eq!(dt.emu.stream_connections().len(), 1);
}

#[tokio::test]
async fn bot_message_arrives_as_a_documented_callback_and_the_ack_is_recorded() {
    let dt = Dt::start(config(quiet())).await;
    let mut ws = connect(&dt).await;
    let msg_id = dt
        .emu
        .push_bot_message(MessageSpec::group_text("cidStream==", "你好"));
    let frame = next_frame(&mut ws).await;
    assert_eq!(frame["specVersion"], "1.0");
    assert_eq!(frame["type"], "CALLBACK");
    assert_eq!(frame["headers"]["topic"], BOT_MESSAGE_TOPIC);
    assert_eq!(frame["headers"]["contentType"], "application/json");
    assert!(frame["headers"]["time"].is_string());
    let data: Value =
        serde_json::from_str(frame["data"].as_str().expect("data is a string")).unwrap();
    assert_eq!(data["msgId"], msg_id.as_str());
    assert_eq!(data["text"]["content"], " 你好");
    ws.send(ack(&frame)).await.unwrap();
    assert!(
        dt.emu
            .wait_for_frames(|f| f.iter().any(|f| f.kind == FrameKind::Ack), WAIT)
            .await
    );
    let frames = dt.emu.stream_frames();
    let ackf = frames.iter().find(|f| f.kind == FrameKind::Ack).unwrap();
    assert_eq!(ackf.direction, FrameDirection::FromClient);
    assert_eq!(ackf.msg_id.as_deref(), Some(msg_id.as_str()));
    assert!(ackf.problems.is_empty(), "{:?}", ackf.problems);
}

#[tokio::test]
async fn pings_must_be_answered_with_their_data() {
    let dt = Dt::start(config(StreamConfig {
        ping_interval: Some(Duration::from_millis(50)),
        ..quiet()
    }))
    .await;
    let mut ws = connect(&dt).await;
    let ping = next_frame(&mut ws).await;
    assert_eq!(
        (ping["type"].as_str(), ping["headers"]["topic"].as_str()),
        (Some("SYSTEM"), Some("ping"))
    );
    let good = json!({"code": 200, "headers": {"contentType": "application/json", "messageId": ping["headers"]["messageId"]},
                      "message": "OK", "data": ping["data"]});
    ws.send(Message::text(good.to_string())).await.unwrap();
    let ping2 = next_frame(&mut ws).await;
    let bad = json!({"code": 200, "headers": {"contentType": "application/json", "messageId": ping2["headers"]["messageId"]},
                     "message": "OK", "data": "{}"});
    ws.send(Message::text(bad.to_string())).await.unwrap();
    assert!(
        dt.emu
            .wait_for_frames(
                |f| f.iter().filter(|f| f.kind == FrameKind::Pong).count() == 2,
                WAIT
            )
            .await
    );
    let pongs: Vec<usize> = dt
        .emu
        .stream_frames()
        .iter()
        .filter(|f| f.kind == FrameKind::Pong)
        .map(|f| f.problems.len())
        .collect();
    assert_eq!(pongs, [0, 1]);
}

#[tokio::test]
async fn disconnect_frame_then_server_close_after_the_grace_period() {
    let dt = Dt::start(config(quiet())).await;
    let mut ws = connect(&dt).await;
    assert_eq!(
        dt.emu
            .disconnect_all_after("connection is expired", Duration::from_millis(200)),
        1
    );
    let frame = next_frame(&mut ws).await;
    assert_eq!(frame["type"], "SYSTEM");
    assert_eq!(frame["headers"]["topic"], "disconnect");
    assert_eq!(frame["data"], r#"{"reason":"connection is expired"}"#);
    // A push now waits for a connection that was not told to disconnect.
    let msg_id = dt
        .emu
        .push_bot_message(MessageSpec::direct_text("after disconnect"));
    let mut second = connect(&dt).await;
    let callback = next_frame(&mut second).await;
    assert!(callback["data"].as_str().unwrap().contains(&msg_id));
    // The old socket ends (close frame, then EOF).
    let end = tokio::time::timeout(WAIT, async {
        while let Some(Ok(m)) = ws.next().await {
            if m.is_close() {
                break;
            }
        }
    })
    .await;
    assert!(end.is_ok(), "server closed the old connection");
    assert!(
        dt.emu
            .wait_until(
                |e| e.stream_connections()[0].closed_by == Some(Closer::Server),
                WAIT
            )
            .await
    );
    let conns = dt.emu.stream_connections();
    assert!(conns[0].disconnect_sent_at_ms.is_some());
    assert!(conns[1].is_open());
}

#[tokio::test]
async fn unacked_callbacks_are_redelivered_with_the_same_message_id() {
    let dt = Dt::start(config(StreamConfig {
        redelivery_after: Some(Duration::from_millis(100)),
        ..quiet()
    }))
    .await;
    let mut ws = connect(&dt).await;
    let receipt = dt.emu.push_bot_message_with(
        MessageSpec::direct_text("hello"),
        PushOptions { lose_acks: 1 },
    );
    let first = next_frame(&mut ws).await;
    ws.send(ack(&first)).await.unwrap(); // "lost"
    let second = next_frame(&mut ws).await;
    assert_eq!(
        second["headers"]["messageId"],
        first["headers"]["messageId"]
    );
    assert_eq!(second["headers"]["messageId"], receipt.message_id.as_str());
    ws.send(ack(&second)).await.unwrap();
    assert!(
        dt.emu
            .wait_for_frames(
                |f| f.iter().filter(|f| f.kind == FrameKind::Ack).count() == 2,
                WAIT
            )
            .await
    );
    let frames = dt.emu.stream_frames();
    let callbacks: Vec<bool> = frames
        .iter()
        .filter(|f| f.kind == FrameKind::Callback)
        .map(|f| f.redelivery)
        .collect();
    assert_eq!(callbacks, [false, true]);
    let acks: Vec<bool> = frames
        .iter()
        .filter(|f| f.kind == FrameKind::Ack)
        .map(|f| f.ack_lost)
        .collect();
    assert_eq!(acks, [true, false]);
    // ACKed now: no third delivery, even after several redelivery periods.
    let third = tokio::time::timeout(Duration::from_millis(400), next_frame(&mut ws)).await;
    assert!(third.is_err(), "no delivery after the ACK: {third:?}");
}

#[tokio::test]
async fn periodic_disconnects() {
    let dt = Dt::start(config(StreamConfig {
        disconnect_every: Some(Duration::from_millis(100)),
        disconnect_grace: Duration::from_millis(100),
        ..quiet()
    }))
    .await;
    let mut ws = connect(&dt).await;
    let frame = next_frame(&mut ws).await;
    assert_eq!(frame["headers"]["topic"], "disconnect");
}

#[tokio::test]
async fn control_api_pushes_disconnects_and_lists_frames() {
    let dt = Dt::start(config(quiet())).await;
    let mut ws = connect(&dt).await;
    let spec = serde_json::to_value(MessageSpec::direct_text("via control")).unwrap();
    let (status, receipt) = dt
        .send(reqwest::Method::POST, "/__emulator/stream/push", None, spec)
        .await;
    assert_eq!(status, 200, "{receipt}");
    let frame = next_frame(&mut ws).await;
    assert_eq!(frame["headers"]["messageId"], receipt["message_id"]);
    ws.send(ack(&frame)).await.unwrap();
    assert!(dt.emu.wait_for_frames(|f| f.len() == 2, WAIT).await);
    let (status, body) = dt
        .send(
            reqwest::Method::POST,
            "/__emulator/stream/disconnect",
            None,
            json!({"grace_ms": 50}),
        )
        .await;
    assert_eq!((status, body["connections"].as_u64()), (200, Some(1)));
    let (_, frames) = dt
        .send(
            reqwest::Method::GET,
            "/__emulator/stream/frames",
            None,
            Value::Null,
        )
        .await;
    let kinds: Vec<&str> = frames
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["Callback", "Ack", "Disconnect"]);
    let (_, conns) = dt
        .send(
            reqwest::Method::GET,
            "/__emulator/stream/connections",
            None,
            Value::Null,
        )
        .await;
    assert_eq!(conns.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn record_limit_bounds_frames_pushes_tickets_and_closed_connections() {
    let dt = Dt::start(EmulatorConfig {
        record_limit: Some(50),
        qps_limit: None,
        ..config(quiet())
    })
    .await;
    let mut ws = connect(&dt).await;
    let mut last = String::new();
    for i in 0..500 {
        last = dt
            .emu
            .push_bot_message(MessageSpec::group_text("cidStream==", &format!("第{i}条")));
        let frame = next_frame(&mut ws).await;
        ws.send(ack(&frame)).await.unwrap();
    }
    assert!(
        dt.emu
            .wait_for_frames(
                |f| f.last().is_some_and(
                    |f| f.kind == FrameKind::Ack && f.msg_id.as_deref() == Some(last.as_str())
                ),
                WAIT
            )
            .await
    );
    let frames = dt.emu.stream_frames();
    let seqs: Vec<u64> = frames.iter().map(|f| f.seq).collect();
    assert_eq!(
        seqs,
        (951..=1000).collect::<Vec<u64>>(),
        "the newest frames"
    );
    assert!(
        frames.iter().all(|f| f.problems.is_empty()),
        "ACKs of kept pushes still match"
    );

    // Tickets: the oldest unused one is forgotten.
    let (endpoint, first_ticket) = open(&dt).await;
    for _ in 0..60 {
        open(&dt).await;
    }
    let stale = tokio_tungstenite::connect_async(format!("{endpoint}?ticket={first_ticket}")).await;
    assert!(
        matches!(&stale, Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == 401),
        "{stale:?}"
    );

    // Connections: closed ones go, the open one stays.
    for _ in 0..60 {
        let mut other = connect(&dt).await;
        other.close(None).await.unwrap();
        let id = dt.emu.stream_connections().last().unwrap().id;
        assert!(
            dt.emu
                .wait_until(
                    |e| e
                        .stream_connections()
                        .iter()
                        .all(|c| c.id != id || !c.is_open()),
                    WAIT
                )
                .await
        );
    }
    let connections = dt.emu.stream_connections();
    assert_eq!(connections.len(), 50);
    assert_eq!(connections[0].id, 1);
    assert!(connections[0].is_open());
    assert_eq!(connections.last().unwrap().id, 61);
    drop(ws);
}

#[tokio::test]
async fn the_change_feed_wakes_on_stream_frames_and_connections() {
    let dt = Dt::start(config(quiet())).await;
    let mut rx = dt.emu.subscribe_changes();
    let mut ws = connect(&dt).await;
    // connections/open is a call; the connection itself is a change of its own.
    assert!(
        dt.emu
            .wait_until(|e| e.stream_connections().len() == 1, WAIT)
            .await
    );
    rx.borrow_and_update();
    dt.emu
        .push_bot_message(MessageSpec::group_text("cidFeed==", "推送"));
    changed(&mut rx).await;
    assert_eq!(dt.emu.stream_frames().len(), 1, "the callback frame");
    let frame = next_frame(&mut ws).await;
    ws.send(ack(&frame)).await.unwrap();
    changed(&mut rx).await;
    assert!(dt.emu.wait_for_frames(|f| f.len() == 2, WAIT).await);
    drop(ws);
    changed(&mut rx).await;
    assert!(
        dt.emu
            .wait_until(|e| !e.stream_connections()[0].is_open(), WAIT)
            .await,
        "the close is a change too"
    );
}

#[tokio::test]
async fn several_connections_share_the_pushes_and_a_redelivery_goes_to_another_one() {
    let dt = Dt::start(config(StreamConfig {
        redelivery_after: Some(Duration::from_millis(100)),
        ..quiet()
    }))
    .await;
    // Three hosts of one app, each with its own connection (ids 1, 2, 3 in this order).
    let mut hosts = vec![connect(&dt).await, connect(&dt).await, connect(&dt).await];
    for i in 0..9 {
        dt.emu
            .push_bot_message(MessageSpec::group_text("cidShared==", &format!("第{i}条")));
    }
    // Each connection gets its share, every third push, and each callback once.
    for ws in &mut hosts {
        for _ in 0..3 {
            let frame = next_frame(ws).await;
            ws.send(ack(&frame)).await.unwrap();
        }
    }
    assert!(
        dt.emu
            .wait_for_frames(
                |f| f.iter().filter(|f| f.kind == FrameKind::Ack).count() == 9,
                WAIT
            )
            .await
    );
    let frames = dt.emu.stream_frames();
    let on: Vec<u64> = frames
        .iter()
        .filter(|f| f.kind == FrameKind::Callback)
        .map(|f| f.connection)
        .collect();
    assert_eq!(on, [1, 2, 3, 1, 2, 3, 1, 2, 3]);
    for f in frames.iter().filter(|f| f.kind == FrameKind::Ack) {
        let callback = frames
            .iter()
            .find(|c| c.kind == FrameKind::Callback && c.message_id == f.message_id)
            .unwrap();
        assert_eq!(f.connection, callback.connection, "ACKed where it arrived");
    }

    // A lost ACK: the callback comes again on another connection, which ACKs it.
    let receipt = dt.emu.push_bot_message_with(
        MessageSpec::group_text("cidShared==", "确认丢失"),
        PushOptions { lose_acks: 1 },
    );
    let callbacks_of = |frames: &[StreamFrame]| {
        frames
            .iter()
            .filter(|f| {
                f.kind == FrameKind::Callback && f.msg_id.as_deref() == Some(&receipt.msg_id)
            })
            .map(|f| f.connection)
            .collect::<Vec<u64>>()
    };
    let first = callbacks_of(&dt.emu.stream_frames())[0];
    assert_eq!(first, 1, "the next connection in turn");
    let frame = next_frame(&mut hosts[first as usize - 1]).await;
    hosts[first as usize - 1].send(ack(&frame)).await.unwrap(); // "lost"
    assert!(
        dt.emu
            .wait_for_frames(|f| callbacks_of(f).len() == 2, WAIT)
            .await
    );
    let second = callbacks_of(&dt.emu.stream_frames())[1];
    assert_ne!(second, first, "redelivered on a different connection");
    let again = next_frame(&mut hosts[second as usize - 1]).await;
    assert_eq!(again["headers"]["messageId"], receipt.message_id.as_str());
    hosts[second as usize - 1].send(ack(&again)).await.unwrap();
    assert!(
        dt.emu
            .wait_for_frames(
                |f| f.iter().any(|f| f.kind == FrameKind::Ack
                    && !f.ack_lost
                    && f.msg_id.as_deref() == Some(&receipt.msg_id)),
                WAIT
            )
            .await
    );
    let frames = dt.emu.stream_frames();
    let redelivered = frames
        .iter()
        .filter(|f| f.kind == FrameKind::Callback && f.msg_id.as_deref() == Some(&receipt.msg_id))
        .map(|f| f.redelivery)
        .collect::<Vec<bool>>();
    assert_eq!(redelivered, [false, true]);
    // No connection got anything more.
    for ws in &mut hosts {
        let extra = tokio::time::timeout(Duration::from_millis(300), next_frame(ws)).await;
        assert!(extra.is_err(), "nothing more: {extra:?}");
    }
}

#[tokio::test]
async fn pushes_skip_connections_told_to_disconnect_and_frozen_ones() {
    let dt = Dt::start(config(quiet())).await;
    let mut old = connect(&dt).await;
    // Long grace: #1 stays open, told to disconnect; pushes go to #2 only.
    dt.emu
        .disconnect_all_after("connection is expired", Duration::from_secs(30));
    let told = next_frame(&mut old).await;
    assert_eq!(told["headers"]["topic"], "disconnect");
    let mut new = connect(&dt).await;
    for i in 0..3 {
        dt.emu
            .push_bot_message(MessageSpec::group_text("cidSkip==", &format!("第{i}条")));
        let frame = next_frame(&mut new).await;
        new.send(ack(&frame)).await.unwrap();
    }
    let on: Vec<u64> = dt
        .emu
        .stream_frames()
        .iter()
        .filter(|f| f.kind == FrameKind::Callback)
        .map(|f| f.connection)
        .collect();
    assert_eq!(on, [2, 2, 2]);
    // Frozen (a dead peer): a push waits for the next connection.
    dt.emu.freeze_connections();
    let waiting = dt
        .emu
        .push_bot_message(MessageSpec::group_text("cidSkip==", "等待"));
    let mut third = connect(&dt).await;
    let frame = next_frame(&mut third).await;
    let data: Value = serde_json::from_str(frame["data"].as_str().unwrap()).unwrap();
    assert_eq!(data["msgId"], waiting.as_str());
    drop((old, new));
}
