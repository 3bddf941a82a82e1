//! The runs: workloads (one reply, 200 concurrent, a burst of 50), fault runs, the runs about
//! DingTalk's real limits (app-wide flow control, byte-sized card values, applied 504s, latency alone
//! and under load, calls per reply), which leave the plugin's manifest at its defaults, and three
//! hosts of one app with and without shared state (`hosts.rs`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use openclaw_dingtalk_emulator::dingtalk::{
    ApiKind, DingTalkEmulator, EmulatorConfig, Fault, FaultResponse, QpsScope,
};
use openclaw_dingtalk_emulator::event::{MessageSpec, Sender};
use openclaw_dingtalk_emulator::gateway::FakeGateway;
use openclaw_dingtalk_emulator::manifest::TestManifest;

use crate::host::Host;
use crate::hosts::{self, Plan};
use crate::measure::{figures, percentile, Figures, Records, Timeline};
use crate::peers::Peers;
use crate::Args;

/// A fault injected during a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FaultKind {
    None,
    /// A burst of `403 QpsLimit` on card updates.
    QpsBurst,
    /// `500 system.busy` on any card call.
    ServerErrors,
    /// `504` on any card call.
    GatewayTimeouts,
    /// All access tokens revoked mid-stream.
    TokenExpiry,
    /// The host is SIGKILLed mid-reply and started again.
    KillAndRestart,
}

/// One run.
struct Run {
    name: &'static str,
    what: &'static str,
    replies: usize,
    /// Arrivals spread evenly over this window (zero: all at once).
    spread: Duration,
    /// One reply after another: each message is sent once the previous reply ended.
    sequential: bool,
    /// The message text (fake gateway script).
    script: &'static str,
    /// DingTalk's flow control: calls per second (`None`: unlimited) and what one budget covers.
    dt_qps: Option<u32>,
    dt_scope: QpsScope,
    /// Every Nth card call is applied, then answered 504.
    applied_timeout_every: Option<u32>,
    /// `dingtalk.api_qps` (`None`: not written, the plugin's default).
    api_qps: Option<u32>,
    /// `streaming.card_update_interval_ms` (`None`: not written, the plugin's default).
    interval_ms: Option<u64>,
    idle_timeout_ms: u64,
    /// `dingtalk.card_flow_status` (`None`: not written, the plugin's default).
    flow_status: Option<bool>,
    fault: FaultKind,
    /// Also fails on orphan cards and incomplete answers (the runs about DingTalk's real limits).
    strict: bool,
    /// Messages one noisy sender posts into one more conversation, spread over 5 s, right
    /// after the measured ones (not measured themselves).
    noisy: usize,
    /// Host processes serving the one app (more than one: Stream mode, see `hosts.rs`).
    hosts: usize,
    /// With several hosts: `shared_state:` through a `redis-server` the run starts.
    shared_state: bool,
}

/// How long the noisy sender's messages are spread over.
const NOISE_SPREAD: Duration = Duration::from_secs(5);

fn runs(smoke: bool) -> Vec<Run> {
    let base = Run {
        name: "",
        what: "",
        replies: 1,
        spread: Duration::ZERO,
        sequential: false,
        script: "TOKENS:30 PACE:100",
        dt_qps: Some(20),
        dt_scope: QpsScope::PerApi,
        applied_timeout_every: None,
        api_qps: Some(20),
        interval_ms: Some(300),
        idle_timeout_ms: 120_000,
        flow_status: Some(true),
        fault: FaultKind::None,
        strict: false,
        noisy: 0,
        hosts: 1,
        shared_state: false,
    };
    // The runs about DingTalk's real limits leave the plugin at its defaults.
    let limits = Run {
        api_qps: None,
        interval_ms: None,
        flow_status: None,
        strict: true,
        ..base
    };
    if smoke {
        return vec![
            Run {
                name: "smoke-one",
                what: "one reply, 30 tokens over 3 s",
                ..base
            },
            Run {
                name: "smoke-20",
                what: "20 concurrent replies of 3 s, 5-QPS budget",
                replies: 20,
                dt_qps: Some(5),
                api_qps: Some(5),
                ..base
            },
            Run {
                name: "smoke-app5",
                what: "20 concurrent 3 s replies, DingTalk 5 calls/s app-wide, plugin defaults",
                replies: 20,
                dt_qps: Some(5),
                dt_scope: QpsScope::App,
                ..limits
            },
        ];
    }
    vec![
        Run {
            name: "one",
            what: "one reply, 30 tokens over 3 s",
            ..base
        },
        Run {
            name: "one-no-flow-status",
            what: "one reply, 30 tokens over 3 s, card_flow_status: false",
            flow_status: Some(false),
            ..base
        },
        Run {
            name: "concurrent-200",
            what: "200 concurrent replies of 30 s (300 tokens), 20-QPS budget",
            replies: 200,
            script: "TOKENS:300 PACE:100",
            ..base
        },
        Run {
            name: "burst-50",
            what: "50 new messages within 1 s, 3 s replies",
            replies: 50,
            spread: Duration::from_secs(1),
            ..base
        },
        Run {
            name: "fault-gateway-cut",
            what: "gateway cuts the stream after 2 tokens",
            replies: 10,
            script: "CUT",
            ..base
        },
        Run {
            name: "fault-gateway-silent",
            what: "gateway silent after the role chunk (idle deadline 2 s)",
            replies: 10,
            script: "SILENT",
            idle_timeout_ms: 2_000,
            ..base
        },
        Run {
            name: "fault-403-burst",
            what: "20 x 403 QpsLimit on card updates mid-stream",
            replies: 10,
            fault: FaultKind::QpsBurst,
            ..base
        },
        Run {
            name: "fault-5xx",
            what: "10 x 500 on card calls mid-stream",
            replies: 10,
            fault: FaultKind::ServerErrors,
            ..base
        },
        Run {
            name: "fault-504",
            what: "10 x 504 on card calls mid-stream",
            replies: 10,
            fault: FaultKind::GatewayTimeouts,
            ..base
        },
        Run {
            name: "fault-token-expiry",
            what: "access tokens revoked mid-stream",
            replies: 10,
            fault: FaultKind::TokenExpiry,
            ..base
        },
        Run {
            name: "fault-kill-restart",
            what: "host SIGKILLed mid-reply, then restarted",
            replies: 10,
            script: "TOKENS:100 PACE:100",
            fault: FaultKind::KillAndRestart,
            ..base
        },
        Run {
            name: "learn-app5",
            what: "20 concurrent 15 s replies, DingTalk 5 calls/s app-wide, plugin defaults",
            replies: 20,
            script: "TOKENS:150 PACE:100",
            dt_qps: Some(5),
            dt_scope: QpsScope::App,
            ..limits
        },
        Run {
            name: "zh-7k",
            what: "one all-Chinese answer of 7000 UTF-8 bytes (fast pacing)",
            script: "ZH:7000 PACE:5",
            ..limits
        },
        Run {
            name: "mixed-7k",
            what: "one Chinese/English/table/code answer of 7000 UTF-8 bytes (fast pacing)",
            script: "MIXED:7000 PACE:5",
            ..limits
        },
        Run {
            name: "applied-504",
            what: "20 concurrent 5 s replies, every 5th card call applied then answered 504",
            replies: 20,
            script: "TOKENS:50 PACE:100",
            applied_timeout_every: Some(5),
            ..limits
        },
        Run {
            name: "noisy-baseline",
            what: "10 conversations with 3 s replies, nobody else",
            replies: 10,
            ..limits
        },
        Run {
            name: "noisy-sender",
            what: "the same 10, while one sender posts 50 messages in 5 s",
            replies: 10,
            noisy: 50,
            ..limits
        },
        Run {
            name: "alone",
            what: "10 single 3 s replies, one after another",
            replies: 10,
            sequential: true,
            ..limits
        },
        Run {
            name: "c20-api20",
            what: "20 concurrent 15 s replies, DingTalk 20 calls/s per API",
            replies: 20,
            script: "TOKENS:150 PACE:100",
            ..limits
        },
        Run {
            name: "c20-app20",
            what: "20 concurrent 15 s replies, DingTalk 20 calls/s app-wide",
            replies: 20,
            script: "TOKENS:150 PACE:100",
            dt_scope: QpsScope::App,
            ..limits
        },
        Run {
            name: "hosts3-redis",
            what: "3 hosts of one app sharing Redis, 60 concurrent 15 s replies, DingTalk 20 calls/s app-wide",
            replies: 60,
            script: "TOKENS:150 PACE:100",
            dt_scope: QpsScope::App,
            hosts: 3,
            shared_state: true,
            ..limits
        },
        Run {
            name: "hosts3-alone",
            what: "the same 3 hosts without shared_state, each spending the app's 20 calls/s alone",
            replies: 60,
            script: "TOKENS:150 PACE:100",
            dt_scope: QpsScope::App,
            hosts: 3,
            strict: false,
            ..limits
        },
        Run {
            name: "one-15s-1000/flow",
            what: "one 15 s reply, card_update_interval_ms 1000, card_flow_status true",
            script: "TOKENS:150 PACE:100",
            interval_ms: Some(1000),
            flow_status: Some(true),
            ..limits
        },
        Run {
            name: "one-15s-1000/no-flow",
            what: "one 15 s reply, card_update_interval_ms 1000, card_flow_status false",
            script: "TOKENS:150 PACE:100",
            interval_ms: Some(1000),
            flow_status: Some(false),
            ..limits
        },
    ]
}

/// `--run NAME` selects a run by name, or every run of a group (`one-15s-1000` for `one-15s-1000/…`).
fn selected(run: &Run, names: &[String]) -> bool {
    names.is_empty()
        || names.iter().any(|n| {
            run.name == n
                || run
                    .name
                    .strip_prefix(n.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
        })
}

fn sibling(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    exe.parent()
        .map(|d| d.join(name))
        .unwrap_or_else(|| PathBuf::from(name))
}

pub fn main(args: Args) -> Result<()> {
    let host_bin = args
        .host
        .clone()
        .unwrap_or_else(|| sibling("openclaw-skill"));
    let plugin = args
        .plugin
        .clone()
        .unwrap_or_else(|| sibling("libopenclaw_dingtalk.so"));
    anyhow::ensure!(
        host_bin.exists(),
        "{} not found (build -p openclaw-skill or pass --host)",
        host_bin.display()
    );
    anyhow::ensure!(
        plugin.exists(),
        "{} not found (build -p openclaw-dingtalk or pass --plugin)",
        plugin.display()
    );
    let all = runs(args.smoke);
    if args.list {
        for r in &all {
            println!("{:22} {}", r.name, r.what);
        }
        return Ok(());
    }
    for name in &args.runs {
        anyhow::ensure!(
            all.iter().any(|r| selected(r, std::slice::from_ref(name))),
            "no run named {name} (see --list)"
        );
    }
    println!("host {}  plugin {}", host_bin.display(), plugin.display());
    header();
    let mut failures = 0;
    let mut done = Vec::new();
    for run in all.iter().filter(|r| selected(r, &args.runs)) {
        match execute(run, &host_bin, &plugin, args.dump.as_deref()) {
            Ok(f) => {
                row(run, &f);
                let strict_failure =
                    run.strict && (f.orphans > 0 || f.complete < f.replies || f.answered_twice > 0);
                if f.stuck > 0 || f.duplicates > 0 || strict_failure {
                    failures += 1;
                }
                done.push((run, f));
            }
            Err(e) => {
                failures += 1;
                println!("{:22} ERROR {e:#}", run.name);
            }
        }
    }
    if !done.is_empty() {
        println!();
        limits_header();
        for (run, f) in &done {
            limits_row(run, f);
        }
    }
    anyhow::ensure!(
        failures == 0,
        "{failures} run(s) had stuck cards, duplicates, orphans, incomplete answers or errors"
    );
    Ok(())
}

fn header() {
    println!(
        "{:22} {:>5} {:>5} {:>5} {:>5} {:>8} {:>4} {:>4} {:>11} {:>15} {:>15} {:>10} {:>7}",
        "run",
        "repl",
        "fin",
        "fail",
        "stuck",
        "complete",
        "dup",
        "403",
        "calls/reply",
        "first-vis ms",
        "stale ms",
        "cpu ms/1k",
        "rss MiB"
    );
    println!(
        "{:22} {:>5} {:>5} {:>5} {:>5} {:>8} {:>4} {:>4} {:>11} {:>15} {:>15} {:>10} {:>7}",
        "", "", "", "", "", "", "", "", "mean/max", "p50/p99", "p50/p99", "tokens", "peak"
    );
}

/// `p50/p99` of a sample in ms, or `-`.
fn pair(v: &[f64]) -> String {
    if v.is_empty() {
        "-".to_owned()
    } else {
        format!(
            "{:.0}/{:.0}",
            percentile(v, 50.0).round() + 0.0,
            percentile(v, 99.0).round() + 0.0
        )
    }
}

fn row(run: &Run, f: &Figures) {
    println!(
        "{:22} {:>5} {:>5} {:>5} {:>5} {:>8} {:>4} {:>4} {:>11} {:>15} {:>15} {:>10} {:>7.1}",
        run.name,
        f.replies,
        f.finished,
        f.failed,
        f.stuck,
        format!("{}/{}", f.complete, f.replies),
        f.duplicates,
        f.qps_403,
        format!("{:.1}/{}", f.calls_mean, f.calls_max),
        pair(&f.first_visible),
        pair(&f.staleness),
        if f.cpu_ms_per_1k_tokens.is_nan() {
            "-".to_owned()
        } else {
            format!("{:.2}", f.cpu_ms_per_1k_tokens)
        },
        f.peak_rss_mib,
    );
    if f.over_call_goal > 0 {
        println!(
            "{:22} note: {} replies used more than 2 + ceil(duration / interval) calls",
            "", f.over_call_goal
        );
    }
}

/// The second table: cards, fallbacks, orphans, completeness, 403 share and the card latencies.
fn limits_header() {
    println!(
        "{:22} {:>9} {:>4} {:>6} {:>5} {:>7} {:>5} {:>6} {:>14} {:>13} {:>13} {:>13}",
        "run",
        "cards",
        "msgs",
        "orphan",
        "multi",
        "missing",
        "403",
        "403 %",
        "card calls",
        "text-after-tok",
        "text-aft-card",
        "final-aft-last"
    );
    println!(
        "{:22} {:>9} {:>4} {:>6} {:>5} {:>7} {:>5} {:>6} {:>14} {:>13} {:>13} {:>13}",
        "",
        "fin/all",
        "",
        "",
        "",
        "chars",
        "",
        "of all",
        "create/str/inst",
        "ms p50/p99",
        "ms p50/p99",
        "ms p50/p99"
    );
}

fn limits_row(run: &Run, f: &Figures) {
    println!(
        "{:22} {:>9} {:>4} {:>6} {:>5} {:>7} {:>5} {:>6} {:>14} {:>13} {:>13} {:>13}",
        run.name,
        format!("{}/{}", f.cards_finished, f.cards),
        f.messages,
        f.orphans,
        f.answered_twice,
        f.missing_chars,
        f.qps_403,
        format!(
            "{:.1}",
            100.0 * f.qps_403 as f64 / f.all_calls.max(1) as f64
        ),
        format!("{}/{}/{}", f.create_calls, f.stream_calls, f.instance_calls),
        pair(&f.text_after_token),
        pair(&f.text_after_card),
        pair(&f.final_after_last),
    );
}

/// The plugin's manifest for a run: the peers, and only the keys the run sets (the rest at the
/// plugin's defaults); `state_dir` next to the manifest.
fn manifest(dt: &DingTalkEmulator, gw: &FakeGateway, run: &Run) -> String {
    TestManifest::for_peers(dt, gw)
        .with(|m| {
            m.name = "bench-bot".into();
            m.gateway.idle_timeout_ms = Some(run.idle_timeout_ms);
            m.dingtalk.api_qps = run.api_qps;
            m.dingtalk.card_flow_status = run.flow_status;
            m.streaming.card_update_interval_ms = run.interval_ms;
            m.streaming.enabled = Some(true);
        })
        .to_yaml()
}

fn execute(run: &Run, host_bin: &Path, plugin: &Path, dump_dir: Option<&Path>) -> Result<Figures> {
    if run.hosts > 1 {
        let plan = Plan {
            name: run.name,
            hosts: run.hosts,
            shared_state: run.shared_state,
            replies: run.replies,
            script: run.script,
            dt_qps: run.dt_qps,
            dt_scope: run.dt_scope,
            // Every host is told the app's limit: alone, each spends all of it.
            app_qps: run.dt_qps,
            interval_ms: run.interval_ms,
            idle_timeout_ms: run.idle_timeout_ms,
        };
        return hosts::execute(&plan, host_bin, plugin, |dt, gw, timeline| match dump_dir {
            Some(d) => dump(d, run, dt, gw, timeline),
            None => Ok(()),
        });
    }
    let bench_start = Instant::now();
    let Peers {
        rt,
        dt,
        gw,
        timeline,
    } = Peers::start(
        EmulatorConfig {
            qps_limit: run.dt_qps,
            qps_scope: run.dt_scope,
            applied_timeout_every: run.applied_timeout_every,
            ..EmulatorConfig::default()
        },
        bench_start,
    )?;
    let dir = std::env::temp_dir().join(format!("ocdt-bench-{}-{}", run.name, std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let manifest_path = dir.join("openclaw-skill.yaml");
    std::fs::write(&manifest_path, manifest(&dt, &gw, run))?;

    let mut host = Host::start(host_bin, &manifest_path, plugin)?;
    let cids: Vec<String> = (0..run.replies)
        .map(|i| format!("cidBench{}x{i}", run.name.replace('-', "")))
        .collect();
    let step = if run.replies > 1 {
        run.spread / (run.replies as u32 - 1).max(1)
    } else {
        Duration::ZERO
    };
    let started = Instant::now();
    for (i, cid) in cids.iter().enumerate() {
        let due = started + step * i as u32;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        // Each conversation has its own sender, as in real groups.
        let spec = MessageSpec {
            sender: Sender {
                staff_id: format!("0166{i:011}"),
                nick: format!("用户{i}"),
            },
            ..MessageSpec::group_text(cid, run.script)
        };
        host.send(&dt.bot_message(spec).to_string())?;
        if run.sequential {
            let ended = host.wait_terminals(i + 1, Duration::from_secs(120));
            anyhow::ensure!(ended == i + 1, "reply {} did not end", i + 1);
        }
    }
    let noise_started = Instant::now();
    for j in 0..run.noisy {
        let due = noise_started + NOISE_SPREAD.mul_f64(j as f64 / run.noisy as f64);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let spec = MessageSpec {
            sender: Sender {
                staff_id: "016600000noisy".into(),
                nick: "刷屏用户".into(),
            },
            ..MessageSpec::group_text("cidBenchNoisy", &format!("第{j}条 {}", run.script))
        };
        host.send(&dt.bot_message(spec).to_string())?;
    }
    let fault_at = host.wait_started(cids.len() as u64, Duration::from_secs(60));
    let _ = fault_at;
    match run.fault {
        FaultKind::None => {}
        FaultKind::QpsBurst => dt.inject(Fault {
            api: Some(ApiKind::StreamingUpdate),
            response: FaultResponse::QpsLimit,
            count: 20,
        }),
        FaultKind::ServerErrors => dt.inject(Fault {
            api: None,
            response: FaultResponse::ServerError,
            count: 10,
        }),
        FaultKind::GatewayTimeouts => dt.inject(Fault {
            api: None,
            response: FaultResponse::GatewayTimeout,
            count: 10,
        }),
        FaultKind::TokenExpiry => dt.revoke_tokens(),
        FaultKind::KillAndRestart => {
            // Let every card show some text, then kill -9 and start a new host on the same state.
            let n = cids.len();
            rt.block_on(dt.wait_for(
                move |calls| {
                    calls
                        .iter()
                        .filter(|c| c.kind == ApiKind::StreamingUpdate && c.status == 200)
                        .count()
                        >= 2 * n
                },
                Duration::from_secs(60),
            ));
            let cpu = host.plugin_cpu_seconds();
            let rss = host.peak_rss_mib();
            host.kill();
            let restarted = Host::start(host_bin, &manifest_path, plugin)?;
            restarted
                .finish(Duration::from_secs(60))
                .context("restarted host")?;
            let (cards, calls, messages, requests) =
                (dt.cards(), dt.calls(), dt.sent_messages(), gw.requests());
            if let Some(d) = dump_dir {
                dump(d, run, &dt, &gw, timeline)?;
            }
            let f = figures(
                &cids,
                &Default::default(),
                Records {
                    cards: &cards,
                    calls: &calls,
                    messages: &messages,
                    requests: &requests,
                },
                timeline,
                run.interval_ms.map(Duration::from_millis),
                cpu,
                rss,
            );
            return Ok(kill_figures(f));
        }
    }
    let done = host
        .wait_terminals(cids.len() + run.noisy, Duration::from_secs(600))
        .saturating_sub(run.noisy);
    anyhow::ensure!(
        done == cids.len(),
        "only {done} of {} replies ended",
        cids.len()
    );
    let cpu = host.plugin_cpu_seconds();
    let rss = host.peak_rss_mib();
    let outcomes = host.outcomes();
    host.finish(Duration::from_secs(60))?;
    let _ = std::fs::remove_dir_all(&dir);
    let (cards, calls, messages, requests) =
        (dt.cards(), dt.calls(), dt.sent_messages(), gw.requests());
    if let Some(d) = dump_dir {
        dump(d, run, &dt, &gw, timeline)?;
    }
    Ok(figures(
        &cids,
        &outcomes,
        Records {
            cards: &cards,
            calls: &calls,
            messages: &messages,
            requests: &requests,
        },
        timeline,
        run.interval_ms.map(Duration::from_millis),
        cpu,
        rss,
    ))
}

/// Writes a run's records to `dir/<run name>/*.json` (`/` in a name becomes `_`).
fn dump(
    dir: &Path,
    run: &Run,
    dt: &DingTalkEmulator,
    gw: &FakeGateway,
    timeline: Timeline,
) -> Result<()> {
    let dir = dir.join(run.name.replace('/', "_"));
    std::fs::create_dir_all(&dir)?;
    let write = |name: &str, value: serde_json::Value| {
        std::fs::write(dir.join(name), serde_json::to_string_pretty(&value)?)
            .with_context(|| format!("cannot write {}", dir.join(name).display()))
    };
    write("calls.json", serde_json::to_value(dt.calls())?)?;
    write("cards.json", serde_json::to_value(dt.cards())?)?;
    write("messages.json", serde_json::to_value(dt.sent_messages())?)?;
    write("requests.json", serde_json::to_value(gw.requests())?)?;
    write(
        "applied_timeouts.json",
        serde_json::to_value(dt.applied_timeouts())?,
    )?;
    write(
        "timeline.json",
        serde_json::json!({
            "dingtalk_origin_ms": timeline.dingtalk_origin_ms,
            "gateway_origin_ms": timeline.gateway_origin_ms,
        }),
    )?;
    Ok(())
}

/// In the kill run the gateway kept emitting after the host died: "complete" means the card
/// kept every character it had shown, which `figures` cannot see; report cards by state only.
fn kill_figures(mut f: Figures) -> Figures {
    f.complete = f.finished + f.failed;
    f.staleness.clear();
    f
}
