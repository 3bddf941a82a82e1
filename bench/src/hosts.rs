//! Several hosts of one DingTalk app: the runs `hosts3-redis` (three `openclaw-skill run`
//! processes in Stream mode sharing the app's call budget, dedup, sessions and card journal through
//! a real Redis, `shared_state:`) and `hosts3-alone` (the same three without it, each spending the
//! app's budget as if it were alone).
//!
//! The emulator spreads the pushed messages over the hosts' Stream connections (round-robin) and
//! enforces DingTalk's app-wide limit on all of them together; the hosts cannot be told apart in
//! its call record (they share one access token), so a card's calls are attributed to the host
//! whose connection got the card's message (card → its group → the message pushed there → the
//! connection it went out on). Token and connection calls count only in the total. Replies per
//! host come from each host's `reply msg=…` log lines; "first text" is a message's push to the
//! first answer text on its card, so a host whose replies wait for the shared budget shows.
//!
//! Everything runs on the bench's thread except one reader thread per host (its stderr); the
//! emulator and the fake gateway run on the run's own tokio runtime.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use openclaw_dingtalk_emulator::dingtalk::{
    Call, CardState, DingTalkEmulator, EmulatorConfig, FrameKind, QpsScope,
};
use openclaw_dingtalk_emulator::event::{MessageSpec, Sender};
use openclaw_dingtalk_emulator::gateway::FakeGateway;
use openclaw_dingtalk_emulator::manifest::TestManifest;
use openclaw_dingtalk_emulator::redis::RedisServer;

use crate::host::{peak_rss_mib, plugin_cpu_seconds};
use crate::measure::{figures, percentile, Figures, Records, Timeline};
use crate::peers::Peers;

/// What a multi-host run does (built by `runs.rs` from its `Run`).
pub struct Plan<'a> {
    /// The run's name.
    pub name: &'a str,
    /// How many host processes serve the one app.
    pub hosts: usize,
    /// `shared_state:` through a `redis-server` the run starts (`false`: each host alone).
    pub shared_state: bool,
    /// Messages pushed at once, each into its own group.
    pub replies: usize,
    /// The message text (fake gateway script).
    pub script: &'a str,
    /// DingTalk's flow control (calls per second) and what one budget covers.
    pub dt_qps: Option<u32>,
    pub dt_scope: QpsScope,
    /// `dingtalk.app_qps` of every host (`None`: not written).
    pub app_qps: Option<u32>,
    /// `streaming.card_update_interval_ms` (`None`: the plugin's default).
    pub interval_ms: Option<u64>,
    /// `gateway.idle_timeout_ms`.
    pub idle_timeout_ms: u64,
}

/// How long a host may take to open its Stream connection.
const CONNECT_WITHIN: Duration = Duration::from_secs(30);
/// How often a starting host is checked for an early exit.
const START_CHECK: Duration = Duration::from_millis(200);
/// Bound of the wait for every card to end.
const ALL_ENDED_WITHIN: Duration = Duration::from_secs(600);
/// How long a host may take to exit after SIGTERM.
const EXIT_WITHIN: Duration = Duration::from_secs(60);
/// The line the plugin logs for every reply (`src/reply/answer.rs`).
const REPLY_LINE: &str = "reply msg=";
/// Log lines kept per host for an error message.
const TAIL_LINES: usize = 30;

/// What one host's stderr said so far.
#[derive(Default)]
struct HostLog {
    /// The `reply msg=…` lines.
    replies: Vec<String>,
    /// The newest other lines.
    tail: VecDeque<String>,
}

/// One `openclaw-skill --log-format json run MANIFEST --library PLUGIN` (Stream mode); a thread
/// reads its stderr. Killed on drop if still running.
struct StreamHost {
    child: Child,
    log: Arc<Mutex<HostLog>>,
    exit: Option<ExitStatus>,
}

impl StreamHost {
    fn start(host_bin: &Path, manifest: &Path, plugin: &Path) -> Result<StreamHost> {
        let mut child = Command::new(host_bin)
            .args(["--log-format", "json", "--log-level", "info", "run"])
            .arg(manifest)
            .arg("--library")
            .arg(plugin)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start {}", host_bin.display()))?;
        let stderr = child.stderr.take().context("host stderr")?;
        let log = Arc::new(Mutex::new(HostLog::default()));
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let msg = serde_json::from_str::<serde_json::Value>(&line)
                    .ok()
                    .and_then(|v| v["msg"].as_str().map(str::to_owned))
                    .unwrap_or(line);
                let mut log = sink.lock().unwrap_or_else(|p| p.into_inner());
                if msg.starts_with(REPLY_LINE) {
                    log.replies.push(msg);
                } else {
                    if log.tail.len() == TAIL_LINES {
                        log.tail.pop_front();
                    }
                    log.tail.push_back(msg);
                }
            }
        });
        Ok(StreamHost {
            child,
            log,
            exit: None,
        })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status once it exited (without waiting).
    fn exited(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().ok().flatten();
        }
        self.exit
    }

    /// The `reply msg=…` lines so far.
    fn replies(&self) -> Vec<String> {
        self.log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .replies
            .clone()
    }

    /// The newest other log lines, for an error message.
    fn tail(&self) -> String {
        let log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        log.tail.iter().cloned().collect::<Vec<_>>().join("\n")
    }

    fn sigterm(&self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
    }

    /// Waits (bounded) for the exit after [`StreamHost::sigterm`].
    fn wait_exit(&mut self, timeout: Duration) -> Result<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exited() {
                return Ok(status);
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "host did not exit within {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for StreamHost {
    fn drop(&mut self) {
        if self.exited().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One host's share of a run.
#[derive(Debug, Default)]
struct HostFigures {
    connection: u64,
    /// Messages first delivered on its connection.
    pushed: usize,
    /// `reply msg=` lines, and those with `outcome=finished`.
    replies: usize,
    finished: usize,
    /// Card calls of the cards of its messages.
    calls: Vec<Call>,
    /// Per message: its push to the first answer text on its card (ms).
    first_text_ms: Vec<f64>,
}

/// A card's content without the line that says how to stop a card without a stop button.
fn answer_part(content: &str) -> &str {
    content.split("\n\n*发送 /stop").next().unwrap_or_default()
}

/// Calls per second over one-second buckets (emulator clock), from the bucket of the first call to
/// that of the last, empty ones included: (median, max).
fn per_second(calls: &[Call]) -> (f64, usize) {
    let (Some(first), Some(last)) = (
        calls.iter().map(|c| c.at_ms / 1000).min(),
        calls.iter().map(|c| c.at_ms / 1000).max(),
    ) else {
        return (0.0, 0);
    };
    let mut buckets = vec![0usize; (last - first + 1) as usize];
    for c in calls {
        buckets[(c.at_ms / 1000 - first) as usize] += 1;
    }
    let values: Vec<f64> = buckets.iter().map(|n| *n as f64).collect();
    (
        percentile(&values, 50.0),
        buckets.iter().copied().max().unwrap_or(0),
    )
}

/// Runs a multi-host plan; prints the per-host table and returns the run's figures (over all
/// hosts). `dump` writes the records when the bench was asked to.
pub fn execute(
    plan: &Plan<'_>,
    host_bin: &Path,
    plugin: &Path,
    dump: impl FnOnce(&DingTalkEmulator, &FakeGateway, Timeline) -> Result<()>,
) -> Result<Figures> {
    let bench_start = Instant::now();
    let redis = if plan.shared_state {
        Some(RedisServer::start().context(
            "the run needs redis-server (Debian: apt-get install redis-server; .ci/run installs it)",
        )?)
    } else {
        None
    };
    let Peers {
        rt,
        dt,
        gw,
        timeline,
    } = Peers::start(
        EmulatorConfig {
            qps_limit: plan.dt_qps,
            qps_scope: plan.dt_scope,
            ..EmulatorConfig::default()
        },
        bench_start,
    )?;
    let dir = std::env::temp_dir().join(format!("ocdt-bench-{}-{}", plan.name, std::process::id()));

    // The hosts, one after another, each once the previous one is connected: connection i is
    // host i's.
    let mut hosts: Vec<StreamHost> = Vec::new();
    let mut connections: Vec<u64> = Vec::new();
    for i in 0..plan.hosts {
        let host_dir = dir.join(format!("host{}", i + 1));
        std::fs::create_dir_all(&host_dir)?;
        let mut manifest = TestManifest::for_peers(&dt, &gw)
            .stream_ingress()
            .with(|m| {
                m.name = format!("bench-host{}", i + 1).into();
                m.gateway.idle_timeout_ms = Some(plan.idle_timeout_ms);
                m.dingtalk.app_qps = plan.app_qps;
                m.streaming.card_update_interval_ms = plan.interval_ms;
                m.streaming.enabled = Some(true);
            });
        if let Some(redis) = &redis {
            manifest = manifest.shared_state(&redis.url(), plan.hosts as u32);
        }
        let mut host = StreamHost::start(host_bin, &manifest.write(&host_dir), plugin)?;
        let started = Instant::now();
        let connected = |e: &DingTalkEmulator| {
            let c = e.stream_connections();
            c.len() > i && c[i].is_open()
        };
        while !rt.block_on(dt.wait_until(connected, START_CHECK)) {
            if let Some(status) = host.exited() {
                anyhow::bail!(
                    "host {} exited at start ({status}):\n{}",
                    i + 1,
                    host.tail()
                );
            }
            anyhow::ensure!(
                started.elapsed() < CONNECT_WITHIN,
                "host {} did not connect within {CONNECT_WITHIN:?}:\n{}",
                i + 1,
                host.tail()
            );
        }
        connections.push(dt.stream_connections()[i].id);
        hosts.push(host);
    }

    // The messages, all at once, each in its own group from its own sender.
    let tag = plan.name.replace('-', "");
    let mut cids = Vec::new();
    let mut msg_cid: HashMap<String, String> = HashMap::new();
    for i in 0..plan.replies {
        let cid = format!("cidBench{tag}x{i}");
        let spec = MessageSpec {
            sender: Sender {
                staff_id: format!("0166{i:011}"),
                nick: format!("用户{i}"),
            },
            ..MessageSpec::group_text(&cid, plan.script)
        };
        msg_cid.insert(dt.push_bot_message(spec), cid.clone());
        cids.push(cid);
    }
    let spaces: Vec<String> = cids
        .iter()
        .map(|c| format!("dtv1.card//IM_GROUP.{c}"))
        .collect();
    let all_ended = rt.block_on(dt.wait_until(
        |e| {
            let cards = e.cards();
            spaces.iter().all(|space| {
                let mine: Vec<_> = cards.iter().filter(|c| c.open_space_id == *space).collect();
                !mine.is_empty()
                    && mine
                        .iter()
                        .all(|c| matches!(c.state, CardState::Finished | CardState::Failed))
            })
        },
        ALL_ENDED_WITHIN,
    ));
    if !all_ended {
        println!(
            "{:22} note: not every card ended within {ALL_ENDED_WITHIN:?}",
            plan.name
        );
    }
    let cpu: f64 = hosts.iter().map(|h| plugin_cpu_seconds(h.pid())).sum();
    let rss = hosts
        .iter()
        .map(|h| peak_rss_mib(h.pid()))
        .fold(0.0, f64::max);
    for host in &hosts {
        host.sigterm();
    }
    for (i, host) in hosts.iter_mut().enumerate() {
        let status = host.wait_exit(EXIT_WITHIN)?;
        if !status.success() {
            println!("{:22} note: host {} exited with {status}", plan.name, i + 1);
        }
    }
    drop(redis);
    let _ = std::fs::remove_dir_all(&dir);

    let (cards, calls, messages, requests) =
        (dt.cards(), dt.calls(), dt.sent_messages(), gw.requests());
    dump(&dt, &gw, timeline)?;

    // Attribution: message → the connection it first went out on → host; card → its group →
    // the message pushed there.
    let frames = dt.stream_frames();
    let mut host_of_cid: HashMap<&str, usize> = HashMap::new();
    let mut per_host: Vec<HostFigures> = connections
        .iter()
        .map(|c| HostFigures {
            connection: *c,
            ..HostFigures::default()
        })
        .collect();
    for f in frames
        .iter()
        .filter(|f| f.kind == FrameKind::Callback && !f.redelivery)
    {
        let (Some(msg), Some(h)) = (
            f.msg_id.as_deref(),
            connections.iter().position(|c| *c == f.connection),
        ) else {
            continue;
        };
        if let Some(cid) = msg_cid.get(msg) {
            host_of_cid.insert(cid.as_str(), h);
            per_host[h].pushed += 1;
        }
    }
    let pushed_at: HashMap<&str, u64> = frames
        .iter()
        .filter(|f| f.kind == FrameKind::Callback && !f.redelivery)
        .filter_map(|f| Some((msg_cid.get(f.msg_id.as_deref()?)?.as_str(), f.at_ms)))
        .collect();
    let mut host_of_card: HashMap<&str, usize> = HashMap::new();
    let mut first_text: HashMap<&str, u64> = HashMap::new();
    for card in &cards {
        let cid = card
            .open_space_id
            .strip_prefix("dtv1.card//IM_GROUP.")
            .unwrap_or_default();
        if let Some(h) = host_of_cid.get(cid) {
            host_of_card.insert(card.out_track_id.as_str(), *h);
        }
        if let Some(at) = card
            .updates
            .iter()
            .find(|u| u.key == "content" && !answer_part(&u.content).trim().is_empty())
            .map(|u| u.at_ms)
        {
            let first = first_text.entry(cid).or_insert(at);
            *first = (*first).min(at);
        }
    }
    for (cid, at) in &first_text {
        if let (Some(h), Some(pushed)) = (host_of_cid.get(cid), pushed_at.get(cid)) {
            per_host[*h]
                .first_text_ms
                .push(at.saturating_sub(*pushed) as f64);
        }
    }
    for call in &calls {
        if let Some(h) = call
            .out_track_id
            .as_deref()
            .and_then(|id| host_of_card.get(id))
        {
            per_host[*h].calls.push(call.clone());
        }
    }
    // Replies per host from the log, and messages answered by more than one host.
    let mut answered_by: BTreeMap<String, usize> = BTreeMap::new();
    for (h, host) in hosts.iter().enumerate() {
        for line in host.replies() {
            per_host[h].replies += 1;
            if line.contains("outcome=finished") {
                per_host[h].finished += 1;
            }
            if !line.contains("outcome=skipped") {
                if let Some(msg) = line[REPLY_LINE.len()..].split_whitespace().next() {
                    *answered_by.entry(msg.to_owned()).or_default() += 1;
                }
            }
        }
    }
    let twice = answered_by.values().filter(|n| **n > 1).count();

    let f = figures(
        &cids,
        &HashMap::new(),
        Records {
            cards: &cards,
            calls: &calls,
            messages: &messages,
            requests: &requests,
        },
        timeline,
        plan.interval_ms.map(Duration::from_millis),
        cpu,
        rss,
    );
    print_hosts(plan, redis_note(plan), &per_host, &calls, &f, twice);
    Ok(f)
}

fn redis_note(plan: &Plan<'_>) -> String {
    if plan.shared_state {
        format!(
            "shared_state through redis-server, expected_hosts {}",
            plan.hosts
        )
    } else {
        "no shared_state: each host alone".to_owned()
    }
}

/// The per-host table of a multi-host run, then the totals.
fn print_hosts(
    plan: &Plan<'_>,
    setup: String,
    per_host: &[HostFigures],
    calls: &[Call],
    f: &Figures,
    twice: usize,
) {
    let limit = match (plan.dt_qps, plan.dt_scope) {
        (Some(q), QpsScope::App) => format!("DingTalk {q} calls/s app-wide"),
        (Some(q), QpsScope::PerApi) => format!("DingTalk {q} calls/s per API"),
        (None, _) => "DingTalk unlimited".to_owned(),
    };
    println!(
        "{:22} {} hosts, {setup}, {limit}; card calls per host by the connection that got the card's message",
        plan.name, plan.hosts
    );
    println!(
        "{:22} {:>5} {:>5} {:>6} {:>7} {:>8} {:>6} {:>13} {:>4} {:>13}",
        "",
        "host",
        "conn",
        "pushed",
        "replies",
        "finished",
        "calls",
        "calls/s",
        "403",
        "first text s"
    );
    println!(
        "{:22} {:>5} {:>5} {:>6} {:>7} {:>8} {:>6} {:>13} {:>4} {:>13}",
        "", "", "", "", "(log)", "(log)", "", "median/max", "", "p50/max"
    );
    for (h, host) in per_host.iter().enumerate() {
        let (median, max) = per_second(&host.calls);
        println!(
            "{:22} {:>5} {:>5} {:>6} {:>7} {:>8} {:>6} {:>13} {:>4} {:>13}",
            "",
            h + 1,
            host.connection,
            host.pushed,
            host.replies,
            host.finished,
            host.calls.len(),
            format!("{median:.0}/{max}"),
            host.calls.iter().filter(|c| c.status == 403).count(),
            seconds(&host.first_text_ms),
        );
    }
    let (median, max) = per_second(calls);
    let all_first: Vec<f64> = per_host
        .iter()
        .flat_map(|h| h.first_text_ms.iter().copied())
        .collect();
    println!(
        "{:22} {:>5} {:>5} {:>6} {:>7} {:>8} {:>6} {:>13} {:>4} {:>13}",
        "",
        "all",
        "",
        per_host.iter().map(|h| h.pushed).sum::<usize>(),
        per_host.iter().map(|h| h.replies).sum::<usize>(),
        per_host.iter().map(|h| h.finished).sum::<usize>(),
        calls.len(),
        format!("{median:.0}/{max}"),
        calls.iter().filter(|c| c.status == 403).count(),
        seconds(&all_first),
    );
    println!(
        "{:22} cards finished {}/{}, duplicate cards {}, conversations answered twice {}, messages answered by two hosts {twice}",
        "", f.cards_finished, f.cards, f.duplicates, f.answered_twice
    );
}

/// `p50/max` of a sample in ms, shown in seconds, or `-`.
fn seconds(ms: &[f64]) -> String {
    if ms.is_empty() {
        return "-".to_owned();
    }
    let max = ms.iter().copied().fold(0.0, f64::max);
    format!("{:.1}/{:.1}", percentile(ms, 50.0) / 1000.0, max / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(at_ms: u64) -> Call {
        serde_json::from_value(serde_json::json!({
            "seq": 1, "at_ms": at_ms, "kind": "StreamingUpdate", "method": "PUT",
            "path": "/v1.0/card/streaming", "status": 200, "error_code": null,
            "request": null, "out_track_id": null, "app_key": null
        }))
        .expect("a call record")
    }

    #[test]
    fn calls_per_second_count_empty_seconds_between_the_first_and_the_last() {
        let calls: Vec<Call> = [100, 200, 900, 1500, 3999, 3000, 3001]
            .into_iter()
            .map(call)
            .collect();
        // Buckets 0..=3: 3, 1, 0, 3.
        assert_eq!(per_second(&calls), (1.0, 3));
        assert_eq!(per_second(&[]), (0.0, 0));
    }
}
