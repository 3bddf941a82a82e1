#![cfg(feature = "demo")]
//! `openclaw-skill demo --web` as a process, through its HTTP API only (no browser): with a
//! gateway named by `--gateway` and its token from `OPENCLAW_API_KEY`, a typed message becomes a
//! finished AI Card in the page's state; 1:1 chats get their own cards; the sample picture
//! reaches the gateway as one image part; a card's stop button pressed through the page is a
//! press by the chosen person in the emulator's record; bad requests are refused with the
//! reason; SIGTERM ends the run cleanly. The browser test is `simulator.rs`.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use openclaw_dingtalk_emulator::gateway::{
    chart_png, FakeGateway, FakeGatewayConfig, ImageDescription,
};
use serde_json::{json, Value};
use support::plugin_path;

/// Upper bound of every wait (each returns as soon as its condition holds).
const LIMIT: Duration = Duration::from_secs(60);
/// How often the page's state is read while waiting for a card.
const POLL: Duration = Duration::from_millis(50);
/// The gateway token the test hands over through the environment.
const KEY: &str = "simulator-api-key-5f1e";

/// A running `openclaw-skill demo --web --port 0`.
struct Simulator {
    child: Child,
    url: String,
    stdout: mpsc::Receiver<String>,
    stderr: Option<std::thread::JoinHandle<String>>,
    http: reqwest::blocking::Client,
}

impl Simulator {
    /// Starts it against `gateway`, with the token in `OPENCLAW_API_KEY`, and waits for its URL.
    fn start(gateway: &str) -> Simulator {
        let library = plugin_path();
        let mut child = Command::new(env!("CARGO_BIN_EXE_openclaw-skill"))
            .args(["demo", "--web", "--port", "0", "--gateway", gateway])
            .arg("--library")
            .arg(&library)
            .env_remove("RUST_LOG")
            .env("OPENCLAW_API_KEY", KEY)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn openclaw-skill");
        let (tx, stdout) = mpsc::channel();
        let out = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut err = child.stderr.take().expect("stderr");
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut err, &mut text);
            text
        });
        let url = loop {
            match stdout.recv_timeout(LIMIT) {
                Ok(line) => {
                    if let Some(url) = line.strip_prefix("simulator: ") {
                        break url.to_owned();
                    }
                }
                Err(e) => panic!("no `simulator: URL` line: {e}"),
            }
        };
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        Simulator {
            child,
            url,
            stdout,
            stderr: Some(stderr),
            http: reqwest::blocking::Client::new(),
        }
    }

    fn get(&self, path: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.url))
            .send()
            .and_then(|r| r.error_for_status())
            .and_then(|r| r.json())
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// POSTs `body`; returns the status and the JSON answer.
    fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.url))
            .json(&body)
            .send()
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        let status = response.status().as_u16();
        (status, response.json().expect("a JSON answer"))
    }

    /// The state of conversation `id`.
    fn state(&self, id: &str) -> Value {
        self.get(&format!("api/state?conversation={}", urlencode(id)))
    }

    /// Waits until conversation `id` shows `n` cards and none is in progress; returns them.
    fn wait_cards(&self, id: &str, n: usize) -> Vec<Value> {
        self.wait_state(id, &format!("{n} ended cards"), |cards| {
            cards.len() == n
                && cards
                    .iter()
                    .all(|c| c["state"] == "finished" || c["state"] == "failed")
        })
    }

    /// Waits until `ready` holds for the cards conversation `id` shows (`what` names the
    /// condition); returns them.
    fn wait_state(&self, id: &str, what: &str, ready: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + LIMIT;
        loop {
            let state = self.state(id);
            let cards: Vec<Value> = state["items"]
                .as_array()
                .expect("items")
                .iter()
                .filter(|i| i["type"] == "card")
                .cloned()
                .collect();
            if ready(&cards) {
                return cards;
            }
            assert!(
                Instant::now() < deadline,
                "conversation {id}: wanted {what}, the page shows {state:#}"
            );
            std::thread::sleep(POLL);
        }
    }

    /// SIGTERM, then the exit status and stderr.
    fn stop(mut self) -> (Option<i32>, String, Vec<String>) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill")
            .success();
        assert!(ok, "kill -TERM failed");
        let deadline = Instant::now() + LIMIT;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break Some(status);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(POLL);
        };
        let stdout: Vec<String> = self.stdout.try_iter().collect();
        let stderr = self
            .stderr
            .take()
            .map(|h| h.join().expect("stderr reader"))
            .unwrap_or_default();
        (status.and_then(|s| s.code()), stderr, stdout)
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A fake OpenClaw gateway that wants [`KEY`] and describes pictures in Chinese, on its own
/// runtime (kept alive by the caller).
fn gateway() -> (tokio::runtime::Runtime, FakeGateway) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let gateway = rt
        .block_on(FakeGateway::start(FakeGatewayConfig {
            token: Some(KEY.into()),
            image_description: ImageDescription::Chinese,
            ..FakeGatewayConfig::default()
        }))
        .expect("fake gateway");
    (rt, gateway)
}

#[test]
fn with_a_gateway_url_a_typed_message_becomes_a_finished_card_and_the_token_stays_out() {
    let (_rt, gateway) = gateway();
    let sim = Simulator::start(&gateway.base_url());
    let state = sim.get("api/state");
    let group = state["selected"]
        .as_str()
        .expect("a conversation")
        .to_owned();
    assert!(
        state["app"]["gateway"]
            .as_str()
            .is_some_and(|g| g.contains("real gateway")),
        "{state:#}"
    );
    // A real gateway cannot be told to cut an answer: the button is off and the API says why.
    let cut = state["faults"]
        .as_array()
        .expect("faults")
        .iter()
        .find(|f| f["id"] == "gateway_cut")
        .expect("gateway_cut listed");
    assert_eq!(cut["available"], false);
    let (status, answer) = sim.post("api/faults", json!({"fault": "gateway_cut"}));
    assert_eq!(status, 400);
    assert!(answer["error"].as_str().unwrap().contains("--gateway"));

    let (status, sent) = sim.post(
        "api/messages",
        json!({"conversation": group, "sender": "016650100000001", "text": "你好，请介绍一下自己", "mention": true}),
    );
    assert_eq!(status, 200, "{sent}");
    assert_eq!(sent["delivered"], true);
    let cards = sim.wait_cards(&group, 1);
    assert_eq!(cards[0]["state"], "finished");
    let html = cards[0]["html"].as_str().unwrap();
    assert!(
        html.contains("Hello from the fake gateway. You said: ")
            && html.contains("你好，请介绍一下自己"),
        "{html}"
    );
    // The gateway saw the token from the environment.
    assert_eq!(gateway.requests().len(), 1);

    let (code, stderr, stdout) = sim.stop();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        !stderr.contains(KEY) && !stdout.iter().any(|l| l.contains(KEY)),
        "{stderr}"
    );
}

#[test]
fn a_one_to_one_chat_gets_its_own_cards_and_bad_requests_say_what_is_wrong() {
    let (_rt, gateway) = gateway();
    let sim = Simulator::start(&gateway.base_url());
    let (status, added) = sim.post(
        "api/conversations",
        json!({"kind": "direct", "sender": "016650100000002"}),
    );
    assert_eq!(status, 200, "{added}");
    let direct = added["id"].as_str().unwrap().to_owned();
    // Opening it again gives the same chat.
    let (_, again) = sim.post(
        "api/conversations",
        json!({"kind": "direct", "sender": "016650100000002"}),
    );
    assert_eq!(again["id"], direct.as_str());

    // In a 1:1 the message reaches the robot without a mention, and is written by its user.
    let (status, sent) = sim.post(
        "api/messages",
        json!({"conversation": direct, "sender": "016650123456789", "text": "单聊里的问题", "mention": false}),
    );
    assert_eq!(status, 200, "{sent}");
    assert_eq!(sent["delivered"], true);
    let cards = sim.wait_cards(&direct, 1);
    assert!(cards[0]["html"].as_str().unwrap().contains("单聊里的问题"));
    let state = sim.state(&direct);
    let typed = state["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["type"] == "user")
        .expect("the typed message");
    assert_eq!(typed["sender"], "李娜");
    // The group did not get that card.
    let groups: Vec<String> = state["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "group")
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    for group in &groups {
        assert!(sim.state(group)["items"].as_array().unwrap().is_empty());
    }

    for (path, body, reason) in [
        (
            "api/messages",
            json!({"conversation": direct, "text": "   "}),
            "empty",
        ),
        (
            "api/messages",
            json!({"conversation": "cidNoSuchGroup==", "text": "你好"}),
            "unknown conversation",
        ),
        (
            "api/messages",
            json!({"conversation": direct, "sender": "nobody", "text": "你好"}),
            "unknown sender",
        ),
        (
            "api/messages",
            json!({"conversation": direct, "text": "长".repeat(3000)}),
            "bytes",
        ),
        ("api/faults", json!({"fault": "meteor"}), "unknown fault"),
        (
            "api/conversations",
            json!({"kind": "group", "title": "群".repeat(41)}),
            "1 to 40 characters",
        ),
        ("api/messages", json!({"text": "缺少会话"}), "conversation"),
    ] {
        let (status, answer) = sim.post(path, body.clone());
        assert_eq!(status, 400, "{path} {body}: {answer}");
        let error = answer["error"].as_str().unwrap_or_default();
        assert!(error.contains(reason), "{path} {body}: {error}");
    }
    let (code, stderr, _) = sim.stop();
    assert_eq!(code, Some(0), "{stderr}");
}

/// SHA-256 of the simulator's sample picture, the fake gateway's chart
/// (`sha256sum` of `openclaw_dingtalk_emulator::gateway::chart_png()`).
const SAMPLE_SHA256: &str = "844870a3cb966612eb26f5a2603c6dd31cda06e7ff9aaf4c84bba7e2585b7cc6";

/// 张伟 and 李娜 (skill/host/src/demo/web/book.rs `USERS`).
const ZHANG_WEI: &str = "016650100000001";
const LI_NA: &str = "016650100000002";

/// The selected (first) group of a fresh simulator.
/// The simulator's manifest has the demo's stand-up schedule on its first group, every 2
/// minutes: a tagged message is collected and acknowledged with a plain robot message, no
/// card, no gateway request (the summary card comes at the tick, which no test waits for).
#[test]
fn a_stand_up_message_in_the_first_group_is_acknowledged_without_a_card() {
    let (_rt, gateway) = gateway();
    let sim = Simulator::start(&gateway.base_url());
    let group = first_group(&sim);
    let (status, sent) = sim.post(
        "api/messages",
        json!({"conversation": group, "sender": "016650100000001",
               "text": "#standup 昨天：整理需求文档；今天：联调登录", "mention": true}),
    );
    assert_eq!(status, 200, "{sent}");
    let deadline = Instant::now() + LIMIT;
    let items = loop {
        let items: Vec<Value> = sim.state(&group)["items"]
            .as_array()
            .expect("items")
            .clone();
        if items.iter().any(|i| i["type"] == "robot") {
            break items;
        }
        assert!(Instant::now() < deadline, "no acknowledgement: {items:#?}");
        std::thread::sleep(POLL);
    };
    let ack = items.iter().find(|i| i["type"] == "robot").unwrap();
    assert!(
        ack["html"]
            .as_str()
            .unwrap()
            .contains("已记下，到点一起汇总。"),
        "{ack:#}"
    );
    assert!(!items.iter().any(|i| i["type"] == "card"), "{items:#?}");
    assert!(gateway.requests().is_empty(), "collected, not asked");

    let (code, stderr, _) = sim.stop();
    assert_eq!(code, Some(0), "{stderr}");
}

fn first_group(sim: &Simulator) -> String {
    sim.get("api/state")["selected"]
        .as_str()
        .expect("a conversation")
        .to_owned()
}

#[test]
fn the_sample_picture_reaches_the_gateway_as_one_image_and_bad_presses_say_what_is_wrong() {
    let (_rt, gateway) = gateway();
    let sim = Simulator::start(&gateway.base_url());
    let group = first_group(&sim);
    let (status, sent) = sim.post(
        "api/messages",
        json!({"conversation": group, "sender": ZHANG_WEI, "text": "这张图里是什么？", "picture": true}),
    );
    assert_eq!(status, 200, "{sent}");
    assert_eq!(sent["delivered"], true);
    let cards = sim.wait_cards(&group, 1);

    // The gateway got the picture, intact, as the one image part of the user's turn.
    let requests = gateway.requests();
    assert_eq!(requests.len(), 1);
    let png = chart_png();
    let digest = SAMPLE_SHA256;
    let images = &requests[0].images;
    assert_eq!(images.len(), 1, "{images:?}");
    assert_eq!(
        (
            images[0].media_type.as_str(),
            images[0].size,
            images[0].sha256.as_str()
        ),
        ("image/png", png.len(), digest)
    );
    // … and said so in the answer, before the usual reply.
    let html = cards[0]["html"].as_str().unwrap();
    let seen = format!(
        "我看到了 1 张图片：image/png，{} 字节（sha256 前 8 位 {}）。",
        png.len(),
        &digest[..8]
    );
    assert!(html.contains(&seen), "{html}");
    assert!(html.contains("这张图里是什么？"), "{html}");
    let state = sim.state(&group);
    let typed = state["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["type"] == "user")
        .expect("the picture message");
    assert_eq!(
        (&typed["picture"], &typed["text"], &typed["sender"]),
        (&json!(true), &json!("这张图里是什么？"), &json!("张伟"))
    );
    let picture = sim
        .http
        .get(format!("{}assets/sample.png", sim.url))
        .send()
        .and_then(|r| r.error_for_status())
        .and_then(|r| r.bytes())
        .expect("GET /assets/sample.png");
    assert_eq!(
        picture.as_ref(),
        png.as_slice(),
        "the page shows what was sent"
    );

    // A picture alone in a 1:1 chat.
    let (_, added) = sim.post(
        "api/conversations",
        json!({"kind": "direct", "sender": LI_NA}),
    );
    let direct = added["id"].as_str().unwrap().to_owned();
    let (status, sent) = sim.post(
        "api/messages",
        json!({"conversation": direct, "text": "", "picture": true}),
    );
    assert_eq!(status, 200, "{sent}");
    let direct_cards = sim.wait_cards(&direct, 1);
    assert_eq!(gateway.requests().len(), 2);
    assert_eq!(gateway.requests()[1].images.len(), 1);
    assert!(direct_cards[0]["html"].as_str().unwrap().contains(&seen));

    // Presses the page refuses, each with its reason; the emulator records none of them.
    let group_card = cards[0]["id"].as_str().unwrap();
    let direct_card = direct_cards[0]["id"].as_str().unwrap();
    for (body, reason) in [
        (
            json!({"card": "card_no_such_card", "user": ZHANG_WEI}),
            "unknown card card_no_such_card",
        ),
        (json!({"user": ZHANG_WEI}), "missing field `card`"),
        (json!({"card": 7}), "invalid type"),
        (
            json!({"card": group_card, "user": "nobody"}),
            "unknown user nobody",
        ),
        (
            json!({"card": direct_card, "user": ZHANG_WEI}),
            "not in the 1:1 chat",
        ),
        // The answers ended: their cards show no button (any more).
        (
            json!({"card": group_card, "user": ZHANG_WEI}),
            "shows no button",
        ),
        (
            json!({"card": direct_card, "action": "btn_stop"}),
            "shows no button btn_stop",
        ),
    ] {
        let (status, answer) = sim.post("api/cards/press", body.clone());
        assert_eq!(status, 400, "{body}: {answer}");
        let error = answer["error"].as_str().unwrap_or_default();
        assert!(error.contains(reason), "{body}: {error}");
    }
    let response = sim
        .http
        .post(format!("{}api/cards/press", sim.url))
        .header("content-type", "application/json")
        .body("{\"card\": 停止")
        .send()
        .expect("POST a broken body");
    assert_eq!(response.status().as_u16(), 400);
    let answer: Value = response.json().expect("a JSON answer");
    assert!(
        answer["error"]
            .as_str()
            .unwrap_or_default()
            .contains("JSON"),
        "{answer}"
    );
    let (status, answer) = sim.post(
        "api/messages",
        json!({"conversation": group, "text": "  ", "picture": false}),
    );
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("the message is empty"))
    );
    for card in sim.state(&group)["items"].as_array().unwrap() {
        assert_eq!(card["presses"].as_array().map_or(0, Vec::len), 0, "{card}");
    }

    let (code, stderr, _) = sim.stop();
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn the_stop_button_pressed_on_the_page_is_a_press_by_the_chosen_person() {
    let (_rt, gateway) = gateway();
    let sim = Simulator::start(&gateway.base_url());
    let group = first_group(&sim);
    // 400 tokens, 30 ms apart: about 12 s of answer to press the button in.
    let (status, sent) = sim.post(
        "api/messages",
        json!({"conversation": group, "sender": ZHANG_WEI, "text": "请详细讲讲钉钉卡片 TOKENS:400 PACE:30"}),
    );
    assert_eq!(status, 200, "{sent}");
    let cards = sim.wait_state(&group, "a streaming card with a button", |cards| {
        cards.len() == 1
            && cards[0]["state"] == "typing"
            && cards[0]["buttons"]
                .as_array()
                .is_some_and(|b| !b.is_empty())
    });
    let card = cards[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(cards[0]["buttons"][0]["id"], "btn_stop", "{:#}", cards[0]);
    assert_eq!(cards[0]["asker"], ZHANG_WEI, "the page knows who asked");

    // 李娜 did not ask: her press is recorded as hers, the answer goes on, and she is told
    // why in a 1:1 message.
    let (status, pressed) = sim.post(
        "api/cards/press",
        json!({"card": card, "user": LI_NA, "action": "btn_stop"}),
    );
    assert_eq!(status, 200, "{pressed}");
    assert_eq!(
        (&pressed["user"], &pressed["action"]),
        (&json!(LI_NA), &json!("btn_stop"))
    );
    let cards = sim.wait_state(
        &group,
        "李娜's press answered, with a note to her",
        |cards| {
            cards[0]["presses"].as_array().is_some_and(|p| {
                p.iter().any(|p| {
                    p["user"] == LI_NA && p["status"] == "answered" && p["notice"].is_string()
                })
            })
        },
    );
    let press = &cards[0]["presses"][0];
    assert_eq!(
        (&press["nick"], &press["action"]),
        (&json!("李娜"), &json!("btn_stop"))
    );
    assert_ne!(
        cards[0]["state"], "finished",
        "the answer goes on: {:#}",
        cards[0]
    );

    // The asker's press (the default presser) stops it: the card ends with the text so far,
    // and its button is gone.
    let (status, pressed) = sim.post("api/cards/press", json!({"card": card}));
    assert_eq!(status, 200, "{pressed}");
    assert_eq!(pressed["user"], ZHANG_WEI);
    let cards = sim.wait_state(&group, "the card ended without its button", |cards| {
        cards[0]["state"] == "finished" && cards[0]["buttons"].as_array().is_some_and(Vec::is_empty)
    });
    let html = cards[0]["html"].as_str().unwrap();
    assert!(html.contains("已停止") && !html.contains("t400"), "{html}");
    let presses: Vec<(&str, &str)> = cards[0]["presses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["user"].as_str().unwrap(), p["status"].as_str().unwrap()))
        .collect();
    assert_eq!(presses, [(LI_NA, "answered"), (ZHANG_WEI, "answered")]);

    let (code, stderr, _) = sim.stop();
    assert_eq!(code, Some(0), "{stderr}");
}
