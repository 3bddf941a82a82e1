//! The host's own families: events, HTTP callback refusals, Stream connections and frames, reply
//! timings; and the exposition of them with the skill's series.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::{prometheus_text, EncodeLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use serde_json::Value;

/// Histogram bucket bounds in seconds (reply timings: sub-second to minutes).
const BUCKETS: [f64; 12] = [
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

/// `openclaw_ingress_events_total` labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabels {
    source: &'static str,
    result: &'static str,
}

/// `openclaw_http_callback_rejected_total` labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RejectedLabels {
    status: u16,
    reason: String,
}

/// `openclaw_stream_connects_total` labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: &'static str,
}

/// `openclaw_stream_reconnects_total` labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

/// `openclaw_stream_frames_total` labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TypeLabel {
    r#type: &'static str,
}

/// `openclaw_reply_seconds` labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

/// Builds the reply histograms of a family.
#[derive(Clone)]
struct ReplyBuckets;

impl MetricConstructor<Histogram> for ReplyBuckets {
    fn new_metric(&self) -> Histogram {
        Histogram::new(BUCKETS)
    }
}

/// The registry appends the full stop to a HELP text; ours are written with it.
fn help(text: &'static str) -> &'static str {
    text.strip_suffix('.').unwrap_or(text)
}

/// The host's metrics. Shared (`Arc`) by the ingress tasks, the followers and the scrape
/// endpoint; every update is a lock-free atomic or a short lock inside a family.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    ingress_events: Family<EventLabels, Counter>,
    callback_rejected: Family<RejectedLabels, Counter>,
    stream_connects: Family<ResultLabel, Counter>,
    stream_reconnects: Family<ReasonLabel, Counter>,
    stream_frames: Family<TypeLabel, Counter>,
    reply_first_card: Histogram,
    reply_seconds: Family<OutcomeLabel, Histogram, ReplyBuckets>,
    reply_chunk_gap_max: Histogram,
    stream_connected: Gauge,
    /// The apps (by app key) whose Stream connection is up: `stream_connected` counts them.
    streams_up: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        let mut registry = Registry::default();
        let ingress_events = Family::default();
        registry.register(
            "openclaw_ingress_events",
            help("DingTalk events received, by source (stream|http) and result (accepted|invalid|shutting_down|error)."),
            ingress_events.clone(),
        );
        let callback_rejected = Family::default();
        registry.register(
            "openclaw_http_callback_rejected",
            help("HTTP callbacks refused, by status and reason (401 missing_signature; 403 bad_signature, bad_timestamp, stale_timestamp, replay; 408 body_timeout; 413 body_too_large; 400 not_utf8, body_unreadable, invalid_event; 503 shutting_down; 500 failed)."),
            callback_rejected.clone(),
        );
        let stream_connects = Family::default();
        registry.register(
            "openclaw_stream_connects",
            help("Stream connection attempts (connections/open + WebSocket handshake), by result (ok|auth_failed|error)."),
            stream_connects.clone(),
        );
        let stream_reconnects = Family::default();
        registry.register(
            "openclaw_stream_reconnects",
            help("Stream reconnects, by reason (disconnect = server disconnect frame, closed, error, silence)."),
            stream_reconnects.clone(),
        );
        let stream_frames = Family::default();
        registry.register(
            "openclaw_stream_frames",
            help("Stream frames received, by type (callback|ping|disconnect|event|system|unreadable)."),
            stream_frames.clone(),
        );
        let reply_first_card = Histogram::new(BUCKETS);
        registry.register(
            "openclaw_reply_first_card_seconds",
            help("Time from event receipt to the card being created (Started chunk), per reply with a card."),
            reply_first_card.clone(),
        );
        let reply_seconds = Family::new_with_constructor(ReplyBuckets);
        registry.register(
            "openclaw_reply_seconds",
            help("Time from event receipt to the reply's terminal chunk, by outcome."),
            reply_seconds.clone(),
        );
        let reply_chunk_gap_max = Histogram::new(BUCKETS);
        registry.register(
            "openclaw_reply_chunk_gap_max_seconds",
            help("Longest pause between two consecutive chunks of one reply, as the host saw them (an upper bound of how long the answer stood still; not card staleness, which the plugin does not expose)."),
            reply_chunk_gap_max.clone(),
        );
        let stream_connected = Gauge::default();
        registry.register(
            "openclaw_stream_connected",
            help("Apps whose Stream WebSocket is open and serving (1 with one app)."),
            stream_connected.clone(),
        );
        Metrics {
            registry,
            ingress_events,
            callback_rejected,
            stream_connects,
            stream_reconnects,
            stream_frames,
            reply_first_card,
            reply_seconds,
            reply_chunk_gap_max,
            stream_connected,
            streams_up: std::sync::Mutex::default(),
        }
    }
}

impl Metrics {
    /// A fresh, shareable set.
    pub fn new() -> Arc<Metrics> {
        Arc::new(Metrics::default())
    }

    /// Counts an event from `source` (`stream`|`http`) the skill answered with `result`.
    pub fn ingress_event(&self, source: &'static str, result: &'static str) {
        self.ingress_events
            .get_or_create(&EventLabels { source, result })
            .inc();
    }

    /// Counts an HTTP callback refused with `status` for `reason`.
    pub fn callback_rejected(&self, status: u16, reason: &str) {
        self.callback_rejected
            .get_or_create(&RejectedLabels {
                status,
                reason: reason.to_owned(),
            })
            .inc();
    }

    /// Counts a Stream connection attempt that ended with `result`.
    pub fn stream_connect(&self, result: &'static str) {
        self.stream_connects
            .get_or_create(&ResultLabel { result })
            .inc();
    }

    /// Counts a Stream reconnect for `reason`.
    pub fn stream_reconnect(&self, reason: &'static str) {
        self.stream_reconnects
            .get_or_create(&ReasonLabel { reason })
            .inc();
    }

    /// Counts a Stream frame of type `kind`.
    pub fn stream_frame(&self, kind: &'static str) {
        self.stream_frames
            .get_or_create(&TypeLabel { r#type: kind })
            .inc();
    }

    /// Records the time from an event's receipt to its reply's first card.
    pub fn reply_first_card(&self, elapsed: Duration) {
        self.reply_first_card.observe(elapsed.as_secs_f64());
    }

    /// Records the time from an event's receipt to its reply's end with `outcome`.
    pub fn reply_ended(&self, outcome: &'static str, elapsed: Duration) {
        self.reply_seconds
            .get_or_create(&OutcomeLabel { outcome })
            .observe(elapsed.as_secs_f64());
    }

    /// Records the longest pause between two chunks of a reply.
    pub fn reply_chunk_gap_max(&self, gap: Duration) {
        self.reply_chunk_gap_max.observe(gap.as_secs_f64());
    }

    /// Sets whether a Stream connection is up.
    pub fn set_stream_connected(&self, app: &str, up: bool) {
        let mut connected = self.streams_up.lock().unwrap_or_else(|e| e.into_inner());
        if up {
            connected.insert(app.to_owned());
        } else {
            connected.remove(app);
        }
        self.stream_connected
            .set(i64::try_from(connected.len()).unwrap_or(i64::MAX));
    }

    /// The exposition text: the host's families, then the skill's series from its `info`.
    pub fn render(&self, skill_info: Option<&Value>) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail, nor can the encoders on their own.
        let _ = prometheus_text::encode(&mut out, &self.registry);
        if let Some(info) = skill_info {
            let _ = prometheus_text::encode(&mut out, &super::skill::registry(info));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> (Metrics, Value) {
        let m = Metrics::default();
        m.ingress_event("http", "accepted");
        m.ingress_event("stream", "invalid");
        m.callback_rejected(403, "replay");
        m.stream_connect("ok");
        m.stream_reconnect("silence");
        m.stream_frame("ping");
        m.reply_ended("finished", Duration::from_millis(700));
        m.reply_first_card(Duration::from_millis(40));
        m.reply_chunk_gap_max(Duration::from_millis(1000));
        m.set_stream_connected("ding-app", true);
        let info = serde_json::json!({
            "replies": {"events": 3, "finished": 2, "failed": 0, "replied": 1, "skipped": 0, "recovered_cards": 0, "in_flight": 0},
            "dingtalk_calls": {"total": 9, "by_kind": {"create": 2, "stream": 6, "we\"b\\x\ny": 1}, "qps_limited": 4, "failed": 1},
            "card_staleness": {"bounds_ms": [50, 100], "counts": [3, 1, 2], "sum_ms": 1400, "count": 6},
            "dingtalk_budget": {"apis": {"create": {"calls_per_second": 3.5, "learned": true, "qps_limited": 2}}, "app": {"calls_per_second": null, "learned": false, "qps_limited": 0}, "waiting": 4, "month": {"month": "2026-11", "calls": 120, "quota": 5000, "exhausted": true}},
            "shared_state": {"url": "redis://***@127.0.0.1:6379/0", "up": false, "outages": 2},
            "accepting": true
        });
        (m, info)
    }

    #[test]
    fn renders_counters_histograms_and_skill_info() {
        let (m, info) = state();
        m.ingress_event("http", "accepted");
        let text = m.render(Some(&info));
        for line in [
            "# HELP openclaw_ingress_events_total DingTalk events received, by source (stream|http) and result (accepted|invalid|shutting_down|error).",
            "# TYPE openclaw_ingress_events_total counter",
            "openclaw_ingress_events_total{source=\"http\",result=\"accepted\"} 2",
            "openclaw_http_callback_rejected_total{status=\"403\",reason=\"replay\"} 1",
            "openclaw_stream_frames_total{type=\"ping\"} 1",
            "openclaw_reply_seconds_bucket{outcome=\"finished\",le=\"0.5\"} 0",
            "openclaw_reply_seconds_bucket{outcome=\"finished\",le=\"1\"} 1",
            "openclaw_reply_seconds_bucket{outcome=\"finished\",le=\"+Inf\"} 1",
            "openclaw_reply_seconds_count{outcome=\"finished\"} 1",
            "openclaw_reply_first_card_seconds_bucket{le=\"0.05\"} 1",
            "openclaw_reply_first_card_seconds_count 1",
            "# HELP openclaw_stream_connected Apps whose Stream WebSocket is open and serving (1 with one app).",
            "openclaw_stream_connected 1",
            "# TYPE openclaw_replies_total counter",
            "openclaw_skill_events_total 3",
            "openclaw_replies_total{outcome=\"finished\"} 2",
            "openclaw_replies_total{outcome=\"stuck\"} 0",
            "openclaw_dingtalk_calls_total{app=\"default\",kind=\"stream\"} 6",
            "openclaw_dingtalk_qps_limited_total{app=\"default\"} 4",
            "openclaw_dingtalk_call_failures_total{app=\"default\"} 1",
            "# TYPE openclaw_reply_seconds histogram",
            "# TYPE openclaw_card_staleness_seconds histogram",
            "openclaw_card_staleness_seconds_bucket{le=\"0.05\"} 3",
            "openclaw_card_staleness_seconds_bucket{le=\"0.1\"} 4",
            "openclaw_card_staleness_seconds_bucket{le=\"+Inf\"} 6",
            "openclaw_card_staleness_seconds_sum 1.4",
            "openclaw_card_staleness_seconds_count 6",
            "openclaw_dingtalk_budget_calls_per_second{app=\"default\",api=\"create\"} 3.5",
            "openclaw_dingtalk_budget_learned{app=\"default\",api=\"create\"} 1",
            "openclaw_dingtalk_budget_learned{app=\"default\",api=\"app\"} 0",
            "openclaw_dingtalk_budget_waiting{app=\"default\"} 4",
            "openclaw_dingtalk_month_calls{app=\"default\"} 120",
            "openclaw_dingtalk_month_quota{app=\"default\"} 5000",
            "openclaw_dingtalk_quota_exhausted{app=\"default\"} 1",
            "openclaw_skill_accepting 1",
            "openclaw_shared_state_up 0",
            "openclaw_shared_state_outages_total 2",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert!(
            !text.contains("calls_per_second{api=\"app\"}"),
            "no rate without a number"
        );
    }

    #[test]
    fn each_app_has_its_own_dingtalk_series() {
        let (m, mut info) = state();
        info["apps"] = serde_json::json!([
            {"name": "hr", "dingtalk_calls": {"by_kind": {"create": 5}, "qps_limited": 7, "failed": 2},
             "dingtalk_budget": {"apis": {"create": {"calls_per_second": 2.8, "learned": true}}, "waiting": 3, "month": {"calls": 40}}},
            {"name": "it", "dingtalk_calls": {"by_kind": {"create": 1}, "qps_limited": 0, "failed": 0},
             "dingtalk_budget": {"apis": {"create": {"calls_per_second": 20.0, "learned": false}}, "waiting": 0, "month": {"calls": 9, "quota": 100}}},
        ]);
        let text = m.render(Some(&info));
        for line in [
            r#"openclaw_dingtalk_calls_total{app="hr",kind="create"} 5"#,
            r#"openclaw_dingtalk_calls_total{app="it",kind="create"} 1"#,
            r#"openclaw_dingtalk_qps_limited_total{app="hr"} 7"#,
            r#"openclaw_dingtalk_qps_limited_total{app="it"} 0"#,
            r#"openclaw_dingtalk_budget_calls_per_second{app="hr",api="create"} 2.8"#,
            r#"openclaw_dingtalk_budget_calls_per_second{app="it",api="create"} 20.0"#,
            r#"openclaw_dingtalk_budget_learned{app="hr",api="create"} 1"#,
            r#"openclaw_dingtalk_budget_waiting{app="hr"} 3"#,
            r#"openclaw_dingtalk_month_calls{app="it"} 9"#,
            r#"openclaw_dingtalk_month_quota{app="it"} 100"#,
            r#"openclaw_dingtalk_quota_exhausted{app="hr"} 0"#,
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert!(
            !text.contains(r#"app="default""#),
            "the listed apps replace the top-level figures: {text}"
        );
        assert!(
            !text.contains(r#"month_quota{app="hr"}"#),
            "hr has no quota"
        );
    }

    #[test]
    fn label_values_are_escaped() {
        let (m, info) = state();
        let text = m.render(Some(&info));
        assert!(
            text.lines().any(
                |l| l == r#"openclaw_dingtalk_calls_total{app="default",kind="we\"b\\x\ny"} 1"#
            ),
            "{text}"
        );
    }

    #[test]
    fn without_skill_info_only_the_host_series() {
        let text = Metrics::default().render(None);
        assert!(text.contains("openclaw_stream_connected 0"), "{text}");
        assert!(!text.contains("openclaw_replies_total"), "{text}");
    }
}
