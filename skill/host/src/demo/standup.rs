//! The demo's stand-up: a collecting schedule (`schedules:` with `collect:`) on the demo group.
//!
//! Three colleagues post messages tagged `#standup`; the robot stores each one for the schedule
//! and answers it only with a short acknowledgement (a plain message, no card, no model). At the
//! schedule's next tick the robot posts, on its own, one summary card into the group: the
//! schedule's prompt with the collected messages (nick and text, in order) goes to the gateway,
//! and the answer streams into the card like any other. The built-in fake gateway echoes the
//! prompt, so its card shows the collected lines; the demo also says how many of them the
//! gateway's request carried (the fake gateway's record). A real gateway's model writes the
//! summary.
//!
//! The terminal demo's schedule ticks every 5 s (`*/5 * * * * *`: six fields, seconds first) and
//! says nothing when nothing was collected (`when_empty: skip`), so the ticks during the earlier
//! steps pass unseen and the summary comes at most a few seconds after the third message. A
//! fixed tick computed at the start would race the earlier steps (a real model may take
//! minutes); a short period does not. Before the colleagues post, [`make_room`] makes sure the
//! next tick is at least [`LEAD`] away (else it waits until the plugin has run that tick, as its
//! `info` shows), so one tick finds all three. The simulator (`--web`) has the same schedule
//! every 2 minutes ([`WEB_CRON`]).

use std::collections::HashSet;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use openclaw_dingtalk_emulator::dingtalk::{CardState, DingTalkEmulator, STOP_BUTTON_ID};
use openclaw_dingtalk_emulator::gateway::FakeGateway;
use openclaw_skill_abi::Skill;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::display::Display;
use super::format::millis;
use super::peers::CONTENT_KEY;
use super::record::{visible_text, Ending, Played, StepView};
use super::script::{self, Action, Step};
use super::step::Stage;

/// The schedule's name.
pub const NAME: &str = "standup";
/// The tag that makes a group message a stand-up message.
pub const TAG: &str = "#standup";
/// The terminal demo's pattern: every 5 seconds (seconds first).
pub const DEMO_CRON: &str = "*/5 * * * * *";
/// The period of [`DEMO_CRON`], in seconds.
const DEMO_PERIOD_SECS: u64 = 5;
/// The simulator's pattern: every 2 minutes, on the minute.
pub const WEB_CRON: &str = "0 */2 * * * *";
/// The time zone the patterns are read in (the plugin's default, written out).
pub const TIME_ZONE: &str = "Asia/Shanghai";
/// Shanghai's offset from UTC (no daylight saving time).
const SHANGHAI_OFFSET_SECS: u64 = 8 * 3600;
/// The colleagues post only when the next tick is at least this far away: their three
/// acknowledgements take milliseconds, so one tick finds all three messages.
pub const LEAD: Duration = Duration::from_secs(2);
/// How often the plugin's `info` is read while waiting for a close tick to pass.
const POLL: Duration = Duration::from_millis(50);
/// How long after a close tick's time the wait for the plugin to show it gives up (and the
/// colleagues post anyway).
const TICK_GRACE: Duration = Duration::from_secs(3);
/// How often the display is refreshed while nothing is recorded (countdown, spinner).
const REFRESH: Duration = Duration::from_millis(80);
/// How long the card may take to drop its stop button after it ended (the plugin's last call).
const SETTLE: Duration = Duration::from_secs(5);

/// What the fake gateway is asked at the tick: the summary request (its `PACE` lets the card
/// fill in visibly; the fake echoes the prompt with the collected lines).
const FAKE_PROMPT: &str = "请按人整理今天的站会：昨天、今天、阻碍。 PACE:30";
/// What a real gateway's model is asked at the tick.
const REAL_PROMPT: &str = "请按人整理今天的站会：每人一行，写出昨天做了什么、今天计划做什么、有什么阻碍；最后用一句话列出需要协调的事项。";

/// The `schedules:` value of the demo's manifest: the stand-up on the demo group, ticking by
/// `cron`, with the prompt for the fake gateway (`fake_gateway`) or for a real model.
pub fn schedules(cron: &str, fake_gateway: bool) -> Value {
    json!([{
        "name": NAME,
        "cron": cron,
        "time_zone": TIME_ZONE,
        "groups": [script::GROUP_ID],
        "prompt": if fake_gateway { FAKE_PROMPT } else { REAL_PROMPT },
        "collect": { "tag": TAG, "when_empty": "skip" },
    }])
}

/// The intro's line about the schedule.
pub fn intro_line() -> String {
    format!(
        "  schedule  {NAME}: collects the group's {TAG} messages; each tick (cron {DEMO_CRON}, {TIME_ZONE}) \
         posts one summary card of them, or nothing when there are none"
    )
}

/// The first tick of [`DEMO_CRON`] strictly after `t`: the next whole multiple of 5 s (in any
/// time zone whose offset is whole minutes).
pub fn next_tick(t: SystemTime) -> SystemTime {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    UNIX_EPOCH + Duration::from_secs((secs / DEMO_PERIOD_SECS + 1) * DEMO_PERIOD_SECS)
}

/// `HH:MM:SS` of `t` in Shanghai, as the plugin's log and `info` write a tick.
pub fn clock(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) + SHANGHAI_OFFSET_SECS;
    format!(
        "{:02}:{:02}:{:02}",
        secs / 3600 % 24,
        secs / 60 % 60,
        secs % 60
    )
}

/// The monotonic instant of the wall-clock time `t`.
pub fn instant_of(t: SystemTime) -> Instant {
    let (wall, now) = (SystemTime::now(), Instant::now());
    match t.duration_since(wall) {
        Ok(ahead) => now + ahead,
        Err(behind) => now.checked_sub(behind.duration()).unwrap_or(now),
    }
}

/// The stand-up's last tick as the plugin's `info` shows it (`2026-11-30 09:30:05 CST`).
fn last_tick(skill: &Skill) -> Option<String> {
    let info: Value = serde_json::from_str(&skill.info().ok()?).ok()?;
    let schedule = info["schedules"]
        .as_array()?
        .iter()
        .find(|s| s["name"] == NAME)?;
    schedule["last_tick"].as_str().map(str::to_owned)
}

/// Before the colleagues post: when the schedule's next tick is less than [`LEAD`] away, waits
/// until the plugin has run it (its `info` shows that tick as the last one; with nothing
/// collected it posted nothing), so the three messages all go to the tick after it. `false` on
/// Ctrl-C.
pub async fn make_room(skill: &Skill, display: &Display, interrupt: &CancellationToken) -> bool {
    let now = SystemTime::now();
    let next = next_tick(now);
    let left = next.duration_since(now).unwrap_or_default();
    if left >= LEAD {
        return true;
    }
    display.note(&format!(
        "  ⏰ the schedule's next tick ({}) is {} away: the colleagues post once it has passed",
        clock(next),
        millis(left)
    ));
    let at = clock(next);
    let give_up = tokio::time::Instant::now() + left + TICK_GRACE;
    loop {
        if last_tick(skill).is_some_and(|t| t.contains(&at)) {
            return true;
        }
        if tokio::time::Instant::now() >= give_up {
            display.note("  the plugin's info does not show that tick; the colleagues post now");
            return true;
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = interrupt.cancelled() => return false,
        }
    }
}

/// The demo group's cards (`outTrackId`s), oldest first.
fn group_cards(emulator: &DingTalkEmulator) -> Vec<String> {
    emulator
        .cards()
        .into_iter()
        .filter(|c| c.open_space_id.ends_with(script::GROUP_ID))
        .map(|c| c.out_track_id)
        .collect()
}

/// The tick: waits for the summary card the schedule posts into the group at `tick` (a new
/// card there; it answers no message) and follows it until it ended, redrawing the display on
/// every recorded change. While `pending` says collected messages still wait for a summary
/// (some were collected only after a tick had read the list: that tick summarized the others),
/// the card of the following tick is followed too. Its [`Played`] is timed from the tick.
pub async fn play_tick(
    stage: &mut Stage<'_>,
    index: usize,
    total: usize,
    tick: SystemTime,
    pending: impl Fn() -> bool,
) -> Played {
    let emulator = stage.emulator;
    let mut known: HashSet<String> = group_cards(emulator).into_iter().collect();
    let mut played = Played {
        index,
        msg_id: format!("schedule {NAME}"),
        pushed_at: instant_of(tick),
        calls_before: emulator.calls().last().map_or(0, |c| c.seq),
        messages_before: emulator.sent_messages().len(),
        cards: Vec::new(),
        first_text: None,
        ended_at: None,
        ending: Ending::TimedOut(stage.limit),
        action: Action::Tick,
        stop: None,
    };
    stage.display.tick_started(index, total, &clock(tick));
    let deadline = tokio::time::Instant::from_std(played.pushed_at + stage.limit);
    // When the newest card ended (its final streaming update was recorded).
    let mut settle_until: Option<tokio::time::Instant> = None;
    loop {
        let newest_ended = played
            .cards
            .last()
            .and_then(|id| emulator.card(id))
            .is_some_and(|c| matches!(c.state, CardState::Finished | CardState::Failed));
        if played.cards.is_empty() || newest_ended {
            if let Some(id) = group_cards(emulator)
                .into_iter()
                .find(|id| !known.contains(id))
            {
                known.insert(id.clone());
                played.cards.push(id);
                played.ended_at = None;
                settle_until = None;
                if played.cards.len() == 1 {
                    stage.display.card_created(&played);
                }
            }
        }
        let view = StepView::capture(emulator, &played);
        stage.display.step_progress(&played, &view);
        let card = played.cards.last().and_then(|id| emulator.card(id));
        if let Some(card) =
            card.filter(|c| matches!(c.state, CardState::Finished | CardState::Failed))
        {
            played.ended_at.get_or_insert_with(Instant::now);
            let now = tokio::time::Instant::now();
            let until = *settle_until.get_or_insert(now + SETTLE);
            let button_gone = !card.buttons().iter().any(|b| b.id == STOP_BUTTON_ID);
            let failed = card.state == CardState::Failed;
            if (button_gone || now >= until) && (failed || !pending()) {
                played.ending = if failed {
                    Ending::Ended {
                        outcome: "failed",
                        detail: visible_text(&card.text(CONTENT_KEY))
                            .split_whitespace()
                            .collect::<Vec<_>>()
                            .join(" "),
                    }
                } else {
                    Ending::Ended {
                        outcome: "finished",
                        detail: String::new(),
                    }
                };
                return played;
            }
        }
        let seen = emulator.calls().len();
        tokio::select! {
            _ = emulator.wait_until(|e| e.calls().len() != seen, REFRESH) => {}
            _ = stage.interrupt.cancelled() => {
                played.ending = Ending::Interrupted;
                return played;
            }
            _ = tokio::time::sleep_until(deadline) => {
                played.ending = Ending::TimedOut(stage.limit);
                return played;
            }
        }
    }
}

/// A colleague's message as the schedule collects it: without the tag, trimmed.
pub fn collected_text(text: &str) -> String {
    text.replace(TAG, "").trim().to_owned()
}

/// The text of a gateway request's messages (string contents, and the text parts of the
/// others), one after the other.
fn request_text(body: &Value) -> String {
    let mut out = String::new();
    for message in body["messages"].as_array().into_iter().flatten() {
        match &message["content"] {
            Value::String(s) => out.push_str(s),
            Value::Array(parts) => {
                for part in parts {
                    out.push_str(part["text"].as_str().unwrap_or_default());
                }
            }
            _ => {}
        }
        out.push('\n');
    }
    out
}

/// The colleagues whose stand-up the schedule's requests to the fake gateway since `since`
/// carried (as `[time nick] text` lines), in the order the prompts list them; `None` when the
/// fake gateway recorded no request of the schedule since then.
pub fn in_prompt(
    gateway: &FakeGateway,
    since: Instant,
    steps: &[Step],
) -> Option<Vec<&'static str>> {
    let start = gateway.started_at();
    // Records are in whole ms: the tick's request can read up to 1 ms early.
    let since = since.checked_sub(Duration::from_millis(1)).unwrap_or(since);
    let label = format!("(schedule {NAME})");
    let prompts: Vec<String> = gateway
        .requests()
        .iter()
        .filter(|r| start + Duration::from_millis(r.at_ms) >= since)
        .map(|r| request_text(&r.body))
        .filter(|t| t.contains(&label))
        .collect();
    if prompts.is_empty() {
        return None;
    }
    let text = prompts.concat();
    let mut found: Vec<(usize, &'static str)> = steps
        .iter()
        .filter(|s| s.action == Action::Collect)
        .filter_map(|s| {
            let line = format!("{}] {}", s.who.nick, collected_text(s.text));
            text.find(&line).map(|at| (at, s.who.nick))
        })
        .collect();
    found.sort_unstable();
    Some(found.into_iter().map(|(_, nick)| nick).collect())
}

/// What the stand-up came to, for the summary.
#[derive(Debug, Clone)]
pub struct Standup {
    /// The rows (`#7`…) of the collected messages, with their writers.
    pub collected: Vec<(usize, &'static str)>,
    /// The tick's time (`HH:MM:SS`).
    pub at: String,
    /// Who the fake gateway's prompt carried, when it is the fake.
    pub in_prompt: Option<Vec<&'static str>>,
}

impl Standup {
    /// The summary's line: `schedule standup: #7, #8, #9 collected (acknowledged, no card); its
    /// tick at 10:15:35 posted the summary card (row tick), not an answer to a message; the
    /// gateway's prompt carried 3 of 3 (张三、李四、王五)`.
    pub fn summary_line(&self) -> String {
        let rows: Vec<String> = self
            .collected
            .iter()
            .map(|(n, _)| format!("#{n}"))
            .collect();
        let prompt = match &self.in_prompt {
            Some(nicks) => format!(
                "; the gateway's prompt carried {} of {} ({})",
                nicks.len(),
                self.collected.len(),
                nicks.join("、")
            ),
            None => String::new(),
        };
        format!(
            "  schedule {NAME}: {} collected (acknowledged, no card); its tick at {} posted the summary card (row tick), not an answer to a message{prompt}",
            rows.join(", "),
            self.at
        )
    }

    /// The writers of collected messages the fake gateway's prompt lacked (`李四、王五`), if
    /// any; `None` when all were there or the prompt is not known (a real gateway).
    pub fn missing_from_prompt(&self) -> Option<String> {
        let carried = self.in_prompt.as_ref()?;
        let missing: Vec<&str> = self
            .collected
            .iter()
            .map(|(_, nick)| *nick)
            .filter(|nick| !carried.contains(nick))
            .collect();
        (!missing.is_empty()).then(|| missing.join("、"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_whole_multiples_of_five_seconds_strictly_after() {
        let at = |s: u64, ms: u64| UNIX_EPOCH + Duration::from_millis(s * 1000 + ms);
        assert_eq!(next_tick(at(1_700_000_000, 0)), at(1_700_000_005, 0));
        assert_eq!(next_tick(at(1_700_000_001, 999)), at(1_700_000_005, 0));
        assert_eq!(next_tick(at(1_700_000_004, 999)), at(1_700_000_005, 0));
        // 1_700_000_005 is 2023-11-15 06:13:25 in Shanghai.
        assert_eq!(clock(at(1_700_000_005, 0)), "06:13:25");
        assert_eq!(clock(at(1_699_977_600, 0)), "00:00:00");
    }

    #[test]
    fn the_manifest_schedule_collects_on_the_demo_group() {
        let v = schedules(DEMO_CRON, true);
        assert_eq!(v[0]["cron"], "*/5 * * * * *");
        assert_eq!(v[0]["groups"][0], script::GROUP_ID);
        assert_eq!(v[0]["collect"]["tag"], "#standup");
        assert_eq!(v[0]["collect"]["when_empty"], "skip");
        assert!(v[0]["prompt"].as_str().unwrap().contains("PACE:"));
        assert!(!schedules(WEB_CRON, false)[0]["prompt"]
            .as_str()
            .unwrap()
            .contains("PACE:"));
    }

    #[test]
    fn collected_lines_are_found_in_the_prompt_without_the_tag() {
        assert_eq!(
            collected_text("昨天请假，今天补写单元测试 #standup"),
            "昨天请假，今天补写单元测试"
        );
        let body = json!({"messages": [
            {"role": "system", "content": "你是助理"},
            {"role": "user", "content": [{"type": "text", "text":
                "[DingTalk group | the robot posts this on its own (schedule standup); nobody asked in the chat]\n\
                 请按人整理今天的站会\n[11-30 09:00 张三] 昨天：修复登录超时；今天：联调支付\n"}]},
        ]});
        let text = request_text(&body);
        assert!(text.contains("(schedule standup)"));
        assert!(text.contains("张三] 昨天：修复登录超时；今天：联调支付"));
    }

    #[test]
    fn the_summary_line_names_the_rows_and_the_prompt() {
        let mut standup = Standup {
            collected: vec![(7, "张三"), (8, "李四"), (9, "王五")],
            at: "10:15:35".into(),
            in_prompt: Some(vec!["张三", "李四", "王五"]),
        };
        let line = standup.summary_line();
        assert!(line.contains("#7, #8, #9 collected"), "{line}");
        assert!(line.contains("tick at 10:15:35"), "{line}");
        assert!(
            line.ends_with("carried 3 of 3 (张三、李四、王五)"),
            "{line}"
        );
        assert_eq!(standup.missing_from_prompt(), None);
        standup.in_prompt = Some(vec!["张三"]);
        assert_eq!(standup.missing_from_prompt().as_deref(), Some("李四、王五"));
        standup.in_prompt = None;
        assert_eq!(standup.missing_from_prompt(), None);
        assert!(standup
            .summary_line()
            .ends_with("not an answer to a message"));
    }
}
