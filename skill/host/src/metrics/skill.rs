//! The skill's series, read from `Skill::info` at scrape time: replies by outcome, DingTalk
//! calls by kind, 403s and the learned DingTalk budget (each labelled with its app), the card
//! staleness histogram and, with `shared_state:`, whether Redis answers.

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
        let apps = dingtalk_apps(info);
        encode_calls(&mut encoder, &apps)?;
        encode_budget(&mut encoder, &apps)?;
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

/// One DingTalk app's part of `info`: its name, calls and budget.
struct AppInfo<'a> {
    name: &'a str,
    calls: Option<&'a Value>,
    budget: Option<&'a Value>,
}

/// Every app of `info.apps` (one per robot); a plugin that does not list them has one app,
/// named `default`, whose figures are at the top of `info`.
fn dingtalk_apps(info: &Value) -> Vec<AppInfo<'_>> {
    match info.get("apps").and_then(Value::as_array) {
        Some(apps) if !apps.is_empty() => apps
            .iter()
            .map(|app| AppInfo {
                name: app.get("name").and_then(Value::as_str).unwrap_or("default"),
                calls: app.get("dingtalk_calls"),
                budget: app.get("dingtalk_budget"),
            })
            .collect(),
        _ => vec![AppInfo {
            name: "default",
            calls: info.get("dingtalk_calls"),
            budget: info.get("dingtalk_budget"),
        }],
    }
}

/// A counter or gauge family (`metric_type`) with one series per app.
fn per_app(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    metric_type: MetricType,
    series: &[(&str, i64)],
) -> Result {
    let mut family = encoder.encode_descriptor(name, help, None, metric_type)?;
    for (app, value) in series {
        let labels = [("app", *app)];
        if metric_type == MetricType::Gauge {
            ConstGauge::new(*value).encode(family.encode_family(&labels)?)?;
        } else {
            ConstCounter::new(u64::try_from(*value).unwrap_or(0))
                .encode(family.encode_family(&labels)?)?;
        }
    }
    Ok(())
}

/// The DingTalk calls of each app (`info.apps[].dingtalk_calls`): by kind, 403s, failures.
fn encode_calls(encoder: &mut DescriptorEncoder, apps: &[AppInfo<'_>]) -> Result {
    let mut family = encoder.encode_descriptor(
        "openclaw_dingtalk_calls",
        "DingTalk API calls sent by the skill, by app and kind.",
        None,
        MetricType::Counter,
    )?;
    for app in apps {
        let by_kind = app
            .calls
            .and_then(|c| c.get("by_kind"))
            .and_then(Value::as_object);
        for (kind, n) in by_kind.into_iter().flatten() {
            ConstCounter::new(num(Some(n)))
                .encode(family.encode_family(&[("app", app.name), ("kind", kind.as_str())])?)?;
        }
    }
    let count = |app: &AppInfo<'_>, key: &str| {
        i64::try_from(num(app.calls.and_then(|c| c.get(key)))).unwrap_or(i64::MAX)
    };
    let limited: Vec<_> = apps
        .iter()
        .map(|a| (a.name, count(a, "qps_limited")))
        .collect();
    per_app(
        encoder,
        "openclaw_dingtalk_qps_limited",
        "DingTalk answers HTTP 403 Forbidden.AccessDenied.QpsLimit*, by app.",
        MetricType::Counter,
        &limited,
    )?;
    let failed: Vec<_> = apps.iter().map(|a| (a.name, count(a, "failed"))).collect();
    per_app(
        encoder,
        "openclaw_dingtalk_call_failures",
        "DingTalk calls that failed (any error status or transport error), by app.",
        MetricType::Counter,
        &failed,
    )
}

/// The learned DingTalk budget of each app (`info.apps[].dingtalk_budget`): the rate in use
/// per API and app-wide, whether a 403 lowered it, calls waiting, and the month's calls
/// against the quota.
fn encode_budget(encoder: &mut DescriptorEncoder, apps: &[AppInfo<'_>]) -> Result {
    let budgets: Vec<(&str, &Value)> = apps
        .iter()
        .filter_map(|a| a.budget.map(|b| (a.name, b)))
        .collect();
    let lanes = |budget: &'_ Value| -> Vec<(String, Value)> {
        let mut lanes: Vec<(String, Value)> = budget
            .get("apis")
            .and_then(Value::as_object)
            .map(|apis| apis.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        if let Some(app) = budget.get("app") {
            lanes.push(("app".into(), app.clone()));
        }
        lanes
    };
    let mut family = encoder.encode_descriptor(
        "openclaw_dingtalk_budget_calls_per_second",
        "The call rate the skill allows itself, per app, DingTalk API and app-wide (learned from 403 QpsLimit answers; starts at dingtalk.api_qps).",
        None,
        MetricType::Gauge,
    )?;
    for (app, budget) in &budgets {
        for (api, lane) in lanes(budget) {
            if let Some(rate) = lane.get("calls_per_second").and_then(Value::as_f64) {
                ConstGauge::new(rate)
                    .encode(family.encode_family(&[("app", *app), ("api", api.as_str())])?)?;
            }
        }
    }
    let mut family = encoder.encode_descriptor(
        "openclaw_dingtalk_budget_learned",
        "1 when a 403 QpsLimit has lowered this budget below its ceiling.",
        None,
        MetricType::Gauge,
    )?;
    for (app, budget) in &budgets {
        for (api, lane) in lanes(budget) {
            let learned = lane.get("learned").and_then(Value::as_bool) == Some(true);
            ConstGauge::new(i64::from(learned))
                .encode(family.encode_family(&[("app", *app), ("api", api.as_str())])?)?;
        }
    }
    let month_num = |budget: &Value, k: &str| {
        budget
            .get("month")
            .and_then(|m| m.get(k))
            .and_then(Value::as_i64)
    };
    let waiting: Vec<_> = budgets
        .iter()
        .map(|(app, b)| (*app, b.get("waiting").and_then(Value::as_i64).unwrap_or(0)))
        .collect();
    per_app(
        encoder,
        "openclaw_dingtalk_budget_waiting",
        "DingTalk calls waiting for a slot in the app's budget.",
        MetricType::Gauge,
        &waiting,
    )?;
    let month: Vec<_> = budgets
        .iter()
        .map(|(app, b)| (*app, month_num(b, "calls").unwrap_or(0)))
        .collect();
    per_app(
        encoder,
        "openclaw_dingtalk_month_calls",
        "DingTalk calls this calendar month (China time), by app, as counted by the skill.",
        MetricType::Gauge,
        &month,
    )?;
    let quotas: Vec<_> = budgets
        .iter()
        .filter_map(|(app, b)| month_num(b, "quota").map(|q| (*app, q)))
        .collect();
    if !quotas.is_empty() {
        per_app(
            encoder,
            "openclaw_dingtalk_month_quota",
            "dingtalk.monthly_call_quota, by app.",
            MetricType::Gauge,
            &quotas,
        )?;
    }
    let exhausted: Vec<_> = budgets
        .iter()
        .map(|(app, b)| {
            let out = b
                .get("month")
                .and_then(|m| m.get("exhausted"))
                .and_then(Value::as_bool)
                == Some(true);
            (*app, i64::from(out))
        })
        .collect();
    per_app(
        encoder,
        "openclaw_dingtalk_quota_exhausted",
        "1 when DingTalk refused the app's calls this month for the organisation's monthly API quota (errcode 90020).",
        MetricType::Gauge,
        &exhausted,
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
