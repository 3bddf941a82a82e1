//! The stop button on the answer's card: `openclaw-skill run` with the real `.so` ↔ the DingTalk
//! emulator (Stream mode, or HTTP callbacks with the card-callback route the plugin registers)
//! ↔ the fake gateway, on 127.0.0.1. A user presses the button as the emulator lets a DingTalk
//! user do (`press_card`): the asker's press stops the answer (the card ends stopped with the
//! text so far, its button gone, the gateway request cancelled), somebody else's press changes
//! nothing and gets a polite 1:1 message, and a second press is harmless.

mod support;

use openclaw_dingtalk_emulator::dingtalk::{
    ApiKind, Card, CardPress, CardState, DingTalkEmulator, PressStatus,
};
use openclaw_dingtalk_emulator::event::{callback_headers, MessageSpec, Sender};
use openclaw_dingtalk_emulator::gateway::RequestOutcome;
use serde_json::Value;
use support::{quiet_stream, Env, TestManifest};

/// The stop button's action id.
const STOP: &str = "btn_stop";
/// The asker and a colleague in the same group.
const ASKER: &str = "提问者-0001";
const COLLEAGUE: &str = "同事-0002";

fn from(staff_id: &str, conversation: &str, text: &str) -> MessageSpec {
    MessageSpec {
        sender: Sender {
            staff_id: staff_id.into(),
            nick: format!("用户{staff_id}"),
        },
        ..MessageSpec::group_text(conversation, text)
    }
}

/// The manifest with the default template's button style (the emulator's template is not the
/// default one, so the style is named).
fn with_button(m: TestManifest) -> TestManifest {
    m.with(|m| m.dingtalk.card_stop_button = Some("msg_buttons".into()))
}

/// The buttons `sys_full_json_obj` shows on `card` (their ids).
fn buttons(card: &Card) -> Vec<String> {
    let layout: Value = serde_json::from_str(&card.text("sys_full_json_obj")).unwrap_or_default();
    layout["msgButtons"]
        .as_array()
        .map(|b| {
            b.iter()
                .filter_map(|x| x["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn card_in(dt: &DingTalkEmulator, conversation: &str) -> Option<Card> {
    dt.cards()
        .into_iter()
        .find(|c| c.open_space_id.ends_with(conversation))
}

/// Waits until the conversation's card shows some streamed text, and returns it.
fn streaming_card(env: &Env, conversation: &str) -> Card {
    let conv = conversation.to_owned();
    env.wait("streamed text on the card", move |e| {
        card_in(e, &conv).is_some_and(|c| c.text("content").contains("t3 "))
    });
    card_in(&env.dt, conversation).expect("card")
}

fn press(env: &Env, card: &str, user: &str) -> u64 {
    env.dt
        .press_card(card, user, STOP, Value::Null)
        .expect("press")
        .press
}

fn wait_answered(env: &Env, seq: u64) -> CardPress {
    env.wait("the press answered", move |e| {
        e.card_presses()
            .iter()
            .any(|p| p.seq == seq && p.status != PressStatus::Pending)
    });
    env.dt
        .card_presses()
        .into_iter()
        .find(|p| p.seq == seq)
        .expect("press")
}

/// What every mode shows once the asker pressed stop: the card ended (not failed) with the
/// text so far and the stop note, its button gone, and the gateway request cancelled.
fn assert_stopped(env: &Env, conversation: &str) -> Card {
    let conv = conversation.to_owned();
    // The final streaming update ends the card; the data update after it hides the button.
    env.wait("the card ended without its button", move |e| {
        card_in(e, &conv).is_some_and(|c| c.state == CardState::Finished && buttons(&c).is_empty())
    });
    let card = card_in(&env.dt, conversation).expect("card");
    let text = card.text("content");
    assert!(text.contains("t1 t2 t3"), "the text so far stays: {text}");
    assert!(
        text.contains("已停止"),
        "the card says it was stopped: {text}"
    );
    assert!(
        !text.contains("t200"),
        "the answer did not run to its end: {text}"
    );
    env.rt.block_on(async {
        let mut changes = env.gw.subscribe_changes();
        let cancelled = || {
            env.gw
                .requests()
                .iter()
                .any(|r| r.outcome == RequestOutcome::ClientDisconnected)
        };
        let waited = tokio::time::timeout(support::WAIT, async {
            while !cancelled() {
                if changes.changed().await.is_err() {
                    break;
                }
            }
        })
        .await;
        assert!(
            waited.is_ok() && cancelled(),
            "the gateway request was cancelled: {:?}",
            env.gw
                .requests()
                .iter()
                .map(|r| &r.outcome)
                .collect::<Vec<_>>()
        );
    });
    card
}

#[test]
fn stream_mode_the_askers_press_stops_the_answer_and_others_are_told_politely() {
    let env = Env::start("stop-stream", quiet_stream());
    let manifest = env.write(with_button(env.manifest().stream_ingress()));
    let mut host = env.host(&manifest, &[]);
    env.wait_connections(1);
    let conv = "cid停止按钮==";
    let msg = env
        .dt
        .push_bot_message(from(ASKER, conv, "TOKENS:200 PACE:40"));

    let card = streaming_card(&env, conv);
    assert_eq!(buttons(&card), [STOP], "a stop button while it streams");

    // A colleague presses it: the answer goes on, and the colleague alone is told why.
    let theirs = wait_answered(&env, press(&env, &card.out_track_id, COLLEAGUE));
    assert_eq!(theirs.status, PressStatus::Answered);
    env.wait("the note to the colleague", |e| {
        e.sent_messages()
            .iter()
            .any(|m| m.via == ApiKind::OtoSend && m.target == COLLEAGUE)
    });
    let note = env
        .dt
        .sent_messages()
        .into_iter()
        .find(|m| m.target == COLLEAGUE)
        .expect("note");
    assert!(note.text.contains("只有提问的同事"), "{}", note.text);
    let still = card_in(&env.dt, conv).expect("card");
    assert_ne!(still.state, CardState::Finished, "the answer goes on");
    // Pressing again does not send a second note.
    wait_answered(&env, press(&env, &card.out_track_id, COLLEAGUE));

    // The asker presses it: the answer stops.
    wait_answered(&env, press(&env, &card.out_track_id, ASKER));
    let stopped = assert_stopped(&env, conv);
    host.wait_log("the reply's line", |m| {
        m.contains(&msg) && m.contains("outcome=stopped")
    });
    host.wait_log("the press", |m| {
        m.contains(&card.out_track_id) && m.contains("stopping the reply")
    });

    // A second press after the end is harmless: nothing changes, nothing is sent.
    let updates = stopped.updates.len();
    let sent = env.dt.sent_messages().len();
    wait_answered(&env, press(&env, &card.out_track_id, ASKER));
    host.wait_log("the late press", |m| {
        m.contains(&card.out_track_id) && m.contains("after its reply ended")
    });
    let after = card_in(&env.dt, conv).expect("card");
    assert_eq!(after.updates.len(), updates, "no card update");
    assert_eq!(env.dt.sent_messages().len(), sent, "no message");
    assert_eq!(
        env.dt
            .sent_messages()
            .iter()
            .filter(|m| m.target == COLLEAGUE)
            .count(),
        1,
        "one note to the colleague"
    );

    host.sigterm();
    assert!(host.wait_exit().success());
}

#[test]
fn stream_mode_in_a_1_to_1_chat_the_press_stops_the_answer() {
    let env = Env::start("stop-direct", quiet_stream());
    let manifest = env.write(with_button(env.manifest().stream_ingress()));
    let mut host = env.host(&manifest, &[]);
    env.wait_connections(1);
    let spec = MessageSpec::direct_text("TOKENS:200 PACE:40");
    let conv = openclaw_dingtalk_emulator::event::direct_conversation_id(&spec.sender.staff_id);
    let staff = spec.sender.staff_id.clone();
    env.dt.push_bot_message(spec);
    let card = streaming_card(&env, &staff);
    wait_answered(&env, press(&env, &card.out_track_id, &staff));
    assert_stopped(&env, &staff);
    assert!(env.dt.sent_messages().is_empty(), "{conv}: no message");
    host.sigterm();
    assert!(host.wait_exit().success());
}

#[test]
fn without_a_button_the_card_says_to_send_stop_and_stop_works() {
    let env = Env::start("stop-none", quiet_stream());
    let manifest = env.write(
        env.manifest()
            .stream_ingress()
            .with(|m| m.dingtalk.card_stop_button = Some("none".into())),
    );
    let mut host = env.host(&manifest, &[]);
    env.wait_connections(1);
    let conv = "cid无按钮==";
    env.dt
        .push_bot_message(from(ASKER, conv, "TOKENS:200 PACE:40"));
    let card = streaming_card(&env, conv);
    assert!(buttons(&card).is_empty());
    assert!(
        card.text("content").contains("/stop"),
        "{}",
        card.text("content")
    );
    env.dt.push_bot_message(from(ASKER, conv, "/stop"));
    assert_stopped(&env, conv);
    let end = card_in(&env.dt, conv).expect("card").text("content");
    assert!(
        !end.contains("发送 /stop"),
        "the hint goes at the end: {end}"
    );
    host.sigterm();
    assert!(host.wait_exit().success());
}

/// A free port on 127.0.0.1 (for a callback URL that must be known before the host starts).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[test]
fn http_mode_registers_the_card_callback_route_and_a_signed_press_stops_the_answer() {
    let env = Env::start("stop-http", quiet_stream());
    let listen = format!("127.0.0.1:{}", free_port());
    let url = format!("http://{listen}/dingtalk/callback");
    let callback_url = url.clone();
    let manifest = env.write(with_button(
        env.manifest()
            .http_ingress(Some(&listen), "/dingtalk/callback")
            .with(move |m| m.ingress.http.card_callback_url = Some(callback_url.into())),
    ));
    let mut host = env.host(&manifest, &[]);
    host.logged_url("http callback mode: listening on ");
    env.wait("the card callback route", |e| {
        e.card_callback_routes()
            .iter()
            .any(|r| r.callback_url == url && r.api_secret.is_some())
    });
    let route = env.dt.card_callback_routes().remove(0);
    let app_secret = env.dt.config().app_secret.clone();
    assert_ne!(route.api_secret.as_deref(), Some(app_secret.as_str()));

    let conv = "cidHTTP停止==";
    let body = env
        .dt
        .bot_message(from(ASKER, conv, "TOKENS:200 PACE:40"))
        .to_string();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let post = |headers: Vec<(String, String)>, body: String| env.post(&url, &headers, body).0;
    assert_eq!(post(callback_headers(&app_secret, now), body), 200);
    let card = streaming_card(&env, conv);
    assert_eq!(buttons(&card), [STOP]);

    // A card callback signed with anything but the route's secret is refused.
    let forged = serde_json::json!({
        "type": "actionCallback", "outTrackId": card.out_track_id, "corpId": "x",
        "userId": ASKER,
        "content": "{\"cardPrivateData\":{\"actionIds\":[\"btn_stop\"],\"params\":{}}}",
    })
    .to_string();
    let headers = vec![
        ("x-ddpaas-signature-timestamp".to_owned(), now.to_string()),
        (
            "x-ddpaas-signature".to_owned(),
            "c2lnbmVkIGJ5IHNvbWVib2R5IGVsc2U=".to_owned(),
        ),
    ];
    assert_eq!(post(headers, forged), 403);
    assert_ne!(
        card_in(&env.dt, conv).expect("card").state,
        CardState::Finished
    );

    // The asker's press, posted and signed by the emulator as DingTalk does.
    let pressed = wait_answered(&env, press(&env, &card.out_track_id, ASKER));
    assert_eq!(pressed.http_status, Some(200), "{pressed:?}");
    assert_stopped(&env, conv);
    host.wait_log("the press", |m| {
        m.starts_with("event source=http") && m.contains(&card.out_track_id)
    });

    host.sigterm();
    assert!(host.wait_exit().success());
}
