//! Turning the emulator's and the fake gateway's records into the figures users care about.

use std::collections::HashMap;
use std::time::Duration;

use openclaw_dingtalk_emulator::dingtalk::{ApiKind, Call, Card, CardState};
use openclaw_dingtalk_emulator::gateway::GatewayRequest;

use crate::host::Outcome;

/// Both peers' clocks on the bench's own timeline: `*_origin_ms` is when each server's
/// "ms since start" clock began, in ms since the bench began.
#[derive(Debug, Clone, Copy)]
pub struct Timeline {
    /// DingTalk emulator origin.
    pub dingtalk_origin_ms: f64,
    /// Fake gateway origin.
    pub gateway_origin_ms: f64,
}

/// One run's figures.
#[derive(Debug, Default)]
pub struct Figures {
    pub replies: usize,
    pub finished: usize,
    pub failed: usize,
    pub stuck: usize,
    pub complete: usize,
    pub duplicates: usize,
    pub qps_403: usize,
    pub calls_mean: f64,
    pub calls_max: usize,
    pub over_call_goal: usize,
    pub first_visible: Vec<f64>,
    pub staleness: Vec<f64>,
    pub tokens: usize,
    pub cpu_ms_per_1k_tokens: f64,
    pub peak_rss_mib: f64,
}

/// `p` in 0..=100 of `v` (nearest rank), or NaN.
pub fn percentile(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let rank = ((p / 100.0) * s.len() as f64).ceil().max(1.0) as usize;
    s[rank.min(s.len()) - 1]
}

/// How many `t<i>` tokens a card text shows.
fn visible_tokens(text: &str) -> usize {
    text.split_whitespace()
        .filter(|w| {
            w.strip_prefix('t')
                .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
        })
        .count()
}

/// Everything one conversation produced.
struct Conversation<'a> {
    request: Option<&'a GatewayRequest>,
    cards: Vec<&'a Card>,
}

/// Computes the figures of a run whose events each used their own group conversation
/// (`cid` list in event order) and whose scripts emit `t<i>` tokens.
#[allow(clippy::too_many_arguments)]
pub fn figures(
    cids: &[String],
    outcomes: &HashMap<u64, Outcome>,
    cards: &[Card],
    calls: &[Call],
    requests: &[GatewayRequest],
    timeline: Timeline,
    interval: Duration,
    plugin_cpu_s: f64,
    peak_rss_mib: f64,
) -> Figures {
    let mut f = Figures {
        replies: cids.len(),
        ..Figures::default()
    };
    f.qps_403 = calls.iter().filter(|c| c.status == 403).count();
    let mut per_card_calls: HashMap<&str, usize> = HashMap::new();
    for c in calls {
        if let Some(id) = c.out_track_id.as_deref() {
            *per_card_calls.entry(id).or_default() += 1;
        }
    }
    let mut call_counts = Vec::new();
    for (i, cid) in cids.iter().enumerate() {
        let key = format!("dingtalk:group:{cid}");
        let space = format!("dtv1.card//IM_GROUP.{cid}");
        let conv = Conversation {
            request: requests
                .iter()
                .find(|r| r.headers.get("x-openclaw-session-key") == Some(&key)),
            cards: cards.iter().filter(|c| c.open_space_id == space).collect(),
        };
        let outcome = outcomes.get(&(i as u64 + 1)).cloned().unwrap_or_default();
        // What the user saw: the state of the conversation's last card.
        match conv.cards.last().map(|c| c.state) {
            Some(CardState::Finished) => f.finished += 1,
            Some(CardState::Failed) => f.failed += 1,
            Some(_) => {}
            None => f.stuck += usize::from(outcome.terminal.is_none()),
        }
        let expected_cards = outcome.cards.len().max(1);
        f.duplicates += conv.cards.len().saturating_sub(expected_cards);
        f.stuck += conv
            .cards
            .iter()
            .filter(|c| !matches!(c.state, CardState::Finished | CardState::Failed))
            .count();
        let shown: String = conv
            .cards
            .iter()
            .map(|c| c.text("content"))
            .collect::<Vec<_>>()
            .join("");
        let sent: String = conv
            .request
            .map(|r| r.emitted_tokens.iter().map(|(_, t)| t.as_str()).collect())
            .unwrap_or_default();
        if !conv.cards.is_empty() && shown.contains(sent.trim_end()) {
            f.complete += 1;
        }
        let n_calls: usize = conv
            .cards
            .iter()
            .map(|c| {
                per_card_calls
                    .get(c.out_track_id.as_str())
                    .copied()
                    .unwrap_or(0)
            })
            .sum();
        call_counts.push(n_calls);
        let Some(request) = conv.request else {
            continue;
        };
        let emitted: Vec<f64> = request
            .emitted_tokens
            .iter()
            .map(|(at, _)| timeline.gateway_origin_ms + *at as f64)
            .collect();
        f.tokens += emitted.len();
        if let (Some(first), Some(last)) = (emitted.first(), emitted.last()) {
            let duration_ms = last - first;
            let goal = 2 + (duration_ms / interval.as_millis() as f64).ceil() as usize;
            if n_calls > goal {
                f.over_call_goal += 1;
            }
        }
        let Some(card) = conv.cards.first() else {
            continue;
        };
        let updates: Vec<(f64, usize)> = card
            .updates
            .iter()
            .filter(|u| u.key == "content")
            .map(|u| {
                (
                    timeline.dingtalk_origin_ms + u.at_ms as f64,
                    visible_tokens(&u.content),
                )
            })
            .collect();
        if let (Some(first_token), Some(first_update)) =
            (emitted.first(), updates.iter().find(|u| u.1 > 0))
        {
            f.first_visible.push(first_update.0 - first_token);
        }
        if outcome.terminal.as_deref() == Some("finished") {
            let mut next = 0;
            for (i, t) in emitted.iter().enumerate() {
                while next < updates.len() && updates[next].1 < i + 1 {
                    next += 1;
                }
                if let Some(u) = updates.get(next) {
                    f.staleness.push(u.0 - t);
                }
            }
        }
    }
    f.calls_mean = call_counts.iter().sum::<usize>() as f64 / call_counts.len().max(1) as f64;
    f.calls_max = call_counts.iter().copied().max().unwrap_or(0);
    f.cpu_ms_per_1k_tokens = if f.tokens > 0 {
        plugin_cpu_s * 1000.0 * 1000.0 / f.tokens as f64
    } else {
        f64::NAN
    };
    f.peak_rss_mib = peak_rss_mib;
    let _ = ApiKind::StreamingUpdate;
    f
}
