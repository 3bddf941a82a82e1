//! `openclaw-skill run` ↔ DingTalk emulator (Stream mode or HTTP callbacks) ↔ fake gateway, as
//! processes on 127.0.0.1. Assertions are on what a user would see (cards, their text, how many)
//! and on the wire record (frames, ACKs, connections).

mod support;

use std::time::Duration;

use openclaw_dingtalk_emulator::dingtalk::{
    CardState, Closer, FrameDirection, FrameKind, PushOptions, StreamConfig, StreamFrame,
};
use openclaw_dingtalk_emulator::event::{callback_headers, Content, MessageSpec};
use support::{quiet_stream, tokens, Env, TestManifest};

/// Stream mode, written out.
fn stream(env: &Env) -> TestManifest {
    env.manifest().stream_ingress()
}

fn callbacks_of<'a>(frames: &'a [StreamFrame], msg_id: &str) -> Vec<&'a StreamFrame> {
    frames
        .iter()
        .filter(|f| f.kind == FrameKind::Callback && f.msg_id.as_deref() == Some(msg_id))
        .collect()
}

fn acks_of<'a>(frames: &'a [StreamFrame], msg_id: &str) -> Vec<&'a StreamFrame> {
    frames
        .iter()
        .filter(|f| f.kind == FrameKind::Ack && f.msg_id.as_deref() == Some(msg_id))
        .collect()
}

/// Every frame the host sent follows the documented shape.
fn assert_client_frames_well_formed(frames: &[StreamFrame]) {
    for f in frames
        .iter()
        .filter(|f| f.direction == FrameDirection::FromClient)
    {
        assert!(
            f.problems.is_empty(),
            "frame {} {:?}: {:?}",
            f.seq,
            f.text,
            f.problems
        );
        assert_ne!(f.kind, FrameKind::Unmatched, "{f:?}");
    }
}

fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(series)
                .and_then(|rest| rest.trim().parse().ok())
        })
        .unwrap_or_else(|| panic!("no series {series} in\n{text}"))
}

#[test]
fn stream_message_ends_in_a_finished_card() {
    let env = Env::start(
        "stream-basic",
        StreamConfig {
            ping_interval: Some(Duration::from_millis(200)),
            ..quiet_stream()
        },
    );
    let manifest = env.write(stream(&env));
    let mut host = env.host(&manifest, &["--metrics-listen", "127.0.0.1:0"]);
    let metrics_url = host.logged_url("metrics listening on ");
    env.wait_connections(1);

    // A message the skill cannot forward first (a video): answered with a plain reply, and
    // the connection serves on.
    let video = env.dt.push_bot_message(MessageSpec {
        content: Content::Video,
        ..MessageSpec::group_text("cidVideo==", "")
    });
    let msg = env
        .dt
        .push_bot_message(MessageSpec::group_text("cidStreamA==", "TOKENS:12 PACE:20"));
    let card = env.wait_card_finished("cidStreamA==");
    assert_eq!(card.text("content").trim_end(), tokens(12));
    env.wait("a plain reply to the video", |e| {
        !e.sent_messages().is_empty()
    });
    // Pings were answered with their data (checked by the emulator).
    env.wait("a ping answered", |e| {
        e.stream_frames().iter().any(|f| f.kind == FrameKind::Pong)
    });

    let frames = env.dt.stream_frames();
    assert_client_frames_well_formed(&frames);
    for id in [&video, &msg] {
        assert_eq!(callbacks_of(&frames, id).len(), 1, "delivered once");
        assert_eq!(acks_of(&frames, id).len(), 1, "ACKed once");
    }
    // Every callback is ACKed exactly once (above). That the ACK is written before the event
    // is handed to the skill is the order of `on_text` in `skill/host/src/ingress/stream.rs`; it is not asserted here by time,
    // because the emulator stamps a frame when its reader task gets to it, which can be tens of
    // milliseconds after a card the skill created at once.
    assert_eq!(env.cards_in("cidStreamA==").len(), 1, "exactly one card");

    // One log line per event, with the outcome; metrics after the line was written.
    let line = host.wait_log("event line", |m| {
        m.starts_with("event source=stream") && m.contains(&msg) && m.contains("outcome=finished")
    });
    assert!(line.contains("conv=cidStreamA=="), "{line}");
    assert!(line.contains("first_card_ms="), "{line}");
    host.wait_log("video event line", |m| {
        m.contains(&video) && m.contains("outcome=replied")
    });
    let text = env.get_text(&metrics_url);
    assert_eq!(
        metric(
            &text,
            "openclaw_ingress_events_total{source=\"stream\",result=\"accepted\"}"
        ),
        2.0
    );
    assert_eq!(
        metric(&text, "openclaw_replies_total{outcome=\"finished\"}"),
        1.0
    );
    assert_eq!(
        metric(&text, "openclaw_replies_total{outcome=\"replied\"}"),
        1.0
    );
    assert_eq!(
        metric(
            &text,
            "openclaw_dingtalk_calls_total{app=\"default\",kind=\"create\"}"
        ),
        1.0
    );
    assert!(metric(&text, "openclaw_stream_frames_total{type=\"ping\"}") >= 1.0);
    assert_eq!(metric(&text, "openclaw_stream_connected"), 1.0);
    assert_eq!(
        metric(&text, "openclaw_reply_first_card_seconds_count"),
        1.0
    );

    // No secret in the logs.
    let secret = env.dt.config().app_secret.clone();
    assert!(!host.raw_lines().iter().any(|l| l.contains(&secret)));

    host.sigterm();
    assert!(host.wait_exit().success());
}

#[test]
fn server_disconnect_in_the_middle_of_a_reply_loses_and_duplicates_nothing() {
    let env = Env::start("stream-disconnect", quiet_stream());
    let manifest = env.write(stream(&env));
    let mut host = env.host(&manifest, &[]);
    env.wait_connections(1);

    let slow = env
        .dt
        .push_bot_message(MessageSpec::group_text("cidSlow==", "TOKENS:30 PACE:50"));
    env.wait("the slow reply's card", |e| {
        e.cards()
            .iter()
            .any(|c| c.open_space_id.ends_with("cidSlow==") && !c.text("content").is_empty())
    });
    assert_eq!(
        env.dt
            .disconnect_all_after("connection is expired", Duration::from_secs(5)),
        1
    );
    // Pushed right after the disconnect frame: waits for (or goes to) the new connection.
    let during = env
        .dt
        .push_bot_message(MessageSpec::group_text("cidDuring==", "TOKENS:5"));
    env.wait_connections(2);
    let after = env
        .dt
        .push_bot_message(MessageSpec::group_text("cidAfter==", "TOKENS:7"));

    assert_eq!(
        env.wait_card_finished("cidSlow==")
            .text("content")
            .trim_end(),
        tokens(30)
    );
    assert_eq!(
        env.wait_card_finished("cidDuring==")
            .text("content")
            .trim_end(),
        tokens(5)
    );
    assert_eq!(
        env.wait_card_finished("cidAfter==")
            .text("content")
            .trim_end(),
        tokens(7)
    );
    env.wait("the old connection closed", |e| {
        !e.stream_connections()[0].is_open()
    });

    // The log says, at INFO, when each connection is up and when #2 replaced #1.
    let app = env.dt.config().app_key.clone();
    let endpoint = format!(
        "{}/connect",
        env.dt.base_url().replacen("http://", "ws://", 1)
    );
    for no in [1, 2] {
        let up = format!("stream #{no}: connected (app {app}) to {endpoint} (ticket ***)");
        host.wait_log(&up, |m| m == up);
        assert_eq!(host.level_of(&up).as_deref(), Some("INFO"), "{up}");
    }
    let replaced = host.wait_log("#2 replaced #1", |m| {
        m.starts_with("stream #2: serving, ")
            && m.ends_with(" ms after the disconnect frame; closing #1")
    });
    assert_eq!(host.level_of(&replaced).as_deref(), Some("INFO"));
    let closed = host.wait_log("#1 closed", |m| m == "stream #1: closed by the host");
    assert_eq!(host.level_of(&closed).as_deref(), Some("INFO"));

    let conns = env.dt.stream_connections();
    assert_eq!(conns.len(), 2);
    let (old, new) = (&conns[0], &conns[1]);
    let told = old.disconnect_sent_at_ms.expect("disconnect sent");
    let closed = old.closed_at_ms.expect("old closed");
    assert!(
        new.opened_at_ms <= closed,
        "the new connection opened before the old one closed"
    );
    assert_eq!(
        old.closed_by,
        Some(Closer::Client),
        "the host closed the old one, before the server's 5 s"
    );
    eprintln!(
        "reconnect after disconnect frame: new connection {} ms after the frame; old closed {} ms after it",
        new.opened_at_ms - told,
        closed - told
    );
    let frames = env.dt.stream_frames();
    assert_client_frames_well_formed(&frames);
    for id in [&slow, &during, &after] {
        assert_eq!(callbacks_of(&frames, id).len(), 1, "{id} delivered once");
        assert_eq!(acks_of(&frames, id).len(), 1, "{id} ACKed once");
    }
    assert!(!frames.iter().any(|f| f.redelivery));
    for conv in ["cidSlow==", "cidDuring==", "cidAfter=="] {
        assert_eq!(env.cards_in(conv).len(), 1, "one card in {conv}");
    }
    host.sigterm();
    assert!(host.wait_exit().success());
}

#[test]
fn three_server_disconnects_in_a_row_every_message_answered_exactly_once() {
    let env = Env::start("stream-three", quiet_stream());
    let manifest = env.write(stream(&env));
    let mut host = env.host(&manifest, &[]);
    env.wait_connections(1);

    let mut expected = Vec::new(); // (conversation, msg_id, tokens)
    for round in 0..3 {
        let conv = format!("cidRound{round}Slow==");
        let id = env
            .dt
            .push_bot_message(MessageSpec::group_text(&conv, "TOKENS:20 PACE:40"));
        expected.push((conv.clone(), id, 20));
        env.wait(&format!("round {round} card"), |e| {
            e.cards().iter().any(|c| c.open_space_id.ends_with(&conv))
        });
        assert_eq!(
            env.dt
                .disconnect_all_after("connection is expired", Duration::from_secs(5)),
            1
        );
        let conv = format!("cidRound{round}Gap==");
        let id = env
            .dt
            .push_bot_message(MessageSpec::group_text(&conv, "TOKENS:4"));
        expected.push((conv, id, 4));
        env.wait_connections(round + 2);
    }
    let id = env
        .dt
        .push_bot_message(MessageSpec::group_text("cidLast==", "TOKENS:6"));
    expected.push(("cidLast==".into(), id, 6));

    for (conv, _, n) in &expected {
        assert_eq!(
            env.wait_card_finished(conv).text("content").trim_end(),
            tokens(*n),
            "{conv}"
        );
    }
    env.wait("three old connections closed", |e| {
        e.stream_connections()
            .iter()
            .filter(|c| !c.is_open())
            .count()
            == 3
    });
    let frames = env.dt.stream_frames();
    assert_client_frames_well_formed(&frames);
    for (conv, id, _) in &expected {
        assert_eq!(env.cards_in(conv).len(), 1, "exactly one card in {conv}");
        assert_eq!(callbacks_of(&frames, id).len(), 1, "{conv} delivered once");
        assert_eq!(acks_of(&frames, id).len(), 1, "{conv} ACKed once");
    }
    assert_eq!(env.dt.cards().len(), expected.len());
    assert!(env
        .dt
        .cards()
        .iter()
        .all(|c| c.state == CardState::Finished));
    let conns = env.dt.stream_connections();
    assert_eq!(conns.len(), 4);
    for pair in conns.windows(2) {
        assert!(pair[1].opened_at_ms <= pair[0].closed_at_ms.expect("closed"));
    }
    host.sigterm();
    assert!(host.wait_exit().success());
    // After the exit every reply's log line is written: one per message, all finished.
    let lines: Vec<String> = host
        .messages()
        .into_iter()
        .filter(|m| m.starts_with("event source=stream"))
        .collect();
    assert_eq!(lines.len(), expected.len(), "{lines:#?}");
    for (conv, id, _) in &expected {
        assert_eq!(
            lines
                .iter()
                .filter(|m| m.contains(id.as_str()) && m.contains("outcome=finished"))
                .count(),
            1,
            "{conv}"
        );
    }
}

#[test]
fn an_unacked_redelivery_is_answered_once() {
    let env = Env::start(
        "stream-redelivery",
        StreamConfig {
            redelivery_after: Some(Duration::from_millis(300)),
            ..quiet_stream()
        },
    );
    let manifest = env.write(stream(&env));
    let mut host = env.host(&manifest, &[]);
    env.wait_connections(1);
    // The host's first ACK is "lost": the emulator delivers the message again ~300 ms later.
    let receipt = env.dt.push_bot_message_with(
        MessageSpec::group_text("cidRedeliver==", "TOKENS:15 PACE:40"),
        PushOptions { lose_acks: 1 },
    );
    let card = env.wait_card_finished("cidRedeliver==");
    assert_eq!(card.text("content").trim_end(), tokens(15));
    host.wait_log("the redelivery skipped as a duplicate", |m| {
        m.contains(&receipt.msg_id) && m.contains("outcome=skipped")
    });
    let frames = env.dt.stream_frames();
    let deliveries = callbacks_of(&frames, &receipt.msg_id);
    assert_eq!(deliveries.len(), 2);
    assert!(deliveries[1].redelivery);
    let acks = acks_of(&frames, &receipt.msg_id);
    assert_eq!(
        acks.iter().map(|a| a.ack_lost).collect::<Vec<_>>(),
        [true, false]
    );
    assert_client_frames_well_formed(&frames);
    assert_eq!(env.cards_in("cidRedeliver==").len(), 1, "answered once");
    assert!(env.dt.sent_messages().is_empty(), "no extra plain message");
    host.sigterm();
    assert!(host.wait_exit().success());
    // After the exit every reply's log line is written: one finished, one skipped.
    let mut outcomes: Vec<&str> = host
        .messages()
        .iter()
        .filter(|m| m.starts_with("event source=stream") && m.contains(&receipt.msg_id))
        .map(|m| {
            if m.contains("outcome=finished") {
                "finished"
            } else if m.contains("outcome=skipped") {
                "skipped"
            } else {
                "other"
            }
        })
        .collect();
    outcomes.sort();
    assert_eq!(outcomes, ["finished", "skipped"]);
}

#[test]
fn a_silent_socket_is_replaced() {
    let env = Env::start("stream-silence", quiet_stream());
    let manifest =
        env.write(stream(&env).with(|m| m.ingress.stream.silence_timeout_ms = Some(900)));
    let mut host = env.host(&manifest, &[]);
    env.wait_connections(1);
    assert_eq!(env.dt.freeze_connections(), 1);
    let silent = host.wait_log("silence detected", |m| {
        m.starts_with("stream #1: silent for more than 900 ms") && m.contains("reconnecting in")
    });
    assert_eq!(host.level_of(&silent).as_deref(), Some("WARN"));
    env.wait_connections(2);
    // The replacement's INFO line.
    let up = host.wait_log("#2 up", |m| m.starts_with("stream #2: connected (app "));
    assert_eq!(host.level_of(&up).as_deref(), Some("INFO"));
    env.dt
        .push_bot_message(MessageSpec::group_text("cidAfterSilence==", "TOKENS:3"));
    assert_eq!(
        env.wait_card_finished("cidAfterSilence==")
            .text("content")
            .trim_end(),
        tokens(3)
    );
    host.sigterm();
    assert!(host.wait_exit().success());
}

#[test]
fn refused_credentials_fail_fast_without_leaking_the_secret() {
    let env = Env::start("stream-auth", quiet_stream());
    let manifest = env.write(stream(&env).app_secret("wrong-secret-value"));
    let mut host = env.host(&manifest, &[]);
    let status = host.wait_exit();
    assert!(!status.success());
    let lines = host.raw_lines();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("refused the app credentials")),
        "{lines:#?}"
    );
    assert!(!lines.iter().any(|l| l.contains("wrong-secret-value")));
}

#[test]
fn http_mode_checks_signatures_and_answers_good_callbacks() {
    let env = Env::start("http", quiet_stream());
    let manifest = env.write(http(&env));
    let mut host = env.host(&manifest, &["--metrics-listen", "127.0.0.1:0"]);
    let metrics_url = host.logged_url("metrics listening on ");
    let url = host.logged_url("http callback mode: listening on ");
    let secret = env.dt.config().app_secret.clone();
    let body = env
        .dt
        .bot_message(MessageSpec::group_text("cidHttp==", "TOKENS:6"))
        .to_string();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    // A fresh connection per request: the server closes a connection whose body it refused
    // unread (413), and a pooled one could be reused before the client sees that close.
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let post = |headers: Vec<(String, String)>, body: String| env.post(&url, &headers, body);
    let with = |mut h: Vec<(String, String)>, name: &str, value: &str| {
        for (k, v) in h.iter_mut() {
            if k == name {
                *v = value.to_owned();
            }
        }
        h
    };
    let good = callback_headers(&secret, now);

    let (status, _) = post(
        vec![("content-type".into(), "application/json".into())],
        body.clone(),
    );
    assert_eq!(status, 401, "no signature");
    let (status, _) = post(with(good.clone(), "sign", "AAAA"), body.clone());
    assert_eq!(status, 403, "bad signature");
    let (status, _) = post(callback_headers("another-secret", now), body.clone());
    assert_eq!(status, 403, "signed with another secret");
    let stale = now - 2 * 3600 * 1000;
    let (status, _) = post(callback_headers(&secret, stale), body.clone());
    assert_eq!(status, 403, "stale timestamp, correctly signed");
    let (status, _) = post(good.clone(), "x".repeat(65537));
    assert_eq!(status, 413, "body over the limit");
    // Another path, another method: axum's answers, before any check.
    let other = url.replace("/dingtalk/callback", "/other");
    let (status, _) = env.rt.block_on(async {
        let r = client.post(&other).body("{}").send().await.expect("POST");
        (r.status().as_u16(), r.text().await)
    });
    assert_eq!(status, 404, "wrong path");
    let (status, _) = env.rt.block_on(async {
        let r = client.get(&url).send().await.expect("GET");
        (r.status().as_u16(), r.text().await)
    });
    assert_eq!(status, 405, "wrong method");
    assert!(env.dt.cards().is_empty(), "nothing reached the skill");

    let (status, answer) = post(good.clone(), body.clone());
    assert_eq!((status, answer.as_str()), (200, r#"{"success":true}"#));
    let card = env.wait_card_finished("cidHttp==");
    assert_eq!(card.text("content").trim_end(), tokens(6));
    host.wait_log("event line", |m| {
        m.starts_with("event source=http") && m.contains("outcome=finished")
    });

    let text = env.get_text(&metrics_url);
    for (series, n) in [
        ("status=\"401\",reason=\"missing_signature\"", 1.0),
        ("status=\"403\",reason=\"bad_signature\"", 2.0),
        ("status=\"403\",reason=\"stale_timestamp\"", 1.0),
        ("status=\"413\",reason=\"body_too_large\"", 1.0),
    ] {
        assert_eq!(
            metric(
                &text,
                &format!("openclaw_http_callback_rejected_total{{{series}}}")
            ),
            n,
            "{series}"
        );
    }
    // Two bad signatures from the same address in the same minute: one log line.
    let bad_lines = host
        .messages()
        .into_iter()
        .filter(|m| m.contains("refused with 403: bad signature"))
        .count();
    assert_eq!(bad_lines, 1);
    assert_eq!(
        metric(
            &text,
            "openclaw_ingress_events_total{source=\"http\",result=\"accepted\"}"
        ),
        1.0
    );
    assert!(!host.raw_lines().iter().any(|l| l.contains(&secret)));

    host.sigterm();
    assert!(host.wait_exit().success());
}

#[test]
fn sigterm_during_a_reply_finalizes_the_card_before_exit() {
    let env = Env::start("sigterm", quiet_stream());
    let manifest = env.write(stream(&env));
    let mut host = env.host(&manifest, &["--shutdown-deadline-ms", "20000"]);
    env.wait_connections(1);
    env.dt
        .push_bot_message(MessageSpec::group_text("cidTerm==", "TOKENS:40 PACE:50"));
    env.wait("the card streaming", |e| {
        e.cards().iter().any(|c| {
            c.open_space_id.ends_with("cidTerm==")
                && c.state == CardState::Inputting
                && !c.text("content").is_empty()
        })
    });
    host.sigterm();
    let status = host.wait_exit();
    assert!(status.success(), "{status:?}");
    // Checked after the exit, without waiting: the card was finished before the process ended.
    let cards = env.cards_in("cidTerm==");
    assert_eq!(cards.len(), 1);
    assert_eq!(cards[0].state, CardState::Finished);
    assert_eq!(cards[0].text("content").trim_end(), tokens(40));
    assert!(host
        .messages()
        .iter()
        .any(|m| m.starts_with("signal received")));
    // Intake stopped: the socket was closed by the host.
    assert_eq!(
        env.dt.stream_connections()[0].closed_by,
        Some(Closer::Client)
    );
}

#[test]
fn sigterm_with_a_short_deadline_finalizes_the_card_as_interrupted() {
    let env = Env::start("sigterm-short", quiet_stream());
    let manifest = env.write(stream(&env));
    let mut host = env.host(&manifest, &["--shutdown-deadline-ms", "1500"]);
    env.wait_connections(1);
    env.dt
        .push_bot_message(MessageSpec::group_text("cidLong==", "TOKENS:300 PACE:100"));
    env.wait("the card streaming", |e| {
        e.cards()
            .iter()
            .any(|c| c.open_space_id.ends_with("cidLong==") && !c.text("content").is_empty())
    });
    host.sigterm();
    assert!(host.wait_exit().success());
    let cards = env.cards_in("cidLong==");
    assert_eq!(cards.len(), 1);
    assert!(
        matches!(cards[0].state, CardState::Finished | CardState::Failed),
        "finalized before exit: {:?}",
        cards[0].state
    );
    assert!(
        cards[0].text("content").starts_with("t1 t2"),
        "{}",
        cards[0].text("content")
    );
    assert!(
        !cards[0].text("content").contains("t300"),
        "interrupted, not completed"
    );
}

fn epoch_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// POSTs `body` with `headers` to `url`: (status, answer).
fn post_to(env: &Env, url: &str, headers: &[(String, String)], body: String) -> (u16, String) {
    env.post(url, headers, body)
}

/// HTTP callbacks on an ephemeral port, bodies up to 64 KiB.
fn http(env: &Env) -> TestManifest {
    env.manifest()
        .http_ingress(Some("127.0.0.1:0"), "/dingtalk/callback")
        .with(|m| m.ingress.http.max_body_bytes = Some(65536))
}

#[test]
fn http_a_replayed_callback_is_refused_and_answered_once() {
    let env = Env::start("http-replay", quiet_stream());
    let manifest = env.write(http(&env));
    let mut host = env.host(&manifest, &["--metrics-listen", "127.0.0.1:0"]);
    let metrics_url = host.logged_url("metrics listening on ");
    let url = host.logged_url("http callback mode: listening on ");
    let secret = env.dt.config().app_secret.clone();
    let signed = callback_headers(&secret, epoch_ms());
    let body = env
        .dt
        .bot_message(MessageSpec::group_text("cidReplay==", "TOKENS:4"))
        .to_string();

    let (status, answer) = post_to(&env, &url, &signed, body.clone());
    assert_eq!((status, answer.as_str()), (200, r#"{"success":true}"#));
    // The same signed callback again, and its headers on a forged body (another conversation,
    // another sender): both refused, neither reaches the skill.
    let (status, answer) = post_to(&env, &url, &signed, body.clone());
    assert_eq!(status, 403, "replay: {answer}");
    assert!(answer.contains("replayed"), "{answer}");
    let forged = env
        .dt
        .bot_message(MessageSpec::group_text("cidForged==", "TOKENS:3"))
        .to_string();
    let (status, _) = post_to(&env, &url, &signed, forged);
    assert_eq!(status, 403, "replayed headers on a forged body");

    // A signed callback refused for another reason (here its body is too large) does not use
    // up its pair: DingTalk's retry of it is answered.
    let retried = callback_headers(&secret, epoch_ms() + 1);
    let (status, _) = post_to(&env, &url, &retried, "x".repeat(65537));
    assert_eq!(status, 413);
    let retry_body = env
        .dt
        .bot_message(MessageSpec::group_text("cidRetried==", "TOKENS:2"))
        .to_string();
    let (status, _) = post_to(&env, &url, &retried, retry_body);
    assert_eq!(status, 200, "the retry of a refused callback");

    env.wait_card_finished("cidReplay==");
    env.wait_card_finished("cidRetried==");
    assert_eq!(env.cards_in("cidReplay==").len(), 1, "answered once");
    assert!(env.cards_in("cidForged==").is_empty(), "the forged body");

    let text = env.get_text(&metrics_url);
    assert_eq!(
        metric(
            &text,
            "openclaw_http_callback_rejected_total{status=\"403\",reason=\"replay\"}"
        ),
        2.0
    );
    assert_eq!(
        metric(
            &text,
            "openclaw_ingress_events_total{source=\"http\",result=\"accepted\"}"
        ),
        2.0
    );
    // Two replays from one address within a minute: one log line.
    let lines: Vec<String> = host
        .messages()
        .into_iter()
        .filter(|m| m.contains("refused with 403: replayed"))
        .collect();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(
        lines[0].starts_with("http callback from 127.0.0.1 refused"),
        "{}",
        lines[0]
    );
    host.sigterm();
    assert!(host.wait_exit().success());
    // At exit the refusal log says how many were not logged.
    assert!(
        host.messages()
            .iter()
            .any(|m| m.contains("1 more refused with 403 (replayed")),
        "{:#?}",
        host.messages()
    );
}

#[test]
fn http_a_narrower_signature_window_refuses_older_timestamps() {
    let env = Env::start("http-window", quiet_stream());
    let manifest = env.write(http(&env).with(|m| m.ingress.http.signature_window_secs = Some(60)));
    let mut host = env.host(&manifest, &[]);
    let url = host.logged_url("http callback mode: listening on ");
    let secret = env.dt.config().app_secret.clone();
    let body = env
        .dt
        .bot_message(MessageSpec::group_text("cidWindow==", "TOKENS:2"))
        .to_string();
    let (status, answer) = post_to(
        &env,
        &url,
        &callback_headers(&secret, epoch_ms() - 120_000),
        body.clone(),
    );
    assert_eq!(status, 403, "two minutes old with a 60 s window");
    assert!(answer.contains("more than 60 s off"), "{answer}");
    let (status, _) = post_to(
        &env,
        &url,
        &callback_headers(&secret, epoch_ms() - 30_000),
        body,
    );
    assert_eq!(status, 200);
    env.wait_card_finished("cidWindow==");
    host.sigterm();
    assert!(host.wait_exit().success());
}

#[test]
fn http_slow_clients_are_disconnected_while_others_are_served() {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::Instant;

    let env = Env::start("http-slow", quiet_stream());
    let manifest = env.write(http(&env).with(|m| m.ingress.http.read_timeout_ms = Some(1000)));
    let mut host = env.host(&manifest, &["--metrics-listen", "127.0.0.1:0"]);
    let metrics_url = host.logged_url("metrics listening on ");
    let url = host.logged_url("http callback mode: listening on ");
    let addr = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let secret = env.dt.config().app_secret.clone();

    // Slowloris: part of a request head, then nothing.
    let started = Instant::now();
    let mut head_only = TcpStream::connect(&addr).expect("connect");
    head_only
        .write_all(b"POST /dingtalk/callback HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: appl")
        .unwrap();
    // A whole, signed head, then a body that stops short.
    let mut short_body = TcpStream::connect(&addr).expect("connect");
    // (Not the millisecond of the normal callback below: a pair is accepted once.)
    let ts = epoch_ms() - 10;
    let sign = callback_headers(&secret, ts)
        .into_iter()
        .find(|(k, _)| k == "sign")
        .unwrap()
        .1;
    write!(
        short_body,
        "POST /dingtalk/callback HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         timestamp: {ts}\r\nsign: {sign}\r\nContent-Length: 1000\r\n\r\n{{\"msgId\":"
    )
    .unwrap();

    // Meanwhile a normal callback is answered.
    let body = env
        .dt
        .bot_message(MessageSpec::group_text("cidMeanwhile==", "TOKENS:3"))
        .to_string();
    let (status, _) = post_to(&env, &url, &callback_headers(&secret, epoch_ms()), body);
    assert_eq!(status, 200);
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "answered while the slow clients hang"
    );

    let read_all = |mut s: TcpStream| {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut got = Vec::new();
        let result = s.read_to_end(&mut got);
        (
            result.is_ok(),
            String::from_utf8_lossy(&got).into_owned(),
            started.elapsed(),
        )
    };
    let (closed, _, after) = read_all(head_only);
    assert!(closed, "the host closed the slowloris connection");
    assert!(
        after >= Duration::from_millis(900) && after < Duration::from_millis(3000),
        "closed after {after:?}, read timeout 1000 ms"
    );
    let (closed, answer, after) = read_all(short_body);
    assert!(closed, "the host closed the slow body's connection");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(after < Duration::from_millis(3000), "after {after:?}");

    env.wait_card_finished("cidMeanwhile==");
    let text = env.get_text(&metrics_url);
    assert_eq!(
        metric(
            &text,
            "openclaw_http_callback_rejected_total{status=\"408\",reason=\"body_timeout\"}"
        ),
        1.0
    );
    host.sigterm();
    assert!(host.wait_exit().success());
}

#[test]
fn stream_connection_refused_names_the_address() {
    let env = Env::start("stream-refused", quiet_stream());
    // A port nobody listens on.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    // With credentials in the URL: they never show.
    let opener = format!("http://opener:pa55word@127.0.0.1:{port}");
    let manifest =
        env.write(stream(&env).with(|m| m.dingtalk.api_base_url = Some(opener.as_str().into())));
    let host = env.host(&manifest, &[]);
    let line = host.wait_log("a connect failure", |m| {
        m.starts_with("stream: cannot connect")
    });
    assert!(
        line.contains(&format!(
            "connections/open (POST http://***@127.0.0.1:{port}/v1.0/gateway/connections/open): \
             connection refused by 127.0.0.1:{port}: "
        )),
        "{line}"
    );
    assert!(line.contains("Connection refused"), "the cause: {line}");
    assert!(
        host.messages()
            .iter()
            .any(|m| m.contains(&format!("via http://***@127.0.0.1:{port}"))),
        "the start-up line"
    );
    assert!(!host.raw_lines().iter().any(|l| l.contains("pa55word")));
}
