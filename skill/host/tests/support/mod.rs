//! Process-level test harness: the DingTalk emulator and the fake gateway in this process (on
//! their own tokio runtime), `openclaw-skill run` as a child process with the plugin `.so` that
//! `cargo test --workspace` builds. Everything on 127.0.0.1; every wait is bounded and returns
//! as soon as its condition holds.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use openclaw_dingtalk_emulator::dingtalk::{
    Card, CardState, DingTalkEmulator, EmulatorConfig, StreamConfig,
};
use openclaw_dingtalk_emulator::gateway::{FakeGateway, FakeGatewayConfig};
pub use openclaw_dingtalk_emulator::manifest::TestManifest;
use serde_json::Value;

/// Upper bound of every wait (they return as soon as the condition holds).
pub const WAIT: Duration = Duration::from_secs(30);

/// The plugin library built by `cargo test --workspace` next to this test binary.
pub fn plugin_path() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let deps = exe.parent().expect("deps dir");
    let name = format!(
        "{}openclaw_dingtalk{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    let path = deps.join(&name);
    assert!(
        path.exists(),
        "{} is missing: these tests run the real plugin; build it with `cargo test --workspace` \
         (the root package's tests build {name} next to the test binaries)",
        path.display()
    );
    path
}

/// Emulator + fake gateway + a scratch directory.
pub struct Env {
    pub rt: tokio::runtime::Runtime,
    pub dt: DingTalkEmulator,
    pub gw: FakeGateway,
    pub dir: PathBuf,
}

/// Stream settings for tests: no server pings unless a test asks, fast redelivery off.
pub fn quiet_stream() -> StreamConfig {
    StreamConfig {
        ping_interval: None,
        ..StreamConfig::default()
    }
}

impl Env {
    /// Starts the peers with the given Stream behaviour.
    pub fn start(name: &str, stream: StreamConfig) -> Env {
        Env::start_with(name, stream, FakeGatewayConfig::default())
    }

    /// Starts the peers with the given Stream behaviour and fake gateway settings (e.g. its
    /// agents).
    pub fn start_with(name: &str, stream: StreamConfig, gateway: FakeGatewayConfig) -> Env {
        Env::start_config(
            name,
            EmulatorConfig {
                stream,
                ..EmulatorConfig::default()
            },
            gateway,
        )
    }

    /// Starts the peers with a whole emulator configuration (e.g. an app-wide call limit) and
    /// fake gateway settings.
    pub fn start_config(name: &str, dingtalk: EmulatorConfig, gateway: FakeGatewayConfig) -> Env {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let (dt, gw) = rt.block_on(async {
            (
                DingTalkEmulator::start(dingtalk).await.expect("emulator"),
                FakeGateway::start(gateway).await.expect("fake gateway"),
            )
        });
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "host-{name}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Env { rt, dt, gw, dir }
    }

    /// The test manifest pointing at the peers (100 ms card update interval); write it with
    /// [`Env::write`].
    pub fn manifest(&self) -> TestManifest {
        TestManifest::for_peers(&self.dt, &self.gw)
            .interval_ms(100)
            .with(|m| m.name = "ingress-test".into())
    }

    /// Writes the manifest into the scratch directory and returns its path.
    pub fn write(&self, manifest: TestManifest) -> PathBuf {
        manifest.write(&self.dir)
    }

    /// Starts `openclaw-skill run MANIFEST --library … --log-format json ARGS…`.
    pub fn host(&self, manifest: &Path, args: &[&str]) -> Host {
        self.host_with_env(manifest, args, &[])
    }

    /// [`Env::host`] with extra environment variables.
    pub fn host_with_env(&self, manifest: &Path, args: &[&str], env: &[(&str, &str)]) -> Host {
        let mut child = Command::new(env!("CARGO_BIN_EXE_openclaw-skill"))
            .args(["--log-format", "json", "run"])
            .arg(manifest)
            .arg("--library")
            .arg(plugin_path())
            .args(args)
            .envs(env.iter().copied())
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn openclaw-skill");
        let lines = Arc::new((Mutex::new(Lines::default()), Condvar::new()));
        let stderr = child.stderr.take().expect("stderr");
        let sink = lines.clone();
        std::thread::spawn(move || {
            let (store, cv) = &*sink;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                store
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .lines
                    .push(line);
                cv.notify_all();
            }
            store.lock().unwrap_or_else(|p| p.into_inner()).eof = true;
            cv.notify_all();
        });
        Host {
            child,
            lines,
            exit: None,
        }
    }

    /// Waits (change-notified) until `pred(emulator)` holds; panics with `what` after [`WAIT`].
    pub fn wait(&self, what: &str, pred: impl Fn(&DingTalkEmulator) -> bool) {
        let ok = self.rt.block_on(self.dt.wait_until(pred, WAIT));
        assert!(ok, "timed out waiting for {what}");
    }

    /// Waits until `n` Stream connections are open at once or have been opened in total.
    pub fn wait_connections(&self, total: usize) {
        self.wait(&format!("stream connection #{total}"), |e| {
            let c = e.stream_connections();
            c.len() >= total && c[total - 1].is_open()
        });
    }

    /// The card answering the gateway turn whose user text contains `marker` — found through
    /// the card's conversation: each test message uses its own conversation id.
    pub fn cards_in(&self, conversation: &str) -> Vec<Card> {
        self.dt
            .cards()
            .into_iter()
            .filter(|c| c.open_space_id.ends_with(conversation))
            .collect()
    }

    /// Waits until the conversation's card is finished, and returns it.
    pub fn wait_card_finished(&self, conversation: &str) -> Card {
        let conv = conversation.to_owned();
        self.wait(&format!("a finished card in {conversation}"), move |e| {
            e.cards()
                .iter()
                .any(|c| c.open_space_id.ends_with(&conv) && c.state == CardState::Finished)
        });
        self.cards_in(conversation)
            .into_iter()
            .find(|c| c.state == CardState::Finished)
            .expect("finished card")
    }

    /// POSTs `body` with `headers` to `url` on a fresh connection (the server closes a
    /// connection whose body it refused unread, and a pooled one could be reused before the
    /// client sees that close): (status, answer).
    pub fn post(&self, url: &str, headers: &[(String, String)], body: String) -> (u16, String) {
        let client = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(0)
            .build()
            .expect("client");
        self.rt.block_on(async {
            let mut req = client.post(url).body(body);
            for (k, v) in headers {
                req = req.header(k, v);
            }
            let resp = req.send().await.expect("POST");
            let status = resp.status().as_u16();
            (status, resp.text().await.unwrap_or_default())
        })
    }

    /// GET a URL, body as text.
    pub fn get_text(&self, url: &str) -> String {
        self.rt.block_on(async {
            reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("client")
                .get(url)
                .send()
                .await
                .expect("GET")
                .text()
                .await
                .expect("body")
        })
    }
}

/// `t1 t2 … tn`: what the fake gateway answers to `TOKENS:n`.
pub fn tokens(n: usize) -> String {
    (1..=n)
        .map(|i| format!("t{i}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// stderr as read so far.
#[derive(Default)]
struct Lines {
    lines: Vec<String>,
    eof: bool,
}

/// The `msg` of a JSON log line (a non-JSON line as it is).
fn message_of(line: &str) -> String {
    serde_json::from_str::<Value>(line)
        .ok()
        .and_then(|v| v.get("msg").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| line.to_owned())
}

/// A running `openclaw-skill` process and its stderr lines.
pub struct Host {
    child: Child,
    lines: Arc<(Mutex<Lines>, Condvar)>,
    exit: Option<ExitStatus>,
}

impl Host {
    /// The `msg` of every JSON log line so far (non-JSON lines as they are).
    pub fn messages(&self) -> Vec<String> {
        self.raw_lines().iter().map(|l| message_of(l)).collect()
    }

    /// The level (`INFO`, …) of the JSON log line whose `msg` is `msg`.
    pub fn level_of(&self, msg: &str) -> Option<String> {
        self.raw_lines().iter().find_map(|l| {
            let v: Value = serde_json::from_str(l).ok()?;
            (v.get("msg")?.as_str()? == msg).then(|| v.get("level")?.as_str().map(str::to_owned))?
        })
    }

    /// The raw stderr lines so far.
    pub fn raw_lines(&self) -> Vec<String> {
        let (store, _) = &*self.lines;
        store
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .lines
            .clone()
    }

    /// Waits until a log message satisfies `pred`; returns it.
    pub fn wait_log(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        let (store, cv) = &*self.lines;
        let mut guard = store.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let found = guard.lines.iter().find_map(|l| {
                let msg = message_of(l);
                pred(&msg).then_some(msg)
            });
            if let Some(m) = found {
                return m;
            }
            let now = Instant::now();
            assert!(
                now < deadline,
                "timed out waiting for a log line: {what}\n{}",
                guard.lines.join("\n")
            );
            guard = cv
                .wait_timeout(guard, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// The URL in the log line `"{prefix}http://…"`, e.g. where the metrics are served.
    pub fn logged_url(&self, prefix: &str) -> String {
        let line = self.wait_log(prefix, |m| m.starts_with(prefix));
        line[prefix.len()..]
            .split_whitespace()
            .next()
            .expect("url")
            .to_owned()
    }

    /// Sends SIGTERM.
    pub fn sigterm(&self) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill")
            .success();
        assert!(ok, "kill -TERM failed");
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILLs the process (`kill -9`: no shutdown, its cards stay as they were) and reaps it.
    pub fn kill(&mut self) -> ExitStatus {
        if let Some(status) = self.exit {
            return status;
        }
        let _ = self.child.kill();
        let status = self
            .child
            .wait()
            .expect("wait for the killed openclaw-skill");
        self.exit = Some(status);
        status
    }

    /// The exit status when the process has exited (without waiting).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().expect("try_wait");
        }
        self.exit
    }

    /// Waits (bounded) for the process to exit.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                self.exit = Some(status);
                // Let the reader thread drain what is left of stderr (bounded).
                let (store, cv) = &*self.lines;
                let guard = store.lock().unwrap_or_else(|p| p.into_inner());
                let _ = cv.wait_timeout_while(guard, WAIT, |l| !l.eof);
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "openclaw-skill did not exit:\n{}",
                self.raw_lines().join("\n")
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if self.exit.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "--- openclaw-skill stderr ---\n{}",
                self.raw_lines().join("\n")
            );
        }
    }
}
