#![cfg(feature = "demo")]
//! The DingTalk simulator page (`openclaw-skill demo --web`) in Debian's headless Chromium,
//! driven through WebDriver (chromedriver on 127.0.0.1) the way a visitor uses it: the real
//! plugin `.so`, the real Stream ingress, the emulator and the fake gateway behind the page.
//!
//! It types a Chinese question into the default group and checks the AI Card a user would see
//! (Chinese text, a rendered table and code block, no raw markdown or `<br>`), the card's
//! DingTalk call timeline, a message without the @-mention (shown, never answered), a 403
//! burst from the fault buttons that the plugin rides out, and that what the page shows is
//! what the emulator's record says (`/api/state`), then takes a screenshot:
//! `SIMULATOR_SCREENSHOT` (relative paths from the workspace root), else
//! `target/simulator.png`. Then a long answer's stop button: a colleague presses it as
//! someone else (the answer goes on, the robot tells them why), the asker presses it (the
//! card ends stopped, its button gone), and a second screenshot, `simulator-stop.png`, goes
//! next to the first. Last, "发送图片": the picture shows in the sender's bubble and the answer
//! says what the gateway saw.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian: `chromium chromium-driver
//! fonts-wqy-microhei`). Without them it is skipped loudly, and fails when `CI` is set.
//! Every wait polls the DOM with a bound; chromedriver, Chromium and the host are ended on
//! every way out, panics included.

mod support;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use futures_util::FutureExt;
use serde_json::{json, Value};
use support::plugin_path;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// Bound for starting the host, chromedriver and the browser session.
const STARTUP: Duration = Duration::from_secs(60);
/// Bound of every wait on the page (each returns as soon as its condition holds). The 403
/// burst costs the plugin about 9 s of backoff; the rest takes a second or two.
const WAIT: Duration = Duration::from_secs(90);
/// How often a wait looks at the DOM again.
const POLL: Duration = Duration::from_millis(100);
/// Chromium's switches: headless, no sandbox (root in CI), and quiet: without the
/// background-networking switches Chromium keeps calling out of this closed network.
const CHROME_ARGS: [&str; 11] = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",
    "--disable-dev-shm-usage",
    "--window-size=1440,900",
];

/// The first question: `MIXED:1109` is exactly two sections of the fake's mixed answer
/// (heading, Chinese and English paragraphs, a markdown table, a fenced code block each), so
/// the answer ends on a complete block; `REASON` adds the reasoning quote before it.
const QUESTION: &str = "请用表格比较一下 Rust 和 Go MIXED:1109 PACE:5 REASON";
/// Sentences of the fake's mixed answer (emulator/src/gateway/reply_text.rs, sections 1–2).
const ANSWER_ZH: [&str; 2] = [
    "当回答超过一张卡片的容量时，应当把后续内容放进新的卡片，而不是悄悄截断。",
    "超时并不代表请求失败：服务器可能已经处理了它，只是没有及时给出应答。",
];
/// A group message without the @-mention: shown, never delivered.
const UNMENTIONED: &str = "大家好，这条消息没有 @机器人，它不会回答";
/// The question asked while DingTalk answers 403: a short all-Chinese answer (the first two
/// sentences of the fake's first paragraph, so the screenshot keeps the first card's last
/// table in view above it).
const QUESTION_403: &str = "限流之后还能完成回答吗？请用中文说明 ZH:228 PACE:5";
/// Its first sentence (emulator/src/gateway/reply_text.rs, `zh_text`).
const ANSWER_403_ZH: &str = "第一段：钉钉的互动卡片会随着模型输出逐步刷新";
/// 张伟 and 李娜 (skill/host/src/demo/web/book.rs `USERS`).
const ZHANG_WEI: &str = "016650100000001";
const LI_NA: &str = "016650100000002";
/// The caption of the picture the page sends.
const PICTURE_CAPTION: &str = "这张图里是什么？";
/// A long all-Chinese answer (about 12 s), to press its stop button while it streams.
const QUESTION_STOP: &str = "请写一篇长文介绍钉钉的 AI 卡片 ZH:2700 PACE:40";

#[test]
fn simulator_page_in_headless_chromium() {
    for tool in [CHROMIUM, CHROMEDRIVER] {
        if !Path::new(tool).exists() {
            let msg = format!(
                "{tool} is missing: the simulator page test needs Debian's Chromium and \
                 chromedriver; install them with `apt-get install chromium chromium-driver \
                 fonts-wqy-microhei`"
            );
            if std::env::var_os("CI").is_some() {
                panic!("{msg}");
            }
            loud(&format!(
                "\n!!! SKIPPED: simulator_page_in_headless_chromium: {msg} !!!\n"
            ));
            return;
        }
    }
    let began = Instant::now();
    let mut procs = Procs::new();
    let page = procs.start_host();
    let driver = procs.start_chromedriver();
    eprintln!(
        "simulator test: page {page}, chromedriver {driver}, ready after {:.1} s",
        began.elapsed().as_secs_f64()
    );
    let shot_path = screenshot_path();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let client = connect(&driver, &procs.profile).await;
        let visit = AssertUnwindSafe(visit(&client, &page, &shot_path))
            .catch_unwind()
            .await;
        if let Err(panic) = visit {
            // What the page showed when it went wrong, for the log and next to the screenshot.
            let failed = shot_path.with_file_name("simulator-failure.png");
            if let Some(dir) = failed.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            if let Ok(png) = client.screenshot().await {
                if std::fs::write(&failed, png).is_ok() {
                    loud(&format!(
                        "simulator failure screenshot: {}",
                        failed.display()
                    ));
                }
            }
            if let Ok(text) = client
                .execute("return document.body.innerText", vec![])
                .await
            {
                eprintln!("--- page text ---\n{}", text.as_str().unwrap_or_default());
            }
            let _ = client.clone().close().await;
            std::panic::resume_unwind(panic);
        }
        client.close().await.expect("end the browser session");
    });
    drop(rt);
    drop(procs);
    eprintln!(
        "simulator test: {:.1} s in all",
        began.elapsed().as_secs_f64()
    );
}

/// The visit: everything a person does on the page, and what they must see.
async fn visit(client: &Client, page: &str, shot_path: &Path) {
    let api = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("http client");
    client.goto(page).await.expect("load the page");
    wait_css(
        client,
        "the live connection",
        "[data-testid=live][data-state=open]",
    )
    .await;
    let group = wait_css(
        client,
        "the selected conversation",
        "[data-testid=conversation].selected",
    )
    .await;
    let cid = group.attr("data-id").await.unwrap().expect("data-id");
    assert_eq!(
        group.attr("data-kind").await.unwrap().as_deref(),
        Some("group"),
        "the default conversation is a group"
    );
    let mention = find(client, "[data-testid=mention-toggle]").await;
    assert!(
        mention.is_selected().await.unwrap(),
        "@-mention is checked by default in a group"
    );

    // 1. A message without the @-mention: shown, marked undelivered, never answered.
    mention.click().await.unwrap();
    assert!(!mention.is_selected().await.unwrap());
    send(client, UNMENTIONED).await;
    let quiet = wait_css(
        client,
        "the unmentioned message, marked undelivered",
        "[data-testid=user-message][data-delivered=false]",
    )
    .await;
    let quiet_id = quiet.attr("data-id").await.unwrap().expect("data-id");
    let quiet_text = quiet.text().await.unwrap();
    assert!(quiet_text.contains(UNMENTIONED), "{quiet_text}");
    assert!(
        quiet_text.contains("机器人收不到"),
        "the note says the robot does not get it: {quiet_text}"
    );
    mention.click().await.unwrap();
    assert!(mention.is_selected().await.unwrap());

    // 2. A Chinese question the fake answers with reasoning, tables and code.
    send(client, QUESTION).await;
    let first = wait_new_card(client, &HashSet::new()).await;
    let body = first
        .find(Locator::Css("[data-testid=card-body]"))
        .await
        .unwrap();
    let text = body.text().await.unwrap();
    for zh in ANSWER_ZH {
        assert!(text.contains(zh), "the card shows {zh:?}:\n{text}");
    }
    assert!(text.contains("第1节 Section 1") && text.contains("第2节 Section 2"));
    assert!(
        text.contains("return f\"你好，{name}！第2节\""),
        "the code is shown as written:\n{text}"
    );
    for raw in ["<br", "|---|", "| 项目 |", "```", "## "] {
        assert!(
            !text.contains(raw),
            "raw markdown {raw:?} is visible:\n{text}"
        );
    }
    let tables = body.find_all(Locator::Css("table")).await.unwrap();
    assert_eq!(tables.len(), 2, "two rendered tables");
    let cell = tables[0].find(Locator::Css("th")).await.unwrap();
    assert_eq!(cell.text().await.unwrap(), "项目");
    let code = body.find_all(Locator::Css("pre > code")).await.unwrap();
    assert_eq!(code.len(), 2, "two rendered code blocks");
    let quote = body.find(Locator::Css("blockquote")).await.unwrap();
    assert!(
        quote
            .text()
            .await
            .unwrap()
            .contains("Thinking about the question"),
        "the reasoning is shown as a quote"
    );
    let first_id = first.attr("data-id").await.unwrap().expect("data-id");
    // Its timeline: created first, streamed, finalized last.
    wait_css(
        client,
        "the first card's timeline to end with a successful finalize",
        "[data-testid=timeline-call]:last-child.finalize[data-status=\"200\"]",
    )
    .await;
    let calls = timeline(client).await;
    assert_eq!(
        calls
            .first()
            .map(|(api, status)| (api.as_str(), status.as_str())),
        Some(("CreateAndDeliver", "200")),
        "{calls:?}"
    );
    assert!(
        calls.iter().any(|(api, _)| api == "StreamingUpdate"),
        "{calls:?}"
    );
    assert!(
        calls.iter().all(|(_, status)| status == "200"),
        "no fault yet: {calls:?}"
    );
    // The unmentioned message got no card: the record has one card, for the question.
    let state = get_state(&api, page, &cid).await;
    let items = state["items"].as_array().expect("items");
    let cards: Vec<&Value> = items.iter().filter(|i| i["type"] == "card").collect();
    assert_eq!(
        cards.len(),
        1,
        "one card, for the mentioned question: {items:?}"
    );
    let quiet_at = items
        .iter()
        .position(|i| i["id"] == quiet_id.as_str())
        .expect("the unmentioned message is in the record");
    assert_eq!(items[quiet_at]["delivered"], false);
    assert_eq!(items[quiet_at]["mention"], false);
    assert_eq!(
        items[quiet_at + 1]["type"],
        "user",
        "no card answers the unmentioned message: {items:?}"
    );

    // 3. A 403 burst: the plugin backs off and the next answer still finishes.
    find(client, "[data-testid=fault-qps_burst]")
        .await
        .click()
        .await
        .unwrap();
    wait_xpath(
        client,
        "the fault log to list qps_burst",
        "//*[@data-testid='fault-log']/li[b[text()='qps_burst']]",
    )
    .await;
    find(client, "[data-testid=sender-select]")
        .await
        .select_by_value(ZHANG_WEI)
        .await
        .unwrap();
    send(client, QUESTION_403).await;
    let second = wait_new_card(client, &HashSet::from([first_id.clone()])).await;
    let second_id = second.attr("data-id").await.unwrap().expect("data-id");
    let text = second.text().await.unwrap();
    assert!(text.contains(ANSWER_403_ZH), "{text}");
    wait_css(
        client,
        "the second card's timeline to end with a successful finalize",
        "[data-testid=timeline-call]:last-child.finalize[data-status=\"200\"]",
    )
    .await;
    let caption = find(client, "#tl-caption").await;
    assert_eq!(
        caption.attr("title").await.unwrap().as_deref(),
        Some(second_id.as_str()),
        "the timeline shows the newest card"
    );
    let calls = timeline(client).await;
    assert!(
        calls.iter().any(|(_, status)| status == "403"),
        "the burst is on the card's timeline: {calls:?}"
    );
    assert!(
        calls
            .iter()
            .any(|(api, status)| api == "CreateAndDeliver" && status == "200"),
        "{calls:?}"
    );
    let limited: u64 = find(client, "[data-testid=limited-total]")
        .await
        .text()
        .await
        .unwrap()
        .trim()
        .parse()
        .expect("a number of 403s");
    assert!(limited > 0, "403s counted: {limited}");
    wait_js(
        client,
        "the rate chart to show 403 seconds",
        "return [...document.querySelectorAll('[data-testid=rate-chart] title')]\
         .some((t) => /403 [1-9]/.test(t.textContent));",
    )
    .await;
    let month: u64 = find(client, "[data-testid=month-dingtalk]")
        .await
        .text()
        .await
        .unwrap()
        .trim()
        .parse()
        .expect("a number of calls");
    assert!(month > 0, "DingTalk counted this month's calls");

    // 4. The page shows what the emulator's record says.
    let deadline = Instant::now() + WAIT;
    loop {
        let state = get_state(&api, page, &cid).await;
        match page_matches_record(client, &state).await {
            Ok(()) => {
                let n = state["items"].as_array().map_or(0, Vec::len);
                assert_eq!(n, 5, "two questions, one unmentioned message, two cards");
                break;
            }
            Err(_) if Instant::now() < deadline => tokio::time::sleep(POLL).await,
            Err(e) => panic!("the page does not show the record: {e}"),
        }
    }

    // 5. The screenshot: both finished cards (the second at the bottom), the timeline with
    //    the 403s, the rate chart. Clicking the fault button scrolled the engineering panel
    //    down to it; the visitor scrolls back up to the timeline.
    client
        .execute("document.getElementById('eng').scrollTop = 0;", vec![])
        .await
        .expect("scroll the engineering panel up");
    wait_js(
        client,
        "the engineering panel to be scrolled up",
        "return document.getElementById('eng').scrollTop === 0;",
    )
    .await;
    let png = client.screenshot().await.expect("screenshot");
    if let Some(dir) = shot_path.parent() {
        std::fs::create_dir_all(dir).expect("screenshot directory");
    }
    std::fs::write(shot_path, &png).expect("write the screenshot");
    loud(&format!("simulator screenshot: {}", shot_path.display()));

    // 6. The stop button of a long answer (张伟 asks).
    let shot = shot_path.with_file_name("simulator-stop.png");
    stop_button(client, &api, page, &cid, &shot).await;

    // 7. A picture: the page shows it in the sender's bubble, and the answer says what the
    //    gateway saw.
    let known = card_ids(&get_state(&api, page, &cid).await);
    find(client, "[data-testid=message-input]")
        .await
        .send_keys(PICTURE_CAPTION)
        .await
        .expect("type");
    find(client, "[data-testid=send-picture]")
        .await
        .click()
        .await
        .expect("click 发送图片");
    let answer = wait_new_card(client, &known).await;
    let text = answer.text().await.unwrap();
    assert!(
        text.contains("我看到了 1 张图片：image/png，104 字节（sha256 前 8 位 844870a3）。")
            && text.contains(PICTURE_CAPTION),
        "{text}"
    );
    wait_js(
        client,
        "the picture in the sender's bubble",
        "const m = [...document.querySelectorAll('[data-testid=user-message][data-picture=true]')].pop();\
         const img = m && m.querySelector('[data-testid=user-picture]');\
         return !!img && !img.hidden && img.complete && img.naturalWidth === 24;",
    )
    .await;
}

/// The ids of the cards in a state document.
fn card_ids(state: &Value) -> HashSet<String> {
    state["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|i| i["type"] == "card")
        .map(|i| i["id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// 张伟 asks for a long answer; 李娜 presses its stop button (nothing stops, the robot tells
/// her why in a 1:1 message), then 张伟, the asker, does: the card ends with the text so far
/// and no button.
async fn stop_button(client: &Client, api: &reqwest::Client, page: &str, cid: &str, shot: &Path) {
    let before = card_ids(&get_state(api, page, cid).await);
    send(client, QUESTION_STOP).await;
    let mut css = String::from("[data-testid=card][data-state=typing]");
    for id in &before {
        css.push_str(&format!(":not([data-id=\"{id}\"])"));
    }
    let card = wait_css(client, "the new card, streaming", &css).await;
    let id = card.attr("data-id").await.unwrap().expect("data-id");
    let on_card = |rest: &str| format!("[data-testid=card][data-id=\"{id}\"] {rest}");
    let in_row = |rest: &str| format!(".card-wrap:has([data-id=\"{id}\"]) {rest}");
    let button = wait_css(
        client,
        "the stop button on the streaming card",
        &on_card("[data-testid=card-button][data-action=btn_stop]"),
    )
    .await;
    assert_eq!(button.text().await.unwrap(), "停止回答");
    let press_as = find(client, &in_row("[data-testid=press-as]")).await;
    assert_eq!(
        press_as.prop("value").await.unwrap().as_deref(),
        Some(ZHANG_WEI),
        "the asker presses by default"
    );

    // 李娜 presses it: her press is recorded and answered, the robot tells her in a 1:1
    // message, the answer goes on.
    press_as.select_by_value(LI_NA).await.unwrap();
    button.click().await.unwrap();
    let hers = wait_css(
        client,
        "李娜's press, answered, with the robot's note to her",
        &in_row(&format!(
            "[data-testid=card-press][data-user=\"{LI_NA}\"][data-status=answered] [data-testid=press-notice]"
        )),
    )
    .await;
    let note = hers.text().await.unwrap();
    assert!(note.starts_with("机器人单聊 李娜："), "{note}");
    assert_eq!(
        card.attr("data-state").await.unwrap().as_deref(),
        Some("typing"),
        "the answer goes on after someone else's press"
    );

    // 张伟 presses it: the answer stops.
    let press_as = find(client, &in_row("[data-testid=press-as]")).await;
    press_as.select_by_value(ZHANG_WEI).await.unwrap();
    find(
        client,
        &on_card("[data-testid=card-button][data-action=btn_stop]"),
    )
    .await
    .click()
    .await
    .unwrap();
    wait_css(
        client,
        "the card to end",
        &format!("[data-testid=card][data-id=\"{id}\"][data-state=finished]"),
    )
    .await;
    wait_css(
        client,
        "张伟's press, answered",
        &in_row(&format!(
            "[data-testid=card-press][data-user=\"{ZHANG_WEI}\"][data-status=answered]"
        )),
    )
    .await;
    wait_js(
        client,
        "the stop button to be gone",
        &format!(
            "return document.querySelectorAll('[data-testid=card][data-id=\"{id}\"] [data-testid=card-button]').length === 0;"
        ),
    )
    .await;
    let text = find(client, &on_card("[data-testid=card-body]"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("第一段：") && text.contains("已停止"),
        "{text}"
    );
    assert!(
        !text.contains("第六段："),
        "the answer was cut short: {text}"
    );
    let mut who = Vec::new();
    for p in client
        .find_all(Locator::Css(&in_row("[data-testid=card-press]")))
        .await
        .unwrap()
    {
        who.push(p.attr("data-user").await.unwrap().unwrap_or_default());
    }
    assert_eq!(who, [LI_NA, ZHANG_WEI], "both presses, in order");

    let png = client.screenshot().await.expect("screenshot");
    std::fs::write(shot, &png).expect("write the stop screenshot");
    loud(&format!("simulator stop screenshot: {}", shot.display()));
}

/// A line on stderr even when the test harness captures the output (`eprintln!` is captured;
/// a write to the stream itself is not).
fn loud(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Types `text` into the composer and presses the send button; waits until the page took it
/// (the input is cleared after the server answered).
async fn send(client: &Client, text: &str) {
    let input = find(client, "[data-testid=message-input]").await;
    input.send_keys(text).await.expect("type");
    find(client, "[data-testid=send-button]")
        .await
        .click()
        .await
        .expect("click send");
    wait_js(
        client,
        "the composer to be cleared after sending",
        "return document.querySelector('[data-testid=message-input]').value === '' \
         && document.getElementById('send-error').hidden;",
    )
    .await;
}

/// Waits for a finished card that is not in `known`, and returns it.
async fn wait_new_card(client: &Client, known: &HashSet<String>) -> Element {
    let mut css = String::from("[data-testid=card][data-state=finished]");
    for id in known {
        css.push_str(&format!(":not([data-id=\"{id}\"])"));
    }
    let card = wait_css(client, "a new finished card", &css).await;
    // A finished card's body is the final text: no typing caret left.
    assert!(card
        .find_all(Locator::Css(".caret"))
        .await
        .unwrap()
        .is_empty());
    card
}

/// The timeline's rows as (`data-api`, `data-status`).
async fn timeline(client: &Client) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for row in client
        .find_all(Locator::Css(
            "[data-testid=timeline] [data-testid=timeline-call]",
        ))
        .await
        .unwrap()
    {
        out.push((
            row.attr("data-api").await.unwrap().unwrap_or_default(),
            row.attr("data-status").await.unwrap().unwrap_or_default(),
        ));
    }
    out
}

/// Every card and typed message of the record is on the page, in the same state, with the
/// same text (the card's text as the browser makes it of the server's HTML).
async fn page_matches_record(client: &Client, state: &Value) -> Result<(), String> {
    let items = state["items"].as_array().ok_or("no items")?;
    let shown = client
        .execute(
            "const out = {};\
             for (const c of document.querySelectorAll('[data-testid=card]')) {\
               out['card:' + c.dataset.id] = [c.dataset.state,\
                 c.querySelector('[data-testid=card-body]').textContent];\
             }\
             for (const m of document.querySelectorAll('[data-testid=user-message]')) {\
               out['user:' + m.dataset.id] = [m.dataset.delivered,\
                 m.querySelector('.bubble').textContent];\
             }\
             return out;",
            vec![],
        )
        .await
        .map_err(|e| e.to_string())?;
    let shown: HashMap<String, (String, String)> =
        serde_json::from_value(shown).map_err(|e| e.to_string())?;
    let mut expected = 0;
    for item in items {
        let id = item["id"].as_str().ok_or("item without id")?;
        match item["type"].as_str() {
            Some("card") => {
                expected += 1;
                let (st, text) = shown
                    .get(&format!("card:{id}"))
                    .ok_or(format!("card {id} is not on the page"))?;
                let want_state = item["state"].as_str().unwrap_or_default();
                if st != want_state {
                    return Err(format!("card {id}: page {st}, record {want_state}"));
                }
                let want = client
                    .execute(
                        "const t = document.createElement('template');\
                         t.innerHTML = arguments[0]; return t.content.textContent;",
                        vec![item["html"].clone()],
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                if want.as_str() != Some(text.as_str()) {
                    return Err(format!("card {id}: page text {text:?}, record {want}"));
                }
            }
            Some("user") => {
                expected += 1;
                let (delivered, text) = shown
                    .get(&format!("user:{id}"))
                    .ok_or(format!("message {id} is not on the page"))?;
                let want = item["text"].as_str().unwrap_or_default();
                if !text.ends_with(want) {
                    return Err(format!("message {id}: page {text:?}, record {want:?}"));
                }
                if Some(delivered == "true") != item["delivered"].as_bool() {
                    return Err(format!("message {id}: delivered {delivered} on the page"));
                }
            }
            _ => {}
        }
    }
    if shown.len() != expected {
        return Err(format!(
            "the page shows {} cards and messages, the record {expected}",
            shown.len()
        ));
    }
    Ok(())
}

/// `GET /api/state?conversation=CID`.
async fn get_state(api: &reqwest::Client, page: &str, cid: &str) -> Value {
    let url = reqwest::Url::parse_with_params(&format!("{page}api/state"), [("conversation", cid)])
        .expect("state url");
    api.get(url)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .expect("GET /api/state")
        .json()
        .await
        .expect("state JSON")
}

async fn find(client: &Client, css: &str) -> Element {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css} on the page: {e}"))
}

/// Waits (bounded, polling the DOM) for an element matching `css`.
async fn wait_css(client: &Client, what: &str, css: &str) -> Element {
    wait_for(client, what, Locator::Css(css)).await
}

/// Waits (bounded, polling the DOM) for an element matching `xpath`.
async fn wait_xpath(client: &Client, what: &str, xpath: &str) -> Element {
    wait_for(client, what, Locator::XPath(xpath)).await
}

/// Waits (bounded, polling the DOM) for an element `locator` finds.
async fn wait_for(client: &Client, what: &str, locator: Locator<'_>) -> Element {
    let shown = format!("{locator:?}");
    client
        .wait()
        .at_most(WAIT)
        .every(POLL)
        .for_element(locator)
        .await
        .unwrap_or_else(|e| panic!("timed out waiting for {what} ({shown}): {e}"))
}

/// Waits (bounded, polling the DOM) until `script` returns `true`.
async fn wait_js(client: &Client, what: &str, script: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let got = client.execute(script, vec![]).await;
        if matches!(got, Ok(Value::Bool(true))) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {got:?}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// A WebDriver session in a fresh Chromium (its profile in `profile`).
async fn connect(driver: &str, profile: &Path) -> Client {
    let mut args: Vec<String> = CHROME_ARGS.iter().map(|a| a.to_string()).collect();
    args.push(format!("--user-data-dir={}", profile.display()));
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
    });
    let caps = caps.as_object().expect("capabilities").clone();
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let mut builder = ClientBuilder::new(connector);
    builder.capabilities(caps);
    tokio::time::timeout(STARTUP, builder.connect(driver))
        .await
        .expect("the browser session did not start in time")
        .expect("start Chromium through chromedriver")
}

/// Where the screenshot goes: `SIMULATOR_SCREENSHOT` (relative to the workspace root), else
/// `target/simulator.png` in the workspace.
fn screenshot_path() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let root = root.canonicalize().unwrap_or(root);
    match std::env::var_os("SIMULATOR_SCREENSHOT") {
        Some(p) if !p.is_empty() => root.join(p),
        _ => root.join("target/simulator.png"),
    }
}

/// The processes this test starts, ended when it ends (panics included): the host, and
/// chromedriver with the Chromium it started.
struct Procs {
    host: Option<Child>,
    host_stderr: Arc<Mutex<String>>,
    driver: Option<Child>,
    /// The scratch directory: the host's `TMPDIR` and Chromium's profile.
    dir: PathBuf,
    /// Chromium's `--user-data-dir` (names Chromium's processes).
    profile: PathBuf,
}

impl Procs {
    fn new() -> Procs {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "simulator-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        let profile = dir.join("chromium-profile");
        std::fs::create_dir_all(&profile).expect("scratch directory");
        Procs {
            host: None,
            host_stderr: Arc::default(),
            driver: None,
            dir,
            profile,
        }
    }

    /// Starts `openclaw-skill demo --web --port 0`; returns the page's URL.
    fn start_host(&mut self) -> String {
        let library = plugin_path();
        let mut child = Command::new(env!("CARGO_BIN_EXE_openclaw-skill"))
            .args(["demo", "--web", "--port", "0", "--library"])
            .arg(&library)
            .env_remove("RUST_LOG")
            .env_remove("OPENCLAW_API_KEY")
            .env("TMPDIR", &self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn openclaw-skill demo --web");
        let (tx, lines) = mpsc::channel();
        let out = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut err = child.stderr.take().expect("stderr");
        let sink = self.host_stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        self.host = Some(child);
        let deadline = Instant::now() + STARTUP;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(url) = line.strip_prefix("simulator: ") {
                        return url.trim().to_owned();
                    }
                }
                Err(e) => panic!(
                    "openclaw-skill demo --web printed no `simulator: URL` line ({e})\n{}",
                    self.host_stderr.lock().unwrap_or_else(|p| p.into_inner())
                ),
            }
        }
    }

    /// Starts chromedriver on a free loopback port (it listens on loopback only, as it does
    /// without `--allowed-ips`); returns its URL once it is ready.
    fn start_chromedriver(&mut self) -> String {
        for _attempt in 0..3 {
            let port = TcpListener::bind(("127.0.0.1", 0))
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let mut child = Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .arg("--log-level=WARNING")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("spawn chromedriver");
            let url = format!("http://127.0.0.1:{port}");
            let deadline = Instant::now() + STARTUP;
            loop {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // the port was taken meanwhile: another one
                }
                if status_ready(port) {
                    self.driver = Some(child);
                    return url;
                }
                assert!(
                    Instant::now() < deadline,
                    "chromedriver did not become ready on {url}"
                );
                std::thread::sleep(POLL);
            }
        }
        panic!("chromedriver did not start (3 ports tried)");
    }
}

/// chromedriver answers `GET /status` with `"ready": true`.
fn status_ready(port: u16) -> bool {
    use std::io::Write;
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    if s.write_all(b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 200") && answer.contains("\"ready\":true")
}

impl Drop for Procs {
    fn drop(&mut self) {
        // chromedriver and every process it started (Chromium's browser, zygotes, renderers),
        // plus any process still naming this test's Chromium profile.
        let mut doomed: Vec<u32> = Vec::new();
        if let Some(driver) = &self.driver {
            doomed.extend(descendants(driver.id()));
        }
        doomed.extend(naming(&self.profile));
        if let Some(mut driver) = self.driver.take() {
            let _ = driver.kill();
            let _ = driver.wait();
        }
        doomed.sort_unstable();
        doomed.dedup();
        for pid in doomed {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
        // The host: SIGTERM (it shuts down cleanly and removes its temporary manifest), then
        // SIGKILL if it takes too long.
        if let Some(mut host) = self.host.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &host.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                match host.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() > deadline => {
                        let _ = host.kill();
                        let _ = host.wait();
                        break;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        }
        if std::thread::panicking() {
            eprintln!(
                "--- openclaw-skill demo --web stderr ---\n{}",
                self.host_stderr.lock().unwrap_or_else(|p| p.into_inner())
            );
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Every process below `pid` (from /proc).
fn descendants(pid: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for (p, parent) in processes().into_iter().filter_map(|p| Some((p, ppid(p)?))) {
        children.entry(parent).or_default().push(p);
    }
    let mut out = Vec::new();
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        for &c in children.get(&p).map(Vec::as_slice).unwrap_or_default() {
            out.push(c);
            todo.push(c);
        }
    }
    out
}

/// Processes whose command line contains `path`.
fn naming(path: &Path) -> Vec<u32> {
    let needle = path.to_string_lossy().into_owned();
    processes()
        .into_iter()
        .filter(|p| {
            std::fs::read(format!("/proc/{p}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(&needle))
                .unwrap_or(false)
        })
        .collect()
}

fn processes() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The parent of `pid` (`/proc/PID/stat`, the field after the state).
fn ppid(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}
