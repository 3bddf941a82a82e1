//! Prometheus metrics (text exposition format 0.0.4), served on `GET /metrics` when
//! `ingress.metrics_listen` (or `--metrics-listen`) is set.
//!
//! The host counts what it sees (events by source and result, HTTP callback refusals, Stream
//! connections, reconnects and frames, and per-reply timings from the chunk streams); the skill's
//! own counters (replies by outcome, DingTalk calls by kind, 403 QpsLimit answers) are read from
//! `Skill::info` at scrape time.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::{extract::State, http::header, response::IntoResponse, routing::get, Router};
use openclaw_skill_abi::Skill;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Histogram bucket bounds in seconds (reply timings: sub-second to minutes).
const BUCKETS: [f64; 12] = [
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

/// A histogram with [`BUCKETS`].
#[derive(Debug, Clone, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, secs: f64) {
        for (bound, n) in BUCKETS.iter().zip(self.counts.iter_mut()) {
            if secs <= *bound {
                *n += 1;
            }
        }
        self.count += 1;
        self.sum += secs;
    }
}

/// Counters and histograms keyed by their rendered label set (`a="x",b="y"`).
#[derive(Debug, Default)]
struct Families {
    counters: BTreeMap<(&'static str, String), u64>,
    histograms: BTreeMap<(&'static str, String), Histogram>,
}

/// Description of one metric family.
struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
}

const FAMILIES: &[Family] = &[
    Family { name: "openclaw_ingress_events_total", kind: "counter", help: "DingTalk events received, by source (stream|http) and result (accepted|invalid|shutting_down|error)." },
    Family { name: "openclaw_http_callback_rejected_total", kind: "counter", help: "HTTP callbacks refused, by status and reason (401 missing_signature; 403 bad_signature, bad_timestamp, stale_timestamp, replay; 408 body_timeout; 413 body_too_large; 400 not_utf8, body_unreadable, invalid_event; 503 shutting_down; 500 failed)." },
    Family { name: "openclaw_stream_connects_total", kind: "counter", help: "Stream connection attempts (connections/open + WebSocket handshake), by result (ok|auth_failed|error)." },
    Family { name: "openclaw_stream_reconnects_total", kind: "counter", help: "Stream reconnects, by reason (disconnect = server disconnect frame, closed, error, silence)." },
    Family { name: "openclaw_stream_frames_total", kind: "counter", help: "Stream frames received, by type (callback|ping|disconnect|event|system|unreadable)." },
    Family { name: "openclaw_reply_first_card_seconds", kind: "histogram", help: "Time from event receipt to the card being created (Started chunk), per reply with a card." },
    Family { name: "openclaw_reply_seconds", kind: "histogram", help: "Time from event receipt to the reply's terminal chunk, by outcome." },
    Family { name: "openclaw_reply_chunk_gap_max_seconds", kind: "histogram", help: "Longest pause between two consecutive chunks of one reply, as the host saw them (an upper bound of how long the answer stood still; not card staleness, which the plugin does not expose)." },
];

/// The host's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    families: Mutex<Families>,
    stream_connected: AtomicI64,
}

fn labels(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let v = v
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n");
        let _ = write!(out, "{k}=\"{v}\"");
    }
    out
}

impl Metrics {
    /// A fresh, shareable set.
    pub fn new() -> Arc<Metrics> {
        Arc::new(Metrics::default())
    }

    fn lock(&self) -> MutexGuard<'_, Families> {
        self.families.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds one to a counter.
    pub fn inc(&self, name: &'static str, pairs: &[(&str, &str)]) {
        *self
            .lock()
            .counters
            .entry((name, labels(pairs)))
            .or_default() += 1;
    }

    /// Records one observation of a histogram.
    pub fn observe(&self, name: &'static str, pairs: &[(&str, &str)], value: Duration) {
        self.lock()
            .histograms
            .entry((name, labels(pairs)))
            .or_default()
            .observe(value.as_secs_f64());
    }

    /// Sets whether a Stream connection is up.
    pub fn set_stream_connected(&self, up: bool) {
        self.stream_connected.store(i64::from(up), Relaxed);
    }

    /// A counter's current value.
    #[cfg(test)]
    pub fn counter(&self, name: &'static str, pairs: &[(&str, &str)]) -> u64 {
        self.lock()
            .counters
            .get(&(name, labels(pairs)))
            .copied()
            .unwrap_or(0)
    }

    /// The exposition text: the host's families, then the skill's counters from `info`.
    pub fn render(&self, skill_info: Option<&Value>) -> String {
        let mut out = String::new();
        let families = self.lock();
        for family in FAMILIES {
            let _ = writeln!(out, "# HELP {} {}", family.name, family.help);
            let _ = writeln!(out, "# TYPE {} {}", family.name, family.kind);
            for ((name, l), v) in families
                .counters
                .iter()
                .filter(|((n, _), _)| *n == family.name)
            {
                let _ = writeln!(out, "{name}{} {v}", braces(l));
            }
            for ((name, l), h) in families
                .histograms
                .iter()
                .filter(|((n, _), _)| *n == family.name)
            {
                render_histogram(&mut out, name, l, h);
            }
        }
        drop(families);
        gauge(
            &mut out,
            "openclaw_stream_connected",
            "1 while a Stream WebSocket is open and serving.",
            self.stream_connected.load(Relaxed),
        );
        if let Some(info) = skill_info {
            render_skill(&mut out, info);
        }
        out
    }
}

fn braces(l: &str) -> String {
    if l.is_empty() {
        String::new()
    } else {
        format!("{{{l}}}")
    }
}

fn render_histogram(out: &mut String, name: &str, l: &str, h: &Histogram) {
    let sep = if l.is_empty() { "" } else { "," };
    for (bound, n) in BUCKETS.iter().zip(h.counts.iter()) {
        let _ = writeln!(out, "{name}_bucket{{{l}{sep}le=\"{bound}\"}} {n}");
    }
    let _ = writeln!(out, "{name}_bucket{{{l}{sep}le=\"+Inf\"}} {}", h.count);
    let _ = writeln!(out, "{name}_sum{} {}", braces(l), h.sum);
    let _ = writeln!(out, "{name}_count{} {}", braces(l), h.count);
}

fn gauge(out: &mut String, name: &str, help: &str, value: i64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
    );
}

/// The skill's counters (`Skill::info`): replies by outcome, DingTalk calls by kind, 403s.
fn render_skill(out: &mut String, info: &Value) {
    let num = |v: Option<&Value>| v.and_then(Value::as_u64).unwrap_or(0);
    let replies = info.get("replies");
    let r = |k: &str| num(replies.and_then(|r| r.get(k)));
    let _ = writeln!(out, "# HELP openclaw_skill_events_total Events the skill accepted.\n# TYPE openclaw_skill_events_total counter\nopenclaw_skill_events_total {}", r("events"));
    let _ = writeln!(out, "# HELP openclaw_replies_total Replies by outcome: finished = every card finalized with the whole answer, degraded = the whole answer, partly as markdown messages, failed = the gateway failed (card shows the text so far), stopped, interrupted = shut down first, incomplete = part of the answer not sent, undelivered = nothing reached the user, stuck = a card not finalized (finalized at the next start), replied = plain message (command, refusal), skipped = duplicate delivery.\n# TYPE openclaw_replies_total counter");
    for outcome in [
        "finished",
        "degraded",
        "failed",
        "stopped",
        "interrupted",
        "incomplete",
        "undelivered",
        "stuck",
        "replied",
        "skipped",
    ] {
        let _ = writeln!(
            out,
            "openclaw_replies_total{{outcome=\"{outcome}\"}} {}",
            r(outcome)
        );
    }
    let _ = writeln!(out, "# HELP openclaw_recovered_cards_total Cards left in flight by a crash and finalized at start-up.\n# TYPE openclaw_recovered_cards_total counter\nopenclaw_recovered_cards_total {}", r("recovered_cards"));
    let _ = writeln!(out, "# HELP openclaw_replies_in_flight Replies running now.\n# TYPE openclaw_replies_in_flight gauge\nopenclaw_replies_in_flight {}", r("in_flight"));
    let calls = info.get("dingtalk_calls");
    let _ = writeln!(out, "# HELP openclaw_dingtalk_calls_total DingTalk API calls sent by the skill, by kind.\n# TYPE openclaw_dingtalk_calls_total counter");
    if let Some(by_kind) = calls
        .and_then(|c| c.get("by_kind"))
        .and_then(Value::as_object)
    {
        for (kind, n) in by_kind {
            let _ = writeln!(
                out,
                "openclaw_dingtalk_calls_total{{{}}} {}",
                labels(&[("kind", kind)]),
                num(Some(n))
            );
        }
    }
    let _ = writeln!(out, "# HELP openclaw_dingtalk_qps_limited_total DingTalk answers HTTP 403 Forbidden.AccessDenied.QpsLimit*.\n# TYPE openclaw_dingtalk_qps_limited_total counter\nopenclaw_dingtalk_qps_limited_total {}", num(calls.and_then(|c| c.get("qps_limited"))));
    let _ = writeln!(out, "# HELP openclaw_dingtalk_call_failures_total DingTalk calls that failed (any error status or transport error).\n# TYPE openclaw_dingtalk_call_failures_total counter\nopenclaw_dingtalk_call_failures_total {}", num(calls.and_then(|c| c.get("failed"))));
    render_budget(out, info.get("dingtalk_budget"));
    render_staleness(out, info.get("card_staleness"));
    let accepting = info
        .get("accepting")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    gauge(
        out,
        "openclaw_skill_accepting",
        "1 while the skill accepts events (0 once shutdown began).",
        i64::from(accepting),
    );
}

/// The learned DingTalk budget (`info.dingtalk_budget`): the rate in use per API and
/// app-wide, 403s per budget, calls waiting, and the month's call count against the quota.
fn render_budget(out: &mut String, budget: Option<&Value>) {
    let Some(budget) = budget else {
        return;
    };
    let _ = writeln!(out, "# HELP openclaw_dingtalk_budget_calls_per_second The call rate the skill allows itself, per DingTalk API and app-wide (learned from 403 QpsLimit answers; starts at dingtalk.api_qps).\n# TYPE openclaw_dingtalk_budget_calls_per_second gauge");
    let _ = writeln!(out, "# HELP openclaw_dingtalk_budget_learned 1 when a 403 QpsLimit has lowered this budget below its ceiling.\n# TYPE openclaw_dingtalk_budget_learned gauge");
    let mut lanes: Vec<(String, &Value)> = budget
        .get("apis")
        .and_then(Value::as_object)
        .map(|apis| apis.iter().map(|(k, v)| (k.clone(), v)).collect())
        .unwrap_or_default();
    if let Some(app) = budget.get("app") {
        lanes.push(("app".into(), app));
    }
    for (api, lane) in &lanes {
        if let Some(rate) = lane.get("calls_per_second").and_then(Value::as_f64) {
            let _ = writeln!(
                out,
                "openclaw_dingtalk_budget_calls_per_second{{{}}} {rate}",
                labels(&[("api", api)])
            );
        }
        let learned = lane.get("learned").and_then(Value::as_bool) == Some(true);
        let _ = writeln!(
            out,
            "openclaw_dingtalk_budget_learned{{{}}} {}",
            labels(&[("api", api)]),
            u8::from(learned)
        );
    }
    let waiting = budget.get("waiting").and_then(Value::as_i64).unwrap_or(0);
    gauge(
        out,
        "openclaw_dingtalk_budget_waiting",
        "DingTalk calls waiting for a slot in the budget.",
        waiting,
    );
    let month = budget.get("month");
    let num = |k: &str| month.and_then(|m| m.get(k)).and_then(Value::as_i64);
    gauge(
        out,
        "openclaw_dingtalk_month_calls",
        "DingTalk calls this calendar month (China time), as counted by the skill.",
        num("calls").unwrap_or(0),
    );
    if let Some(quota) = num("quota") {
        gauge(
            out,
            "openclaw_dingtalk_month_quota",
            "dingtalk.monthly_call_quota.",
            quota,
        );
    }
    let exhausted = month
        .and_then(|m| m.get("exhausted"))
        .and_then(Value::as_bool)
        == Some(true);
    gauge(
        out,
        "openclaw_dingtalk_quota_exhausted",
        "1 when DingTalk refused calls this month for the organisation's monthly API quota (errcode 90020).",
        i64::from(exhausted),
    );
}

/// The plugin's card staleness histogram (`info.card_staleness`: per-bucket counts for
/// `bounds_ms` plus an unbounded bucket) as a Prometheus histogram in seconds.
fn render_staleness(out: &mut String, staleness: Option<&Value>) {
    let Some(s) = staleness else { return };
    let bounds: Vec<u64> = s
        .get("bounds_ms")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    let counts: Vec<u64> = s
        .get("counts")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    if counts.len() != bounds.len() + 1 {
        return;
    }
    let _ = writeln!(out, "# HELP openclaw_card_staleness_seconds Time answer text waited before a card update made it visible.\n# TYPE openclaw_card_staleness_seconds histogram");
    let mut cumulative = 0;
    for (bound, count) in bounds.iter().zip(&counts) {
        cumulative += count;
        let _ = writeln!(
            out,
            "openclaw_card_staleness_seconds_bucket{{le=\"{}\"}} {cumulative}",
            *bound as f64 / 1000.0
        );
    }
    cumulative += counts[bounds.len()];
    let _ = writeln!(
        out,
        "openclaw_card_staleness_seconds_bucket{{le=\"+Inf\"}} {cumulative}"
    );
    let sum_ms = s.get("sum_ms").and_then(Value::as_u64).unwrap_or(0);
    let _ = writeln!(
        out,
        "openclaw_card_staleness_seconds_sum {}",
        sum_ms as f64 / 1000.0
    );
    let _ = writeln!(out, "openclaw_card_staleness_seconds_count {cumulative}");
}

#[derive(Clone)]
struct ScrapeState {
    metrics: Arc<Metrics>,
    skill: Arc<Skill>,
}

async fn scrape(State(state): State<ScrapeState>) -> impl IntoResponse {
    let info = state
        .skill
        .info()
        .ok()
        .and_then(|s| serde_json::from_str::<Value>(&s).ok());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(info.as_ref()),
    )
}

/// Serves `GET /metrics` on `listener` until `stop` is cancelled.
pub async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    skill: Arc<Skill>,
    stop: CancellationToken,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/metrics", get(scrape))
        .with_state(ScrapeState { metrics, skill });
    axum::serve(listener, app)
        .with_graceful_shutdown(stop.cancelled_owned())
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histograms_and_skill_info() {
        let m = Metrics::default();
        m.inc(
            "openclaw_ingress_events_total",
            &[("source", "http"), ("result", "accepted")],
        );
        m.inc(
            "openclaw_ingress_events_total",
            &[("source", "http"), ("result", "accepted")],
        );
        m.inc(
            "openclaw_http_callback_rejected_total",
            &[("status", "403")],
        );
        m.observe(
            "openclaw_reply_seconds",
            &[("outcome", "finished")],
            Duration::from_millis(700),
        );
        m.set_stream_connected(true);
        let info = serde_json::json!({
            "replies": {"events": 3, "finished": 2, "failed": 0, "replied": 1, "skipped": 0, "recovered_cards": 0, "in_flight": 0},
            "dingtalk_calls": {"total": 9, "by_kind": {"create": 2, "stream": 6, "webhook": 1}, "qps_limited": 4, "failed": 1},
            "card_staleness": {"bounds_ms": [50, 100], "counts": [3, 1, 2], "sum_ms": 1400, "count": 6},
            "dingtalk_budget": {"apis": {"create": {"calls_per_second": 3.5, "learned": true, "qps_limited": 2}}, "app": {"calls_per_second": null, "learned": false, "qps_limited": 0}, "waiting": 4, "month": {"month": "2026-11", "calls": 120, "quota": 5000, "exhausted": true}},
            "accepting": true
        });
        let text = m.render(Some(&info));
        for line in [
            "openclaw_ingress_events_total{source=\"http\",result=\"accepted\"} 2",
            "openclaw_http_callback_rejected_total{status=\"403\"} 1",
            "openclaw_reply_seconds_bucket{outcome=\"finished\",le=\"0.5\"} 0",
            "openclaw_reply_seconds_bucket{outcome=\"finished\",le=\"1\"} 1",
            "openclaw_reply_seconds_bucket{outcome=\"finished\",le=\"+Inf\"} 1",
            "openclaw_reply_seconds_count{outcome=\"finished\"} 1",
            "openclaw_stream_connected 1",
            "openclaw_replies_total{outcome=\"finished\"} 2",
            "openclaw_dingtalk_calls_total{kind=\"stream\"} 6",
            "openclaw_dingtalk_qps_limited_total 4",
            "# TYPE openclaw_reply_seconds histogram",
            "openclaw_card_staleness_seconds_bucket{le=\"0.05\"} 3",
            "openclaw_card_staleness_seconds_bucket{le=\"0.1\"} 4",
            "openclaw_card_staleness_seconds_bucket{le=\"+Inf\"} 6",
            "openclaw_card_staleness_seconds_sum 1.4",
            "openclaw_dingtalk_budget_calls_per_second{api=\"create\"} 3.5",
            "openclaw_dingtalk_budget_learned{api=\"create\"} 1",
            "openclaw_dingtalk_budget_learned{api=\"app\"} 0",
            "openclaw_dingtalk_budget_waiting 4",
            "openclaw_dingtalk_month_calls 120",
            "openclaw_dingtalk_month_quota 5000",
            "openclaw_dingtalk_quota_exhausted 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert_eq!(
            m.counter(
                "openclaw_http_callback_rejected_total",
                &[("status", "403")]
            ),
            1
        );
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(labels(&[("a", "x\"y\\z\n")]), r#"a="x\"y\\z\n""#);
    }
}
