#![cfg(feature = "demo")]
//! `openclaw-skill demo --plain` as a process, with the plugin `.so` that `cargo test --workspace`
//! builds: the scripted conversation plays through the real ingress and plugin against the
//! built-in emulator and fake gateway (all on 127.0.0.1), and the output shows every answer (a
//! picture the gateway describes, an answer its asker stops with the card's stop button), the
//! stand-up (three collected messages, acknowledged, and the schedule's summary card of them),
//! the card states and a summary without 403s.

mod support;

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use openclaw_dingtalk_emulator::gateway::{FakeGateway, FakeGatewayConfig};
use support::plugin_path;

/// The first 8 hex digits of the SHA-256 of the demo's picture (`chart_png()`).
const PICTURE_SHA256_PREFIX: &str = "844870a3";
/// Upper bound for the whole demo (it takes about 10–15 s, the stand-up's tick included; the
/// bound only stops a hung run).
const LIMIT: Duration = Duration::from_secs(90);
/// The stand-up messages of the demo: writer, text as sent, text as collected (no tag).
const STANDUP: [(&str, &str, &str); 3] = [
    (
        "张三",
        "#standup 昨天：修复登录超时；今天：联调支付",
        "昨天：修复登录超时；今天：联调支付",
    ),
    (
        "李四",
        "#standup 昨天：写完周报；今天：评审接口文档；阻碍：测试环境不稳定",
        "昨天：写完周报；今天：评审接口文档；阻碍：测试环境不稳定",
    ),
    (
        "王五",
        "昨天请假，今天补写单元测试 #standup",
        "昨天请假，今天补写单元测试",
    ),
];

struct Output {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    took: Duration,
}

/// A running `openclaw-skill`; stdout arrives line by line (Rust's stdout is line-buffered).
struct Running {
    child: Child,
    started: Instant,
    lines: mpsc::Receiver<String>,
    stdout: std::thread::JoinHandle<String>,
    stderr: std::thread::JoinHandle<String>,
}

impl Running {
    /// Starts `openclaw-skill ARGS…` without `RUST_LOG` or a gateway token from outside.
    fn start(args: &[&str]) -> Running {
        Running::start_with(args, &[])
    }

    /// [`Running::start`] with these environment variables set.
    fn start_with(args: &[&str], env: &[(&str, &OsStr)]) -> Running {
        let mut child = Command::new(env!("CARGO_BIN_EXE_openclaw-skill"))
            .args(args)
            .env_remove("RUST_LOG")
            .env_remove("OPENCLAW_API_KEY")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn openclaw-skill");
        let (tx, lines) = mpsc::channel();
        let out = child.stdout.take().expect("stdout");
        let stdout = std::thread::spawn(move || {
            let mut text = String::new();
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                text.push_str(&line);
                text.push('\n');
                let _ = tx.send(line);
            }
            text
        });
        let mut err = child.stderr.take().expect("stderr");
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = err.read_to_string(&mut text);
            text
        });
        Running {
            child,
            started: Instant::now(),
            lines,
            stdout,
            stderr,
        }
    }

    /// Waits (bounded) for a stdout line starting with `prefix`.
    fn wait_line(&self, prefix: &str) {
        let deadline = self.started + LIMIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return,
                Ok(_) => {}
                Err(e) => panic!("no line starting with {prefix:?}: {e}"),
            }
        }
    }

    /// Sends SIGINT, as Ctrl-C in a terminal does.
    fn interrupt(&self) {
        let ok = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("kill")
            .success();
        assert!(ok, "kill -INT failed");
    }

    /// Waits for the end (killed after [`LIMIT`]).
    fn finish(mut self) -> Output {
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break Some(status);
            }
            if self.started.elapsed() > LIMIT {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let out = Output {
            code: status.and_then(|s| s.code()),
            stdout: self.stdout.join().expect("stdout reader"),
            stderr: self.stderr.join().expect("stderr reader"),
            took: self.started.elapsed(),
        };
        assert!(
            status.is_some(),
            "openclaw-skill did not end within {LIMIT:?}\n--- stdout\n{}\n--- stderr\n{}",
            out.stdout,
            out.stderr
        );
        out
    }
}

/// Runs `openclaw-skill ARGS…` to its end.
fn run_host(args: &[&str]) -> Output {
    Running::start(args).finish()
}

/// An empty directory for the demo's `TMPDIR`: what the demo leaves there is what it failed to
/// remove.
struct TmpDir(PathBuf);

impl TmpDir {
    fn new(name: &str) -> TmpDir {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("demo-tmpdir-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch TMPDIR");
        TmpDir(dir)
    }

    /// `TMPDIR=…` for [`Running::start_with`].
    fn env(&self) -> (&'static str, &OsStr) {
        ("TMPDIR", self.0.as_os_str())
    }

    /// What is left in it.
    fn left(&self) -> Vec<String> {
        std::fs::read_dir(&self.0)
            .expect("read TMPDIR")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect()
    }
}

impl Drop for TmpDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The temporary manifest the demo announced (`manifest  PATH (removed at exit)`).
fn announced_manifest(stdout: &str) -> PathBuf {
    let line = stdout
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("manifest  "))
        .unwrap_or_else(|| panic!("no manifest line in\n{stdout}"));
    PathBuf::from(
        line.strip_suffix(" (removed at exit)")
            .expect("(removed at exit)"),
    )
}

/// The lines of the summary table row for reply `#n`.
fn summary_row(stdout: &str, n: usize) -> &str {
    labelled_row(stdout, &format!("#{n}"))
}

/// The summary table row labelled `label` (`#3`, `tick`).
fn labelled_row<'a>(stdout: &'a str, label: &str) -> &'a str {
    let summary = &stdout[stdout.find("\nSummary\n").expect("a summary")..];
    summary
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{label} ")))
        .unwrap_or_else(|| panic!("no summary row {label} in\n{summary}"))
}

#[test]
fn demo_plays_the_script_through_the_real_plugin_and_summarises() {
    let library = plugin_path();
    let library = library.to_str().expect("UTF-8 path");
    let tmp = TmpDir::new("plays");
    let out =
        Running::start_with(&["demo", "--plain", "--library", library], &[tmp.env()]).finish();
    let (stdout, stderr) = (&out.stdout, &out.stderr);
    let context = format!("--- stdout\n{stdout}\n--- stderr\n{stderr}");
    assert_eq!(out.code, Some(0), "{context}");
    assert!(announced_manifest(stdout).starts_with(&tmp.0), "{context}");
    assert_eq!(tmp.left(), Vec::<String>::new(), "removed at exit");

    // The six questions, the three stand-up messages and the schedule's tick, in order, each
    // with what DingTalk showed.
    let steps: Vec<usize> = (1..=10)
        .map(|n| {
            let who = match n {
                1..=6 => "you".to_owned(),
                7..=9 => STANDUP[n - 7].0.to_owned(),
                _ => "⏰ schedule standup".to_owned(),
            };
            stdout
                .find(&format!("[{n}/10] {who} › "))
                .unwrap_or_else(|| panic!("step {n} missing\n{context}"))
        })
        .collect();
    assert!(steps.windows(2).all(|w| w[0] < w[1]), "{context}");
    let step = |n: usize| &stdout[steps[n - 1]..steps.get(n).copied().unwrap_or(stdout.len())];

    // 1: the long markdown answer (LONG:394: two whole sections of the fake's markdown).
    let long = step(1);
    for part in [
        "## 第1节 Section 1",
        "这是用于测试长回复的中文段落",
        "- 列表项 one",
        "| 值 | value 1 |",
        "```rust",
        "fn main() { println!(\"你好 2\"); }",
    ] {
        assert!(long.contains(part), "step 1 lacks {part:?}\n{context}");
    }
    assert!(!long.contains("第3节"), "{context}");
    assert!(
        long.contains("AI Card: processing → typing → finished"),
        "{context}"
    );
    assert!(long.contains("└─ finished · 394 chars · "), "{context}");

    // 2: the same session remembers: Turn 2.
    let follow_up = step(2);
    assert!(
        follow_up.contains("Hello from the fake gateway. You said: "),
        "{context}"
    );
    assert!(
        follow_up.contains("Do you remember what I asked? PACE:40. Turn 2."),
        "{context}"
    );
    assert!(
        follow_up.contains("AI Card: processing → typing → finished"),
        "{context}"
    );

    // 3: `/new` is answered with a plain message through the session webhook.
    let new = step(3);
    assert!(
        new.contains("robot message (session webhook):"),
        "{context}"
    );
    assert!(new.contains("已开始新会话。"), "{context}");
    assert!(new.contains("└─ replied · 1 DingTalk call · "), "{context}");

    // 4: reasoning above the answer, in the fresh session: Turn 1 again.
    let reasoning = step(4);
    assert!(
        reasoning
            .contains("> Thinking about the question. Checking the details. Composing the answer."),
        "{context}"
    );
    assert!(
        reasoning.contains("Why is the sky blue? REASON PACE:60. Turn 1."),
        "{context}"
    );
    assert!(
        reasoning.contains("AI Card: processing → typing → finished"),
        "{context}"
    );

    // 5: a picture: the gateway received it as an image and says so, in Chinese.
    let picture = step(5);
    assert!(
        picture.contains(&format!(
            "我看到了 1 张图片：image/png，104 字节（sha256 前 8 位 {PICTURE_SHA256_PREFIX}）。"
        )),
        "{context}"
    );
    assert!(picture.contains("这张图里画的是什么？[图片]"), "{context}");
    assert!(
        picture.contains("AI Card: processing → typing → finished"),
        "{context}"
    );

    // 6: the asker presses the stop button while the answer streams: the card ends with the
    // text so far and the stop note, far short of the 2,700-byte answer.
    let stopped = step(6);
    assert!(stopped.contains("\n  ⏹ Alice presses 「"), "{context}");
    assert!(
        stopped.contains("第一段："),
        "the text so far stays\n{context}"
    );
    assert!(stopped.contains("已停止"), "{context}");
    assert!(!stopped.contains("第七段："), "{context}");
    assert!(
        stopped.contains("AI Card: processing → typing → finished"),
        "{context}"
    );
    assert!(
        stopped.contains("└─ stopped · stop pressed after "),
        "{context}"
    );

    // 7–9: the stand-up messages are collected: each is acknowledged with a plain message, no
    // card, no model.
    for (i, (nick, text, _)) in STANDUP.iter().enumerate() {
        let collected = step(7 + i);
        assert!(
            collected.starts_with(&format!("[{}/10] {nick} › {text}\n", 7 + i)),
            "{context}"
        );
        assert!(
            collected.contains("robot message (session webhook):\n│ 已记下，到点一起汇总。"),
            "{context}"
        );
        assert!(
            collected.contains("└─ replied · 1 DingTalk call · "),
            "{context}"
        );
        assert!(!collected.contains("AI Card"), "{context}");
    }

    // 10: the schedule's tick posts one summary card into the group on its own. The fake
    // gateway echoes the prompt: the card shows the three collected messages, in order, without
    // the tag, and the demo says its request carried all three. (Should a tick have read the
    // list between two of them, the next tick's card has the rest: the demo follows both.)
    let tick = step(10);
    assert!(
        tick.contains(": processing → typing → finished"),
        "{context}"
    );
    assert!(
        tick.contains("the robot posts this on its own (schedule standup)"),
        "{context}"
    );
    let lines: Vec<usize> = STANDUP
        .iter()
        .map(|(nick, _, collected)| {
            tick.find(&format!("{nick}] {collected}"))
                .unwrap_or_else(|| panic!("the summary card lacks {nick}'s message\n{context}"))
        })
        .collect();
    assert!(lines.windows(2).all(|w| w[0] < w[1]), "{context}");
    assert!(
        tick.contains("收集到的 3 条消息") || tick.contains("AI Card 2 of 2"),
        "{context}"
    );
    assert!(!tick.contains("#standup"), "{context}");
    assert!(tick.contains("\n└─ finished · "), "{context}");
    assert!(
        tick.contains(
            "\n  模型收到 3 条站会消息 (the schedule's gateway request carried 3 collected messages: 张三、李四、王五)\n"
        ),
        "{context}"
    );

    // The summary: every reply ended as expected, no 403, the counts agree.
    for (n, outcome) in [
        (1, "finished"),
        (2, "finished"),
        (3, "replied"),
        (4, "finished"),
        (5, "finished"),
        (6, "stopped"),
        (7, "replied"),
        (8, "replied"),
        (9, "replied"),
    ] {
        let row = summary_row(stdout, n);
        assert!(row.contains(outcome), "#{n}: {row}\n{context}");
    }
    for n in [3, 7, 8, 9] {
        assert!(
            summary_row(stdout, n).ends_with("1: webhook 1"),
            "{context}"
        );
    }
    // The summary card is listed as the schedule's, not as an answer to a message.
    let tick = labelled_row(stdout, "tick");
    assert!(tick.contains(" finished "), "{tick}\n{context}");
    assert!(!stdout.contains("\n  #10 "), "{context}");
    assert!(
        stdout.contains(
            "\n  schedule standup: #7, #8, #9 collected (acknowledged, no card); its tick at "
        ) && stdout.contains(
            " posted the summary card (row tick), not an answer to a message; the gateway's prompt carried 3 of 3 (张三、李四、王五)\n"
        ),
        "{context}"
    );
    assert!(
        summary_row(stdout, 5).ends_with(", file download 1"),
        "{context}"
    );
    assert!(
        stdout.contains(
            "\n  card presses (emulator record): #6 Alice btn_stop → answered, the reply stopped\n"
        ),
        "{context}"
    );
    assert!(stdout.contains("\n  403 answers: 0 "), "{context}");
    assert!(
        stdout.contains("    stream-connection-open") && stdout.contains(", matching the record"),
        "{context}"
    );
    let total = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("total"))
        .expect("a total row");
    let total: Vec<u64> = total
        .split_whitespace()
        .map(|n| n.parse().expect("numbers"))
        .collect();
    assert!(total[0] >= 10, "{context}");
    assert_eq!(total[1], 0, "no 403\n{context}");
    assert!(
        stdout.contains("first visible (first token → first card text"),
        "{context}"
    );
    assert!(stdout.contains("\n  shut down: "), "{context}");

    // Quiet logs, no secrets anywhere.
    assert!(stdout.contains("host logger at warn: 0 lines"), "{context}");
    assert!(stderr.trim().is_empty(), "{context}");
    for secret in ["emulator-app-secret", "fake-gateway-token"] {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "{context}"
        );
    }
    eprintln!("demo took {} ms", out.took.as_millis());
}

#[test]
fn demo_without_the_plugin_says_what_to_build() {
    let out = run_host(&[
        "demo",
        "--plain",
        "--library",
        "/nonexistent/libopenclaw_dingtalk.so",
    ]);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("cargo build --release"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty(), "{}", out.stdout);
}

#[test]
fn ctrl_c_ends_the_demo_cleanly_with_the_reply_in_flight_finalized() {
    let library = plugin_path();
    let library = library.to_str().expect("UTF-8 path");
    let tmp = TmpDir::new("ctrl-c");
    let demo = Running::start_with(&["demo", "--plain", "--library", library], &[tmp.env()]);
    // The robot took the first message (its card exists); the reply streams for about 2 s.
    demo.wait_line("  card delivered to the group (processing) after ");
    demo.interrupt();
    let out = demo.finish();
    let context = format!("--- stdout\n{}\n--- stderr\n{}", out.stdout, out.stderr);
    assert_eq!(out.code, Some(130), "{context}");
    assert_eq!(
        tmp.left(),
        Vec::<String>::new(),
        "removed at exit\n{context}"
    );
    assert!(
        out.stdout.contains("\ninterrupted: stopping intake"),
        "{context}"
    );
    assert!(!out.stdout.contains("[2/10]"), "{context}");
    // The reply in flight still ended with a final card (finished; or failed as interrupted
    // should it outlast the shutdown's grace period), and the summary and the shutdown line
    // were printed.
    assert!(
        out.stdout
            .contains("AI Card: processing → typing → finished")
            || out.stdout.contains("AI Card: processing → typing → failed"),
        "{context}"
    );
    assert!(out.stdout.contains("\n  403 answers: 0 "), "{context}");
    assert!(out.stdout.contains("\n  shut down: "), "{context}");
    assert!(out.stderr.trim().is_empty(), "{context}");
}

#[test]
fn an_unreachable_gateway_fails_the_cards_and_the_exit_status() {
    // A port that was just free on loopback: connections are refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let gateway = format!("http://127.0.0.1:{port}");
    let library = plugin_path();
    let library = library.to_str().expect("UTF-8 path");
    let out = run_host(&[
        "demo",
        "--plain",
        "--library",
        library,
        "--gateway",
        &gateway,
        "--gateway-token",
        "not-printed-token",
    ]);
    let context = format!("--- stdout\n{}\n--- stderr\n{}", out.stdout, out.stderr);
    assert_eq!(out.code, Some(1), "{context}");
    // Five answers and the stand-up's summary card fail; `/new` and the three stand-up
    // acknowledgements need no gateway.
    assert!(
        out.stderr
            .contains("6 of 10 replies did not finish (the cards above say why)"),
        "{context}"
    );
    assert_eq!(
        out.stdout.matches("AI Card: processing → failed").count(),
        6,
        "{context}"
    );
    assert_eq!(
        out.stdout.matches("已记下，到点一起汇总。").count(),
        3,
        "{context}"
    );
    assert!(
        out.stdout.contains("cannot connect to the gateway"),
        "{context}"
    );
    assert!(out.stdout.contains("已开始新会话。"), "{context}");
    assert!(out.stdout.contains("\n  403 answers: 0 "), "{context}");
    for secret in ["not-printed-token", "emulator-app-secret"] {
        assert!(
            !out.stdout.contains(secret) && !out.stderr.contains(secret),
            "{context}"
        );
    }
}

/// A gateway that accepts connections and never answers: a reply to it waits for its first
/// byte, so the demo's shutdown after Ctrl-C waits for the full grace period (10 s).
fn silent_gateway() -> (String, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let held = std::thread::spawn(move || {
        let mut open = Vec::new();
        // Ends when the test process does; holds every connection open until then.
        for conn in listener.incoming() {
            match conn {
                Ok(conn) => open.push(conn),
                Err(_) => return,
            }
        }
    });
    (url, held)
}

#[test]
fn a_second_ctrl_c_exits_at_once_and_still_removes_the_temporary_directory() {
    let library = plugin_path();
    let library = library.to_str().expect("UTF-8 path");
    let (gateway, _held) = silent_gateway();
    let tmp = TmpDir::new("second-ctrl-c");
    let demo = Running::start_with(
        &[
            "demo",
            "--plain",
            "--library",
            library,
            "--gateway",
            &gateway,
        ],
        &[
            tmp.env(),
            ("OPENCLAW_API_KEY", OsStr::new("silent-gateway-key")),
        ],
    );
    demo.wait_line("  card delivered to the group (processing) after ");
    demo.interrupt();
    // The shutdown now waits for the reply, which waits for the silent gateway.
    demo.wait_line("interrupted: stopping intake");
    assert_eq!(
        tmp.left().len(),
        1,
        "the demo's directory exists while it runs"
    );
    demo.interrupt();
    let out = demo.finish();
    let context = format!("--- stdout\n{}\n--- stderr\n{}", out.stdout, out.stderr);
    assert_eq!(out.code, Some(130), "{context}");
    assert!(
        out.stderr
            .contains("openclaw-skill demo: second signal, exiting without waiting"),
        "{context}"
    );
    assert_eq!(
        tmp.left(),
        Vec::<String>::new(),
        "removed at exit\n{context}"
    );
    assert!(
        !out.stdout.contains("silent-gateway-key") && !out.stderr.contains("silent-gateway-key")
    );
}

#[test]
fn the_gateway_token_comes_from_openclaw_api_key() {
    // The fake gateway serves on the runtime's worker thread while the demo runs.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let key = "demo-api-key-0b7c";
    let gateway = rt
        .block_on(FakeGateway::start(FakeGatewayConfig {
            token: Some(key.into()),
            ..FakeGatewayConfig::default()
        }))
        .expect("fake gateway");
    let library = plugin_path();
    let library = library.to_str().expect("UTF-8 path");
    let url = gateway.base_url();
    let run = |env: &[(&str, &OsStr)]| {
        Running::start_with(
            &["demo", "--plain", "--library", library, "--gateway", &url],
            env,
        )
        .finish()
    };
    let out = run(&[("OPENCLAW_API_KEY", OsStr::new(key))]);
    let context = format!("--- stdout\n{}\n--- stderr\n{}", out.stdout, out.stderr);
    assert_eq!(out.code, Some(0), "{context}");
    assert!(
        !out.stdout.contains(key) && !out.stderr.contains(key),
        "{context}"
    );
    // The stand-up against a gateway the demo takes for a real one: the schedule's request
    // asks the plain-question prompt and carries the three collected messages, in order.
    let summary: String = gateway
        .requests()
        .into_iter()
        .map(|r| r.body.to_string())
        .filter(|body| body.contains("(schedule standup)"))
        .collect();
    assert!(!summary.is_empty(), "no request of the stand-up\n{context}");
    assert!(
        summary.contains("请按人整理今天的站会：每人一行"),
        "{summary}"
    );
    assert!(!summary.contains("PACE:"), "{summary}");
    let at: Vec<usize> = STANDUP
        .iter()
        .map(|(nick, _, collected)| {
            summary
                .find(&format!("{nick}] {collected}"))
                .unwrap_or_else(|| panic!("{nick}'s message missing: {summary}"))
        })
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{summary}");
    assert!(!summary.contains("#standup"), "{summary}");
    assert!(
        labelled_row(&out.stdout, "tick").contains(" finished "),
        "{context}"
    );
    // Only the fake gateway's record says what the prompt carried.
    assert!(!out.stdout.contains("模型收到"), "{context}");
    // Without it the gateway refuses every answer, the stand-up's summary too.
    let out = run(&[]);
    let context = format!("--- stdout\n{}\n--- stderr\n{}", out.stdout, out.stderr);
    assert_eq!(out.code, Some(1), "{context}");
    assert_eq!(
        out.stdout.matches("AI Card: processing → failed").count(),
        6,
        "{context}"
    );
}

/// `kind=n` pairs of a log line, by name.
fn counts(line: &str) -> Vec<(String, u64)> {
    line.split_whitespace()
        .filter_map(|w| {
            let (k, v) = w.split_once('=')?;
            Some((k.to_owned(), v.parse().ok()?))
        })
        .collect()
}

#[test]
fn verbose_log_numbers_agree_with_the_summary_or_the_summary_says_why() {
    let library = plugin_path();
    let library = library.to_str().expect("UTF-8 path");
    let out = run_host(&["demo", "--plain", "--verbose", "--library", library]);
    let (stdout, stderr) = (&out.stdout, &out.stderr);
    let context = format!("--- stdout\n{stdout}\n--- stderr\n{stderr}");
    assert_eq!(out.code, Some(0), "{context}");

    // The plugin's line per reply, in order: five answers, the `/new` notice, the three
    // stand-up acknowledgements and the schedule's summary card (row `tick`).
    let replies: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains(" openclaw_dingtalk::reply") && l.contains(" calls="))
        .collect();
    assert_eq!(replies.len(), 10, "{context}");
    assert!(replies[0].contains(" calls=11 token=1 "), "{context}");
    assert!(replies[9].contains(" msg=post_"), "{context}");
    for (i, line) in replies.iter().enumerate() {
        let n = i + 1;
        let row = if n == 10 {
            labelled_row(stdout, "tick")
        } else {
            summary_row(stdout, n)
        };
        let counts = counts(line);
        let count = |k: &str| counts.iter().find(|(name, _)| name == k).map(|(_, v)| *v);
        // The DingTalk calls: the same total and breakdown.
        let kinds: Vec<String> = [
            ("token", "token"),
            ("create", "create"),
            ("stream", "stream"),
            ("instance", "instance"),
            ("webhook", "webhook"),
            ("robot_send", "robot send"),
            ("download", "file download"),
        ]
        .iter()
        .filter_map(|(log, shown)| count(log).map(|c| format!("{shown} {c}")))
        .collect();
        let calls = format!("{}: {}", count("calls").expect("calls="), kinds.join(", "));
        assert!(
            row.ends_with(&calls),
            "#{n}: {row:?} vs {line:?}\n{context}"
        );
        // The characters: the same, except where the card also shows the reasoning (#4) or
        // the note that the answer was stopped (#6).
        if let Some(chars) = count("chars") {
            let shown: u64 = row.split_whitespace().nth(2).unwrap().parse().unwrap();
            if n == 4 || n == 6 {
                assert!(shown > chars, "#{n}: more shown than answered\n{context}");
            } else {
                assert_eq!(shown, chars, "#{n}\n{context}");
            }
        }
    }
    for why in [
        "calls= token= …    the same as the DingTalk calls column above (token= is a count)",
        "chars=             the answer alone; the cards above also count the reasoning",
        "first_visible_ms=  from the plugin taking the message; \"first visible\" above starts at the first token",
        "first_card_ms=     from the host receiving the message",
    ] {
        assert!(stdout.contains(why), "not explained: {why}\n{context}");
    }
    // The number of log lines the summary reports is the number written by then. The stand-up
    // schedule keeps ticking (every 5 s, silently with nothing collected) until the plugin is
    // unloaded: its lines may come after the summary, and only those.
    let logged = stdout
        .lines()
        .find_map(|l| l.split_once("host logger at info: "))
        .and_then(|(_, n)| n.split_whitespace().next()?.parse::<usize>().ok())
        .expect("log line count");
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(logged <= lines.len(), "{context}");
    assert!(
        lines[logged..]
            .iter()
            .all(|l| l.contains(" openclaw_dingtalk::schedule: schedule standup: ")),
        "lines after the summary's count\n{context}"
    );
    assert!(!stderr.contains("=***"), "a count redacted\n{context}");
}
