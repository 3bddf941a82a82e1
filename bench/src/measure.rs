//! Turning the emulator's and the fake gateway's records into the figures users care about.

use std::collections::HashMap;
use std::time::Duration;

use openclaw_dingtalk_emulator::dingtalk::{ApiKind, Call, Card, CardState, SentMessage};
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
    /// Cards in the run's conversations, and how many of them are Finished.
    pub cards: usize,
    pub cards_finished: usize,
    /// Plain messages the emulator accepted (session webhook and robot sends): markdown fallbacks.
    pub messages: usize,
    /// Cards not Finished/Failed, empty cards, and cards of a second (third…) chain in a conversation.
    pub orphans: usize,
    /// Conversations answered more than once (card chains + plain messages > 1).
    pub answered_twice: usize,
    /// Characters of the answers that no card (nor plain message) of their conversation shows, summed.
    pub missing_chars: usize,
    /// Every DingTalk call of the run (token calls included).
    pub all_calls: usize,
    /// Card calls of the run's cards by kind: create (createAndDeliver / instances / deliver),
    /// streaming, `PUT` instances.
    pub create_calls: usize,
    pub stream_calls: usize,
    pub instance_calls: usize,
    /// First non-empty `content` shown on a card, minus the first model token (ms).
    pub text_after_token: Vec<f64>,
    /// First non-empty `content` shown on a card, minus the creation of that card (ms; the card exists
    /// from the call that created it, also when that call was answered 504).
    pub text_after_card: Vec<f64>,
    /// The update that finalized the answer's last card (streaming `isFinalize`/`isError`, or
    /// `flowStatus` 3/5), minus the last model token (ms).
    pub final_after_last: Vec<f64>,
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

/// What the plugin appends to a card that is continued on the next one (one line; matched loosely so a
/// rewording of the rest of the line does not break the measurement).
const CONTINUATION: &str = "续下一张卡片";

/// Characters compared to tell the first card of an answer from a continuation card.
const CHAIN_PREFIX: usize = 16;

/// A card's text without the continuation line; true when it had one.
fn without_continuation(text: &str) -> (String, bool) {
    let kept: Vec<&str> = text
        .split('\n')
        .filter(|line| !line.contains(CONTINUATION))
        .collect();
    let continued = kept.len() < text.split('\n').count();
    (kept.join("\n"), continued)
}

/// The characters compared between an answer and what a user saw: code-fence lines dropped (the plugin
/// closes and reopens a fence across cards), `<br>` (card markdown line breaks) and whitespace removed.
fn comparable(text: &str) -> Vec<char> {
    let lines: Vec<&str> = text
        .split('\n')
        .filter(|line| !line.trim_start().starts_with("```"))
        .collect();
    lines
        .join("\n")
        .replace("<br/>", "")
        .replace("<br />", "")
        .replace("<br>", "")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// How many characters of `answer` are missing from `shown`: 0 when `answer` is a subsequence of
/// `shown`, else `answer.len()` minus their longest common subsequence.
pub fn missing_chars(answer: &[char], shown: &[char]) -> usize {
    let mut it = shown.iter();
    if answer.iter().all(|c| it.any(|s| s == c)) {
        return 0;
    }
    let mut prev = vec![0u32; shown.len() + 1];
    let mut cur = vec![0u32; shown.len() + 1];
    for a in answer {
        for (j, s) in shown.iter().enumerate() {
            cur[j + 1] = if a == s {
                prev[j] + 1
            } else {
                cur[j].max(prev[j + 1])
            };
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    answer.len() - prev[shown.len()] as usize
}

/// Everything one conversation produced.
struct Conversation<'a> {
    request: Option<&'a GatewayRequest>,
    cards: Vec<&'a Card>,
}

/// The records a run left behind.
pub struct Records<'a> {
    pub cards: &'a [Card],
    pub calls: &'a [Call],
    pub messages: &'a [SentMessage],
    pub requests: &'a [GatewayRequest],
}

/// Computes the figures of a run whose events each used their own group conversation
/// (`cid` list in event order). `interval` (the manifest's card update interval, when the run sets it)
/// enables the calls-per-reply goal check.
pub fn figures(
    cids: &[String],
    outcomes: &HashMap<u64, Outcome>,
    records: Records<'_>,
    timeline: Timeline,
    interval: Option<Duration>,
    plugin_cpu_s: f64,
    peak_rss_mib: f64,
) -> Figures {
    let Records {
        cards,
        calls,
        messages,
        requests,
    } = records;
    let mut f = Figures {
        replies: cids.len(),
        ..Figures::default()
    };
    f.qps_403 = calls.iter().filter(|c| c.status == 403).count();
    f.all_calls = calls.len();
    // Plain messages to the measured conversations (a run's extra traffic is not counted).
    f.messages = messages.iter().filter(|m| cids.contains(&m.target)).count();
    let mut per_card_calls: HashMap<&str, Vec<&Call>> = HashMap::new();
    for c in calls {
        if let Some(id) = c.out_track_id.as_deref() {
            per_card_calls.entry(id).or_default().push(c);
        }
    }
    let dt_ms = |at: u64| timeline.dingtalk_origin_ms + at as f64;
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
        let plain: Vec<&SentMessage> = messages.iter().filter(|m| m.target == *cid).collect();
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
        f.cards += conv.cards.len();
        f.cards_finished += conv
            .cards
            .iter()
            .filter(|c| c.state == CardState::Finished)
            .count();

        // What the gateway sent, and what each card shows of it.
        let sent: String = conv
            .request
            .map(|r| r.emitted_tokens.iter().map(|(_, t)| t.as_str()).collect())
            .unwrap_or_default();
        let answer = comparable(&sent);
        // Chains: a non-empty card that starts with the answer's beginning starts one (a continuation
        // card starts further in); with no answer, every non-empty card counts.
        let mut chains = 0usize;
        let mut shown_cards = String::new();
        for card in &conv.cards {
            let (text, _) = without_continuation(&card.text("content"));
            let shown = comparable(&text);
            let open = !matches!(card.state, CardState::Finished | CardState::Failed);
            if shown.is_empty() || open {
                f.orphans += 1;
            }
            let k = CHAIN_PREFIX.min(shown.len()).min(answer.len());
            if !shown.is_empty() && (answer.is_empty() || shown[..k] == answer[..k]) {
                chains += 1;
            }
            shown_cards.push_str(&text);
            shown_cards.push('\n');
        }
        f.orphans += chains.saturating_sub(1);
        if chains + plain.len() > 1 {
            f.answered_twice += 1;
        }

        let shown_plain: String = plain
            .iter()
            .map(|m| m.text.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        let missing = if conv.cards.is_empty() && plain.is_empty() {
            answer.len()
        } else {
            missing_chars(&answer, &comparable(&shown_cards))
                .min(missing_chars(&answer, &comparable(&shown_plain)))
        };
        f.missing_chars += missing;
        if missing == 0 && (!conv.cards.is_empty() || !plain.is_empty()) && conv.request.is_some() {
            f.complete += 1;
        }

        let conv_calls: Vec<&Call> = conv
            .cards
            .iter()
            .flat_map(|c| {
                per_card_calls
                    .get(c.out_track_id.as_str())
                    .cloned()
                    .unwrap_or_default()
            })
            .collect();
        for c in &conv_calls {
            match c.kind {
                ApiKind::CreateAndDeliver | ApiKind::CreateCard | ApiKind::DeliverCard => {
                    f.create_calls += 1
                }
                ApiKind::StreamingUpdate => f.stream_calls += 1,
                ApiKind::UpdateCardInstance => f.instance_calls += 1,
                _ => {}
            }
        }
        let n_calls = conv_calls.len();
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
        if let (Some(first), Some(last), Some(interval)) =
            (emitted.first(), emitted.last(), interval)
        {
            let duration_ms = last - first;
            let goal = 2 + (duration_ms / interval.as_millis() as f64).ceil() as usize;
            if n_calls > goal {
                f.over_call_goal += 1;
            }
        }

        // First text on any card of the conversation, and the card it appeared on.
        let first_text = conv
            .cards
            .iter()
            .filter_map(|c| {
                c.updates
                    .iter()
                    .find(|u| u.key == "content" && !u.content.trim().is_empty())
                    .map(|u| (u.at_ms, c.created_at_ms))
            })
            .min();
        if let Some((shown_at, created_at)) = first_text {
            if let Some(first_token) = emitted.first() {
                f.text_after_token.push(dt_ms(shown_at) - first_token);
            }
            f.text_after_card.push(shown_at as f64 - created_at as f64);
        }
        // The answer's last card: the last one created that shows text (else the last one).
        let last_card = conv
            .cards
            .iter()
            .rev()
            .find(|c| !without_continuation(&c.text("content")).0.trim().is_empty())
            .or(conv.cards.last());
        if let (Some(card), Some(last_token)) = (last_card, emitted.last()) {
            if let Some(u) = card.updates.iter().find(|u| u.finalize || u.error) {
                f.final_after_last.push(dt_ms(u.at_ms) - last_token);
            }
        }

        let Some(card) = conv.cards.first() else {
            continue;
        };
        let updates: Vec<(f64, usize)> = card
            .updates
            .iter()
            .filter(|u| u.key == "content")
            .map(|u| (dt_ms(u.at_ms), visible_tokens(&u.content)))
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
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    #[test]
    fn missing_characters_after_normalisation() {
        let answer = comparable("第一段。\n\n| a | b |\n```rust\nfn x() {}\n```\nend");
        let card1 = without_continuation(
            "第一段。<br>| a | b |\n```rust\nfn x\n```\n\n*（续下一张卡片 · continued below）*",
        );
        assert!(card1.1);
        let card2 = without_continuation("```rust\n() {}\n```\nend");
        assert!(!card2.1);
        let shown = comparable(&(card1.0 + "\n" + &card2.0));
        assert_eq!(missing_chars(&answer, &shown), 0);
        assert_eq!(missing_chars(&chars("abcdef"), &chars("abdf")), 2);
        assert_eq!(missing_chars(&chars("t14t15t16"), &chars("t14t16")), 3);
        assert_eq!(missing_chars(&chars("abc"), &[]), 3);
    }
}
