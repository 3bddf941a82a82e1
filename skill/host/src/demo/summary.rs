//! The call summary at the end of the demo, from the records: DingTalk calls by kind (and 403s)
//! from the emulator, calls and first-visible latency per reply, the plugin's own counters for
//! comparison, and where the log lines went.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use openclaw_dingtalk_emulator::dingtalk::{
    ApiKind, Call, CardPress, DingTalkEmulator, PressStatus,
};
use openclaw_dingtalk_emulator::gateway::FakeGateway;
use serde_json::Value;

use super::format::{millis, seconds};
use super::record::{Ending, Played, StepView};

/// The kinds of DingTalk call, in the order the summary lists them.
const KINDS: [&str; 11] = [
    "token",
    "create",
    "stream",
    "instance",
    "webhook",
    "robot send",
    "file download",
    "media upload",
    "card callback route",
    "stream-connection-open",
    "other",
];
/// Kinds the by-kind table lists only when there were some.
const LISTED_WHEN_USED: [&str; 4] = [
    "file download",
    "media upload",
    "card callback route",
    "other",
];
/// The summary's name for a GET of a user's file from DingTalk's storage (the temporary URL
/// `messageFiles/download` gave): recorded by the emulator, but not an OpenAPI call.
const STORAGE_GET: &str = "file storage GET";

/// The summary's name for an emulator call kind.
pub fn kind_name(kind: ApiKind) -> &'static str {
    match kind {
        ApiKind::AccessToken | ApiKind::LegacyAccessToken => "token",
        ApiKind::CreateAndDeliver | ApiKind::CreateCard | ApiKind::DeliverCard => "create",
        ApiKind::StreamingUpdate => "stream",
        ApiKind::UpdateCardInstance => "instance",
        ApiKind::SessionWebhook => "webhook",
        ApiKind::GroupSend | ApiKind::OtoSend => "robot send",
        ApiKind::StreamConnectionOpen => "stream-connection-open",
        ApiKind::MessageFileDownload => "file download",
        ApiKind::MessageFileGet => STORAGE_GET,
        ApiKind::MediaUpload => "media upload",
        ApiKind::RegisterCardCallback => "card callback route",
        ApiKind::CardCallback | ApiKind::Control | ApiKind::Unknown => "other",
    }
}

/// Calls counted by kind: `(calls, 403 answers)`.
fn by_kind(calls: &[Call]) -> BTreeMap<&'static str, (u64, u64)> {
    let mut counts = BTreeMap::new();
    for call in calls {
        let entry = counts.entry(kind_name(call.kind)).or_insert((0, 0));
        entry.0 += 1;
        if call.status == 403 {
            entry.1 += 1;
        }
    }
    counts
}

/// Whether a recorded call is an OpenAPI call (not a GET of a file from storage).
pub fn is_api_call(call: &Call) -> bool {
    call.kind != ApiKind::MessageFileGet
}

/// `9: token 1, create 1, stream 6, instance 1` (OpenAPI calls: no GETs from storage).
fn calls_breakdown(calls: &[Call]) -> String {
    let calls: Vec<Call> = calls.iter().filter(|c| is_api_call(c)).cloned().collect();
    let calls = calls.as_slice();
    let counts = by_kind(calls);
    let parts: Vec<String> = KINDS
        .iter()
        .filter_map(|k| counts.get(k).map(|(n, _)| format!("{k} {n}")))
        .collect();
    if parts.is_empty() {
        "0".to_owned()
    } else {
        format!("{}: {}", calls.len(), parts.join(", "))
    }
}

/// The record clocks, to put the emulator's and the fake gateway's `at_ms` on one time line.
pub struct Clocks<'a> {
    /// The emulator's clock start.
    pub emulator: Instant,
    /// The fake gateway, when it is the one answering.
    pub gateway: Option<&'a FakeGateway>,
}

impl Clocks<'_> {
    /// Clocks of the demo's peers.
    pub fn of<'a>(emulator: &DingTalkEmulator, gateway: Option<&'a FakeGateway>) -> Clocks<'a> {
        Clocks {
            emulator: emulator.started_at(),
            gateway,
        }
    }

    /// The reply's first token: the fake gateway's record of its first content token, or the
    /// first answer or reasoning text the host saw, whichever came first (a real gateway leaves
    /// only the latter).
    pub fn first_token(&self, played: &Played) -> Option<Instant> {
        let from_gateway = self.gateway.and_then(|gw| {
            let start = gw.started_at();
            // Records are in whole ms: a request of this step can read up to 1 ms early.
            let since = played.pushed_at.checked_sub(Duration::from_millis(1));
            gw.requests()
                .iter()
                .filter(|r| since.is_none_or(|s| start + Duration::from_millis(r.at_ms) >= s))
                .find_map(|r| r.emitted_tokens.first())
                .map(|(at_ms, _)| start + Duration::from_millis(*at_ms))
        });
        match (from_gateway, played.first_text) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// First token → the first card text DingTalk shows (the emulator's record of the first
    /// non-empty update), at millisecond resolution.
    pub fn first_visible_latency(&self, played: &Played, view: &StepView) -> Option<Duration> {
        let first_token = self.first_token(played)?;
        let visible = view.cards.first()?.first_visible_ms?;
        let visible = self.emulator + Duration::from_millis(visible);
        Some(visible.saturating_duration_since(first_token))
    }
}

/// One reply's line of the summary.
pub struct Reply {
    /// The step that was played.
    pub played: Played,
    /// How it looked at the end.
    pub view: StepView,
    /// First token → first visible card text.
    pub latency: Option<Duration>,
}

/// Everything the summary reports.
pub struct Report<'a> {
    /// The replies, in order.
    pub replies: &'a [Reply],
    /// Every DingTalk call the emulator recorded.
    pub calls: &'a [Call],
    /// Every press of a card button the emulator recorded.
    pub presses: &'a [CardPress],
    /// The skill's `info` JSON (its own counters), if it could be read.
    pub info: Option<Value>,
    /// The emulator's flow-control limit (calls per second per API), if on.
    pub emulator_qps: Option<u32>,
    /// The host logger's level during the demo.
    pub log_level: &'a str,
    /// Log lines written during the demo.
    pub log_lines: u64,
    /// The stand-up's line ([`Standup::summary_line`](super::standup::Standup::summary_line)),
    /// when it was played.
    pub standup: Option<String>,
}

/// The summary's lines.
pub fn lines(report: &Report<'_>) -> Vec<String> {
    let mut out = vec![String::new(), "Summary".to_owned()];
    out.push(format!(
        "  {:<6}{:<12}{:>6}{:>15}{:>9}   DingTalk calls",
        "reply", "outcome", "chars", "first visible", "time"
    ));
    for r in report.replies {
        let outcome = match &r.played.ending {
            Ending::Ended { outcome, .. } => r.played.outcome(&r.view).unwrap_or(outcome),
            Ending::Refused(_) => "refused",
            Ending::Interrupted => "interrupted",
            Ending::TimedOut(_) => "no end",
        };
        let chars = if r.view.cards.is_empty() {
            "-".to_owned()
        } else {
            r.view.chars().to_string()
        };
        let latency = r.latency.map_or("-".to_owned(), millis);
        out.push(format!(
            "  {:<6}{:<12}{:>6}{:>15}{:>9}   {}",
            r.played.label(),
            outcome,
            chars,
            latency,
            seconds(r.played.elapsed()),
            calls_breakdown(&r.view.calls)
        ));
    }

    out.push(String::new());
    out.push(format!(
        "  {:<44}{:>6}{:>6}",
        "DingTalk calls by kind (emulator record)", "calls", "403"
    ));
    let counts = by_kind(report.calls);
    for kind in KINDS.into_iter().chain([STORAGE_GET]) {
        let (n, forbidden) = counts.get(kind).copied().unwrap_or((0, 0));
        if n == 0 && (LISTED_WHEN_USED.contains(&kind) || kind == STORAGE_GET) {
            continue;
        }
        let name = if kind == STORAGE_GET {
            "file storage GET (not an OpenAPI call)"
        } else {
            kind
        };
        out.push(format!("    {name:<42}{n:>6}{forbidden:>6}"));
    }
    let forbidden: u64 = counts.values().map(|(_, f)| f).sum();
    out.push(format!(
        "    {:<42}{:>6}{:>6}",
        "total",
        report.calls.len(),
        forbidden
    ));
    out.push(match report.emulator_qps {
        Some(qps) => format!(
            "  403 answers: {forbidden} (the emulator answers 403 QpsLimit above {qps} calls/s per API)"
        ),
        None => format!("  403 answers: {forbidden}"),
    });
    if let Some(line) = plugin_counts(report) {
        out.push(line);
    }
    if let Some(line) = presses_line(report) {
        out.push(line);
    }
    if let Some(line) = &report.standup {
        out.push(line.clone());
    }

    let latencies: Vec<String> = report
        .replies
        .iter()
        .filter_map(|r| {
            r.latency
                .map(|d| format!("{} {}", r.played.label(), millis(d)))
        })
        .collect();
    if !latencies.is_empty() {
        out.push(format!(
            "  first visible (first token → first card text, from the records): {}",
            latencies.join(", ")
        ));
    }
    out.push(format!(
        "  logs: host and plugin log lines → stderr, host logger at {}: {} line{}{}",
        report.log_level,
        report.log_lines,
        if report.log_lines == 1 { "" } else { "s" },
        if report.log_level == "warn" {
            " (--verbose: info)"
        } else {
            ""
        }
    ));
    if report.log_level != "warn" {
        out.extend(LOG_NUMBERS.iter().map(|l| (*l).to_owned()));
    }
    out
}

/// With the logs shown (`--verbose`): how the numbers in their reply lines relate to the ones
/// above.
const LOG_NUMBERS: [&str; 5] = [
    "    the reply lines in the log count some things differently:",
    "      calls= token= …    the same as the DingTalk calls column above (token= is a count)",
    "      chars=             the answer alone; the cards above also count the reasoning shown over it",
    "      first_visible_ms=  from the plugin taking the message; \"first visible\" above starts at the first token",
    "      first_card_ms=     from the host receiving the message; \"card delivered … after\" starts at its push",
];

/// `card presses (emulator record): #6 Alice 停止回答 → answered, card ended stopped`, when a
/// button was pressed.
fn presses_line(report: &Report<'_>) -> Option<String> {
    if report.presses.is_empty() {
        return None;
    }
    let parts: Vec<String> = report
        .presses
        .iter()
        .map(|p| {
            let reply = report
                .replies
                .iter()
                .find(|r| r.played.stop.as_ref().is_some_and(|s| s.seq == p.seq));
            let status = match p.status {
                PressStatus::Pending => "not answered",
                PressStatus::Answered => "answered",
                PressStatus::Failed => "failed",
            };
            let who = if p.user_id == super::script::USER_STAFF_ID {
                super::script::USER_NICK
            } else {
                p.user_id.as_str()
            };
            match reply {
                Some(r) => format!(
                    "#{} {who} {} → {status}, the reply {}",
                    r.played.index,
                    p.action_ids.join(","),
                    r.played.outcome(&r.view).unwrap_or("did not end")
                ),
                None => format!("{who} {} → {status}", p.action_ids.join(",")),
            }
        })
        .collect();
    Some(format!(
        "  card presses (emulator record): {}",
        parts.join("; ")
    ))
}

/// The plugin's own count of its calls (`info`), next to the record.
fn plugin_counts(report: &Report<'_>) -> Option<String> {
    let calls = report.info.as_ref()?.get("dingtalk_calls")?;
    let total = calls.get("total")?.as_u64()?;
    let qps = calls.get("qps_limited")?.as_u64()?;
    let host = report
        .calls
        .iter()
        .filter(|c| c.kind == ApiKind::StreamConnectionOpen)
        .count() as u64;
    let storage = report.calls.iter().filter(|c| !is_api_call(c)).count() as u64;
    let recorded = report.calls.len() as u64;
    let sum = total + host + storage;
    let agrees = if sum == recorded {
        "matching the record".to_owned()
    } else {
        format!("but the record has {recorded}")
    };
    let storage = if storage > 0 {
        format!(
            " + {storage} file GET{} from storage",
            if storage == 1 { "" } else { "s" }
        )
    } else {
        String::new()
    };
    Some(format!(
        "  cross-check: the plugin counted {total} calls ({qps} got 403) + the host's {host} connections/open{storage} = {sum}, {agrees}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(seq: u64, kind: ApiKind, status: u16) -> Call {
        Call {
            seq,
            at_ms: seq,
            took_ms: 0,
            kind,
            method: "POST".into(),
            path: "/".into(),
            status,
            error_code: None,
            request: Value::Null,
            out_track_id: None,
            app_key: None,
        }
    }

    #[test]
    fn calls_are_grouped_by_kind_with_403s() {
        let calls = [
            call(1, ApiKind::StreamConnectionOpen, 200),
            call(2, ApiKind::AccessToken, 200),
            call(3, ApiKind::CreateAndDeliver, 200),
            call(4, ApiKind::StreamingUpdate, 403),
            call(5, ApiKind::StreamingUpdate, 200),
        ];
        assert_eq!(
            calls_breakdown(&calls),
            "5: token 1, create 1, stream 2, stream-connection-open 1"
        );
        assert_eq!(by_kind(&calls)["stream"], (2, 1));
        assert_eq!(calls_breakdown(&[]), "0");
        // A user's picture: one OpenAPI call for the link, and a GET from storage that is not one.
        let picture = [
            call(6, ApiKind::MessageFileDownload, 200),
            call(7, ApiKind::MessageFileGet, 200),
            call(8, ApiKind::CreateAndDeliver, 200),
        ];
        assert_eq!(calls_breakdown(&picture), "2: create 1, file download 1");
    }
}
