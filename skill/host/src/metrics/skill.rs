//! The skill's series, read from `Skill::info` at scrape time: replies by outcome, DingTalk
//! calls by kind, 403s, the learned DingTalk budget, the card staleness histogram and, with
//! `shared_state:`, whether Redis answers.

use std::collections::HashMap;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::exemplar::Exemplar;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use serde_json::Value;

/// The outcomes of `openclaw_replies_total`, each shown (0 when `info` lacks it).
const OUTCOMES: [&str; 10] = [
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
];

/// A registry holding the series of one `info` snapshot.
pub fn registry(info: &Value) -> Registry {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(SkillInfo(info.clone())));
    registry
}

/// One `info` snapshot as a collector.
#[derive(Debug)]
struct SkillInfo(Value);

/// What the encoders return.
type Result = std::result::Result<(), std::fmt::Error>;

/// One unlabelled counter.
fn counter(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: u64) -> Result {
    let metric = ConstCounter::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

/// One unlabelled gauge.
fn gauge(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: i64) -> Result {
    let metric = ConstGauge::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

/// A count from `info` (0 when absent).
fn num(v: Option<&Value>) -> u64 {
    v.and_then(Value::as_u64).unwrap_or(0)
}

impl Collector for SkillInfo {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result {
        let info = &self.0;
        let replies = info.get("replies");
        let r = |k: &str| num(replies.and_then(|r| r.get(k)));
        counter(
            &mut encoder,
            "openclaw_skill_events",
            "Events the skill accepted.",
            r("events"),
        )?;
        let mut family = encoder.encode_descriptor(
            "openclaw_replies",
            "Replies by outcome: finished = every card finalized with the whole answer, degraded = the whole answer, partly as markdown messages, failed = the gateway failed (card shows the text so far), stopped, interrupted = shut down first, incomplete = part of the answer not sent, undelivered = nothing reached the user, stuck = a card not finalized (finalized at the next start), replied = plain message (command, refusal), skipped = duplicate delivery.",
            None,
            MetricType::Counter,
        )?;
        for outcome in OUTCOMES {
            ConstCounter::new(r(outcome)).encode(family.encode_family(&[("outcome", outcome)])?)?;
        }
        counter(
            &mut encoder,
            "openclaw_recovered_cards",
            "Cards left in flight by a crash and finalized at start-up.",
            r("recovered_cards"),
        )?;
        gauge(
            &mut encoder,
            "openclaw_replies_in_flight",
            "Replies running now.",
            i64::try_from(r("in_flight")).unwrap_or(i64::MAX),
        )?;
        let calls = info.get("dingtalk_calls");
        let mut family = encoder.encode_descriptor(
            "openclaw_dingtalk_calls",
            "DingTalk API calls sent by the skill, by kind.",
            None,
            MetricType::Counter,
        )?;
        if let Some(by_kind) = calls
            .and_then(|c| c.get("by_kind"))
            .and_then(Value::as_object)
        {
            for (kind, n) in by_kind {
                ConstCounter::new(num(Some(n)))
                    .encode(family.encode_family(&[("kind", kind.as_str())])?)?;
            }
        }
        counter(
            &mut encoder,
            "openclaw_dingtalk_qps_limited",
            "DingTalk answers HTTP 403 Forbidden.AccessDenied.QpsLimit*.",
            num(calls.and_then(|c| c.get("qps_limited"))),
        )?;
        counter(
            &mut encoder,
            "openclaw_dingtalk_call_failures",
            "DingTalk calls that failed (any error status or transport error).",
            num(calls.and_then(|c| c.get("failed"))),
        )?;
        if let Some(budget) = info.get("dingtalk_budget") {
            encode_budget(&mut encoder, budget)?;
        }
        if let Some(staleness) = info.get("card_staleness") {
            encode_staleness(&mut encoder, staleness)?;
        }
        if let Some(shared) = info.get("shared_state").filter(|s| s.is_object()) {
            let up = shared.get("up").and_then(Value::as_bool) == Some(true);
            gauge(
                &mut encoder,
                "openclaw_shared_state_up",
                "1 while Redis (shared_state) answers; 0 while the host runs on local state (each DingTalk budget at 1/expected_hosts).",
                i64::from(up),
            )?;
            counter(
                &mut encoder,
                "openclaw_shared_state_outages",
                "Times Redis (shared_state) became unreachable.",
                num(shared.get("outages")),
            )?;
        }
        let accepting = info.get("accepting").and_then(Value::as_bool) == Some(true);
        gauge(
            &mut encoder,
            "openclaw_skill_accepting",
            "1 while the skill accepts events (0 once shutdown began).",
            i64::from(accepting),
        )
    }
}

/// The learned DingTalk budget (`info.dingtalk_budget`): the rate in use per API and
/// app-wide, whether a 403 lowered it, calls waiting, and the month's calls against the quota.
fn encode_budget(encoder: &mut DescriptorEncoder, budget: &Value) -> Result {
    let mut lanes: Vec<(&str, &Value)> = budget
        .get("apis")
        .and_then(Value::as_object)
        .map(|apis| apis.iter().map(|(k, v)| (k.as_str(), v)).collect())
        .unwrap_or_default();
    if let Some(app) = budget.get("app") {
        lanes.push(("app", app));
    }
    let mut family = encoder.encode_descriptor(
        "openclaw_dingtalk_budget_calls_per_second",
        "The call rate the skill allows itself, per DingTalk API and app-wide (learned from 403 QpsLimit answers; starts at dingtalk.api_qps).",
        None,
        MetricType::Gauge,
    )?;
    for (api, lane) in &lanes {
        if let Some(rate) = lane.get("calls_per_second").and_then(Value::as_f64) {
            ConstGauge::new(rate).encode(family.encode_family(&[("api", *api)])?)?;
        }
    }
    let mut family = encoder.encode_descriptor(
        "openclaw_dingtalk_budget_learned",
        "1 when a 403 QpsLimit has lowered this budget below its ceiling.",
        None,
        MetricType::Gauge,
    )?;
    for (api, lane) in &lanes {
        let learned = lane.get("learned").and_then(Value::as_bool) == Some(true);
        ConstGauge::new(i64::from(learned)).encode(family.encode_family(&[("api", *api)])?)?;
    }
    gauge(
        encoder,
        "openclaw_dingtalk_budget_waiting",
        "DingTalk calls waiting for a slot in the budget.",
        budget.get("waiting").and_then(Value::as_i64).unwrap_or(0),
    )?;
    let month = budget.get("month");
    let month_num = |k: &str| month.and_then(|m| m.get(k)).and_then(Value::as_i64);
    gauge(
        encoder,
        "openclaw_dingtalk_month_calls",
        "DingTalk calls this calendar month (China time), as counted by the skill.",
        month_num("calls").unwrap_or(0),
    )?;
    if let Some(quota) = month_num("quota") {
        gauge(
            encoder,
            "openclaw_dingtalk_month_quota",
            "dingtalk.monthly_call_quota.",
            quota,
        )?;
    }
    let exhausted = month
        .and_then(|m| m.get("exhausted"))
        .and_then(Value::as_bool)
        == Some(true);
    gauge(
        encoder,
        "openclaw_dingtalk_quota_exhausted",
        "1 when DingTalk refused calls this month for the organisation's monthly API quota (errcode 90020).",
        i64::from(exhausted),
    )
}

/// The plugin's card staleness histogram (`info.card_staleness`: per-bucket counts for
/// `bounds_ms` plus an unbounded bucket) as a Prometheus histogram in seconds; nothing when the
/// counts do not fit the bounds.
fn encode_staleness(encoder: &mut DescriptorEncoder, staleness: &Value) -> Result {
    let list = |key: &str| -> Vec<u64> {
        staleness
            .get(key)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default()
    };
    let (bounds, counts) = (list("bounds_ms"), list("counts"));
    if counts.len() != bounds.len() + 1 {
        return Ok(());
    }
    let buckets: Vec<(f64, u64)> = bounds
        .iter()
        .zip(&counts)
        .map(|(bound, count)| (*bound as f64 / 1000.0, *count))
        .collect();
    let total = counts.iter().sum();
    let sum_ms = staleness.get("sum_ms").and_then(Value::as_u64).unwrap_or(0);
    encoder
        .encode_descriptor(
            "openclaw_card_staleness_seconds",
            "Time answer text waited before a card update made it visible.",
            None,
            MetricType::Histogram,
        )?
        .encode_histogram::<NoLabelSet>(
            sum_ms as f64 / 1000.0,
            total,
            &buckets,
            None::<&HashMap<usize, Exemplar<NoLabelSet, f64>>>,
        )
}
