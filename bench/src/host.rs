//! The host under test: `openclaw-skill run --events stdin` as a child process loading the
//! real plugin. Events go in on stdin; chunk lines come back on stdout.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// What the host reported for one event (numbered from 1 in sending order).
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Card ids from `started` chunks.
    pub cards: Vec<String>,
    /// Concatenated deltas.
    pub text: String,
    /// Terminal kind (`finished`, `failed`, `replied`, `skipped`), once it arrived.
    pub terminal: Option<String>,
    /// Failure message.
    pub message: Option<String>,
}

#[derive(Default)]
struct Shared {
    outcomes: HashMap<u64, Outcome>,
    terminals: usize,
}

/// A running host process.
pub struct Host {
    child: Child,
    stdin: Option<ChildStdin>,
    sent: u64,
    shared: Arc<(Mutex<Shared>, Condvar)>,
}

impl Host {
    /// Starts `openclaw-skill run` on `manifest` with the plugin at `library`.
    pub fn start(host_bin: &Path, manifest: &Path, library: &Path) -> Result<Host> {
        let mut child = Command::new(host_bin)
            .arg("run")
            .arg(manifest)
            .arg("--library")
            .arg(library)
            .args(["--events", "stdin", "--log-level", "error"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("cannot start {}", host_bin.display()))?;
        let stdout = child.stdout.take().context("host stdout")?;
        let shared = Arc::new((Mutex::new(Shared::default()), Condvar::new()));
        let reader = shared.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
                    continue;
                };
                let event = v["event"].as_u64().unwrap_or(0);
                let (lock, cvar) = &*reader;
                let mut s = lock.lock().unwrap();
                let o = s.outcomes.entry(event).or_default();
                match v["kind"].as_str() {
                    Some("started") => o.cards.push(v["card_id"].as_str().unwrap_or("").to_owned()),
                    Some("delta") => o.text.push_str(v["text"].as_str().unwrap_or("")),
                    Some("reasoning") => {}
                    Some(kind) => {
                        o.terminal = Some(kind.to_owned());
                        o.message = v["message"].as_str().map(str::to_owned);
                        s.terminals += 1;
                        cvar.notify_all();
                    }
                    None => {
                        o.terminal = Some("error".into());
                        o.message = v["error"].as_str().map(str::to_owned);
                        s.terminals += 1;
                        cvar.notify_all();
                    }
                }
            }
            let (lock, cvar) = &*reader;
            drop(lock.lock().unwrap());
            cvar.notify_all();
        });
        Ok(Host {
            stdin: child.stdin.take(),
            child,
            sent: 0,
            shared,
        })
    }

    /// Sends one event; returns its number.
    pub fn send(&mut self, event_json: &str) -> Result<u64> {
        let stdin = self.stdin.as_mut().context("host stdin closed")?;
        writeln!(stdin, "{event_json}")?;
        stdin.flush()?;
        self.sent += 1;
        Ok(self.sent)
    }

    /// Waits until `n` terminal chunks arrived (or `timeout`); returns how many did.
    pub fn wait_terminals(&self, n: usize, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        let (lock, cvar) = &*self.shared;
        let mut s = lock.lock().unwrap();
        while s.terminals < n {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            s = cvar.wait_timeout(s, left).unwrap().0;
        }
        s.terminals
    }

    /// Waits until the first card of event `event` is known.
    pub fn wait_started(&self, event: u64, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        let (lock, cvar) = &*self.shared;
        let mut s = lock.lock().unwrap();
        loop {
            if let Some(card) = s.outcomes.get(&event).and_then(|o| o.cards.first()) {
                return Some(card.clone());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            s = cvar
                .wait_timeout(s, left.min(Duration::from_millis(50)))
                .unwrap()
                .0;
        }
    }

    /// Everything reported so far.
    pub fn outcomes(&self) -> HashMap<u64, Outcome> {
        self.shared.0.lock().unwrap().outcomes.clone()
    }

    /// CPU seconds spent on the plugin's own threads (see [`plugin_cpu_seconds`]).
    pub fn plugin_cpu_seconds(&self) -> f64 {
        plugin_cpu_seconds(self.child.id())
    }

    /// Peak resident set size of the host process (see [`peak_rss_mib`]).
    pub fn peak_rss_mib(&self) -> f64 {
        peak_rss_mib(self.child.id())
    }

    /// Closes stdin: the host finishes the replies in flight, shuts down and exits.
    pub fn finish(mut self, timeout: Duration) -> Result<()> {
        drop(self.stdin.take());
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                anyhow::ensure!(status.success(), "host exited with {status}");
                return Ok(());
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "host did not exit within {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILLs the host.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU seconds spent on the plugin's own threads of process `pid` (its runtime's threads are named
/// `openclaw-dingtalk`), from `/proc/<pid>/task/*/schedstat` (nanoseconds on CPU); 0 once it exited.
pub fn plugin_cpu_seconds(pid: u32) -> f64 {
    let dir = PathBuf::from(format!("/proc/{pid}/task"));
    let mut total_ns = 0u64;
    for task in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if !comm.starts_with("openclaw-dingta") {
            continue;
        }
        let schedstat = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
        total_ns += schedstat
            .split_whitespace()
            .next()
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
    }
    total_ns as f64 / 1e9
}

/// Peak resident set size of process `pid` (host + plugin), in MiB; 0 once it exited.
pub fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}
