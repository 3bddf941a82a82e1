#![cfg(feature = "demo")]
//! `openclaw-skill demo --plain` as a process, with the plugin `.so` that `cargo test --workspace`
//! builds: the scripted conversation plays through the real ingress and plugin against the
//! built-in emulator and fake gateway (all on 127.0.0.1), and the output shows every answer, the
//! card states and a summary without 403s.

mod support;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::plugin_path;

/// Upper bound for the whole demo (it takes about 6 s; the bound only stops a hung run).
const LIMIT: Duration = Duration::from_secs(90);

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
        let mut child = Command::new(env!("CARGO_BIN_EXE_openclaw-skill"))
            .args(args)
            .env_remove("RUST_LOG")
            .env_remove("OPENCLAW_API_KEY")
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

/// The lines of the summary table row for reply `#n`.
fn summary_row(stdout: &str, n: usize) -> &str {
    let summary = &stdout[stdout.find("\nSummary\n").expect("a summary")..];
    summary
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("#{n} ")))
        .unwrap_or_else(|| panic!("no summary row #{n} in\n{summary}"))
}

#[test]
fn demo_plays_the_script_through_the_real_plugin_and_summarises() {
    let library = plugin_path();
    let library = library.to_str().expect("UTF-8 path");
    let out = run_host(&["demo", "--plain", "--library", library]);
    let (stdout, stderr) = (&out.stdout, &out.stderr);
    let context = format!("--- stdout\n{stdout}\n--- stderr\n{stderr}");
    assert_eq!(out.code, Some(0), "{context}");

    // The four steps, in order, each with what DingTalk showed.
    let steps: Vec<usize> = (1..=4)
        .map(|n| {
            stdout
                .find(&format!("[{n}/4] you › "))
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

    // The summary: every reply ended as expected, no 403, the counts agree.
    for (n, outcome) in [
        (1, "finished"),
        (2, "finished"),
        (3, "replied"),
        (4, "finished"),
    ] {
        let row = summary_row(stdout, n);
        assert!(row.contains(outcome), "#{n}: {row}\n{context}");
    }
    assert!(summary_row(stdout, 3).contains("1: webhook 1"), "{context}");
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
    let demo = Running::start(&["demo", "--plain", "--library", library]);
    // The robot took the first message (its card exists); the reply streams for about 2 s.
    demo.wait_line("  card delivered to the group (processing) after ");
    demo.interrupt();
    let out = demo.finish();
    let context = format!("--- stdout\n{}\n--- stderr\n{}", out.stdout, out.stderr);
    assert_eq!(out.code, Some(130), "{context}");
    assert!(
        out.stdout.contains("\ninterrupted: stopping intake"),
        "{context}"
    );
    assert!(!out.stdout.contains("[2/4]"), "{context}");
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
    assert!(
        out.stderr
            .contains("3 of 4 replies did not finish (the cards above say why)"),
        "{context}"
    );
    assert_eq!(
        out.stdout.matches("AI Card: processing → failed").count(),
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
