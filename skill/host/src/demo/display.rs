//! The demo's terminal output: a live view of the AI Card redrawn as it fills in (when stdout is
//! a terminal), or plain lines (`--plain`, or stdout is a pipe or file).
//!
//! The live view uses `indicatif` rather than raw `crossterm` cursor control: its draw target
//! already does what a redrawn multi-line region needs (counting wrapped and double-width CJK
//! lines, clearing exactly the previous frame, throttling redraws to 20 Hz, staying quiet when
//! the target is not a terminal), and `ProgressBar::suspend` lets log lines print above the
//! live region instead of tearing it. This module only produces the frame's lines; `console`
//! (indicatif's own terminal layer) gives the terminal size, text widths and styles.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use console::{measure_text_width, style, Term};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use openclaw_dingtalk_emulator::dingtalk::CardState;

use super::format::{millis, seconds, state_name, states_line};
use super::record::{CardView, Ending, Played, StepView, StopPress};
use super::script::{Action, Step, ALICE};
use super::standup;
use crate::logger;

/// Spinner frames of the live status line.
const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/// Where the demo's output goes.
pub struct Display {
    live: Option<Live>,
}

/// The live view's state.
struct Live {
    /// The bar of the step in progress (shared with the log suspender).
    bar: Arc<Mutex<Option<ProgressBar>>>,
}

impl Display {
    /// A live display when stdout is a terminal (and not `TERM=dumb`) and `plain` is off;
    /// plain lines otherwise.
    pub fn new(plain: bool) -> Display {
        let term = Term::stdout();
        let live = (!plain
            && term.is_term()
            && std::env::var("TERM").map_or(true, |t| t != "dumb"))
        .then(|| {
            let bar: Arc<Mutex<Option<ProgressBar>>> = Arc::default();
            let current = bar.clone();
            logger::set_suspend(Some(Arc::new(move |write: &mut dyn FnMut()| {
                let bar = current.lock().unwrap_or_else(|p| p.into_inner()).clone();
                match bar {
                    Some(bar) => bar.suspend(write),
                    None => write(),
                }
            })));
            Live { bar }
        });
        Display { live }
    }

    /// True for the live terminal view.
    pub fn is_live(&self) -> bool {
        self.live.is_some()
    }

    /// A permanent line.
    pub fn line(&self, text: &str) {
        self.clear_live();
        println!("{text}");
    }

    /// A permanent line, dimmed on a terminal.
    pub fn note(&self, text: &str) {
        self.clear_live();
        if self.is_live() {
            println!("{}", style(text).dim().for_stdout());
        } else {
            println!("{text}");
        }
    }

    /// Removes the live card area, if one is drawn.
    fn clear_live(&self) {
        if let Some(live) = &self.live {
            if let Some(bar) = live.bar.lock().unwrap_or_else(|p| p.into_inner()).take() {
                bar.finish_and_clear();
            }
        }
    }

    /// A step begins: the writer's line, then (live) the card area.
    pub fn step_started(&mut self, index: usize, total: usize, step: &Step) {
        let who = if step.who == ALICE {
            "you ›".to_owned()
        } else {
            format!("{} ›", step.who.nick)
        };
        self.started(&format!("[{index}/{total}]"), &who, step.text, step.caption);
    }

    /// The stand-up schedule's tick at `at` (`HH:MM:SS`) begins: its line, then (live) the card
    /// area, counting down to the tick.
    pub fn tick_started(&mut self, index: usize, total: usize, at: &str) {
        self.started(
            &format!("[{index}/{total}]"),
            &format!("⏰ schedule {} ›", standup::NAME),
            &format!("tick at {at} ({})", standup::TIME_ZONE),
            "the robot posts one summary card of the collected messages on its own: the prompt and the messages go to the gateway, the answer streams into the card",
        );
    }

    /// A block begins: `label who text`, the caption, then (live) the card area.
    fn started(&mut self, label: &str, who: &str, text: &str, caption: &str) {
        let Some(live) = &self.live else {
            println!("\n{label} {who} {text}");
            println!("      · {caption}");
            return;
        };
        println!();
        println!(
            "{} {} {}",
            style(label).dim().for_stdout(),
            style(who).bold().cyan().for_stdout(),
            style(sanitize(text)).bold().for_stdout()
        );
        println!("      {}", style(format!("· {caption}")).dim().for_stdout());
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stdout());
        if let Ok(s) = ProgressStyle::with_template("{msg}") {
            bar.set_style(s);
        }
        *live.bar.lock().unwrap_or_else(|p| p.into_inner()) = Some(bar);
    }

    /// The reply's first card was created (plain output says so; the live view shows it).
    pub fn card_created(&mut self, played: &Played) {
        if !self.is_live() {
            println!(
                "  card delivered to the group (processing) after {}",
                seconds(played.elapsed())
            );
        }
    }

    /// The asker pressed the card's stop button: a permanent line (above the live card area).
    pub fn stop_pressed(&mut self, played: &Played, press: &StopPress) {
        let text = format!(
            "  ⏹ {} presses 「{}」 on the card after {}, with {} characters shown (card callback, press #{})",
            super::script::USER_NICK,
            sanitize(&press.label),
            seconds(press.at - played.pushed_at),
            press.chars_shown,
            press.seq
        );
        let bar = self
            .live
            .as_ref()
            .and_then(|live| live.bar.lock().unwrap_or_else(|p| p.into_inner()).clone());
        match bar {
            Some(bar) => bar.println(style(text).yellow().for_stdout().to_string()),
            None => println!("{text}"),
        }
    }

    /// Redraws the card area (live only).
    pub fn step_progress(&mut self, played: &Played, view: &StepView) {
        let Some(live) = &self.live else { return };
        let bar = live.bar.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(bar) = bar {
            let (rows, cols) = Term::stdout().size();
            bar.set_message(live_frame(played, view, rows as usize, cols as usize));
        }
    }

    /// A step ended: the card as it finally looks, the states it went through, the numbers.
    pub fn step_finished(&mut self, played: &Played, view: &StepView, latency: Option<Duration>) {
        self.clear_live();
        let width = self
            .is_live()
            .then(|| (Term::stdout().size().1 as usize).max(20));
        for line in final_block(played, view, latency, width) {
            println!("{line}");
        }
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        if self.is_live() {
            logger::set_suspend(None);
            self.clear_live();
        }
    }
}

/// The live frame: the latest card's last lines that fit, and a status line.
fn live_frame(played: &Played, view: &StepView, rows: usize, cols: usize) -> String {
    let width = cols.saturating_sub(3).max(10);
    let body_max = rows.saturating_sub(5).clamp(3, 40);
    let elapsed = played.elapsed();
    // Before the tick a schedule's block counts down to it.
    let to_tick = (played.action == Action::Tick)
        .then(|| {
            played
                .pushed_at
                .saturating_duration_since(std::time::Instant::now())
        })
        .filter(|left| !left.is_zero());
    let turning = to_tick.unwrap_or(elapsed);
    let spinner = SPINNER[(turning.as_millis() / 80) as usize % SPINNER.len()];
    let mut out = Vec::new();
    let (title, body) = match view.cards.last() {
        Some(card) => {
            let n = view.cards.len();
            let title = if n > 1 {
                format!("AI Card {n} of {n}")
            } else {
                "AI Card".to_owned()
            };
            (title, card_lines(&card.text, Some(width), true))
        }
        None if !view.messages.is_empty() => (
            "message".to_owned(),
            card_lines(&view.messages.join("\n\n"), Some(width), true),
        ),
        None => ("AI Card".to_owned(), Vec::new()),
    };
    out.push(format!(
        "{} {}",
        style("╭─").dim().for_stdout(),
        style(title).bold().for_stdout()
    ));
    if body.len() > body_max {
        let hidden = body.len() - (body_max - 1);
        out.push(format!(
            "{} {}",
            style("│").dim().for_stdout(),
            style(format!("… {hidden} more lines above"))
                .dim()
                .for_stdout()
        ));
        out.extend(
            body[hidden..]
                .iter()
                .map(|l| format!("{} {l}", style("│").dim().for_stdout())),
        );
    } else if body.is_empty() {
        out.push(format!(
            "{} {}",
            style("│").dim().for_stdout(),
            style("…").dim().for_stdout()
        ));
    } else {
        out.extend(
            body.iter()
                .map(|l| format!("{} {l}", style("│").dim().for_stdout())),
        );
    }
    let state = match (view.state(), to_tick) {
        (Some(state), _) => styled_state(state),
        (None, _) if !view.messages.is_empty() => style("sent").green().for_stdout().to_string(),
        (None, Some(left)) => style(format!("tick in {:.1} s", left.as_secs_f64()))
            .yellow()
            .for_stdout()
            .to_string(),
        (None, None) => style("waiting for the card")
            .yellow()
            .for_stdout()
            .to_string(),
    };
    out.push(format!(
        "{} {spinner} {state} · {} chars · {} · {:.1} s",
        style("╰─").dim().for_stdout(),
        view.chars(),
        calls_label(view.calls.len()),
        elapsed.as_secs_f64()
    ));
    out.join("\n")
}

fn styled_state(state: CardState) -> String {
    let name = style(state_name(state)).for_stdout();
    match state {
        CardState::Processing => name.yellow(),
        CardState::Inputting => name.cyan(),
        CardState::Finished => name.green(),
        CardState::Failed => name.red(),
    }
    .to_string()
}

fn calls_label(n: usize) -> String {
    format!("{n} DingTalk call{}", if n == 1 { "" } else { "s" })
}

/// The permanent block of a finished step. `width` wraps and styles for a terminal; `None`
/// prints the text as it is (plain output).
fn final_block(
    played: &Played,
    view: &StepView,
    latency: Option<Duration>,
    width: Option<usize>,
) -> Vec<String> {
    let styled = width.is_some();
    let text_width = width.map(|w| w.saturating_sub(3).max(10));
    let bar = |s: &str| {
        if styled {
            style(s).dim().for_stdout().to_string()
        } else {
            s.to_owned()
        }
    };
    let mut out = Vec::new();
    let n = view.cards.len();
    for (i, card) in view.cards.iter().enumerate() {
        let title = if n > 1 {
            format!("AI Card {} of {n}", i + 1)
        } else {
            "AI Card".to_owned()
        };
        out.push(format!(
            "{} {title}: {}",
            bar("┌─"),
            states_of(card, styled)
        ));
        for line in card_lines(&card.text, text_width, styled) {
            out.push(format!("{} {line}", bar("│")));
        }
    }
    for message in &view.messages {
        out.push(format!("{} robot message (session webhook):", bar("┌─")));
        for line in card_lines(message, text_width, styled) {
            out.push(format!("{} {line}", bar("│")));
        }
    }
    if view.cards.is_empty() && view.messages.is_empty() {
        out.push(format!(
            "{} {}",
            bar("┌─"),
            match played.ending {
                Ending::Interrupted => "(nothing in the chat: Ctrl-C came before the robot took the message; unacknowledged, DingTalk would deliver it again)",
                _ => "(nothing shown in the chat)",
            }
        ));
    }
    let outcome = match &played.ending {
        Ending::Ended { outcome, .. } => played.outcome(view).unwrap_or(outcome).to_owned(),
        Ending::Refused(why) => format!("refused: {}", sanitize(why)),
        Ending::Interrupted => "interrupted (Ctrl-C)".to_owned(),
        Ending::TimedOut(limit) => format!("no end within {}", seconds(*limit)),
    };
    let stopped = played.outcome(view) == Some("stopped");
    let mut facts = vec![outcome];
    if let Some(press) = &played.stop {
        facts.push(format!(
            "stop pressed after {}",
            seconds(press.at - played.pushed_at)
        ));
    }
    if !view.cards.is_empty() {
        facts.push(format!("{} chars", view.chars()));
    }
    facts.push(calls_label(view.calls.len()));
    if let Some(latency) = latency {
        facts.push(format!("first visible {}", millis(latency)));
    }
    facts.push(seconds(played.elapsed()));
    if let Ending::Ended {
        outcome: "failed",
        detail,
    } = &played.ending
    {
        if !stopped {
            facts.push(format!("reason: {}", sanitize(detail)));
        }
    }
    out.push(format!("{} {}", bar("└─"), facts.join(" · ")));
    out
}

fn states_of(card: &CardView, styled: bool) -> String {
    if !styled {
        return states_line(&card.states);
    }
    card.states
        .iter()
        .map(|s| styled_state(*s))
        .collect::<Vec<_>>()
        .join(" → ")
}

/// A card's text as terminal lines: control characters removed; with `width`, wrapped to it
/// (display width, so CJK counts double); with `styled`, headings bold, quotes (reasoning)
/// dim, code blocks cyan.
pub fn card_lines(text: &str, width: Option<usize>, styled: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_fence = false;
    for raw in sanitize(text).split('\n') {
        let trimmed = raw.trim_start();
        let fence = trimmed.starts_with("```") || trimmed.starts_with("~~~");
        let kind = if fence || in_fence {
            LineKind::Code
        } else if trimmed.starts_with('#') {
            LineKind::Heading
        } else if trimmed.starts_with('>') {
            LineKind::Quote
        } else {
            LineKind::Text
        };
        if fence {
            in_fence = !in_fence;
        }
        let pieces = match width {
            Some(w) => wrap(raw, w),
            None => vec![raw.to_owned()],
        };
        for piece in pieces {
            out.push(if styled { kind.paint(&piece) } else { piece });
        }
    }
    while out.last().is_some_and(|l| l.trim().is_empty()) {
        out.pop();
    }
    let leading = out.iter().take_while(|l| l.trim().is_empty()).count();
    out.split_off(leading)
}

#[derive(Clone, Copy)]
enum LineKind {
    Text,
    Heading,
    Quote,
    Code,
}

impl LineKind {
    fn paint(self, line: &str) -> String {
        let s = style(line).for_stdout();
        match self {
            LineKind::Text => line.to_owned(),
            LineKind::Heading => s.bold().to_string(),
            LineKind::Quote => s.dim().italic().to_string(),
            LineKind::Code => s.cyan().to_string(),
        }
    }
}

/// Cuts a line into pieces of at most `width` display columns.
fn wrap(line: &str, width: usize) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut current = String::new();
    let mut used = 0;
    let mut buf = [0u8; 4];
    for c in line.chars() {
        let w = measure_text_width(c.encode_utf8(&mut buf));
        if used + w > width && !current.is_empty() {
            pieces.push(std::mem::take(&mut current));
            used = 0;
        }
        current.push(c);
        used += w;
    }
    pieces.push(current);
    pieces
}

/// Text from the chat (a real model's answer, too) without control characters: tabs become
/// spaces, other C0/C1 controls (escape sequences included) are dropped.
pub fn sanitize(text: &str) -> String {
    text.chars()
        .filter_map(|c| match c {
            '\n' => Some("\n".to_owned()),
            '\t' => Some("    ".to_owned()),
            c if c.is_control() => None,
            c => Some(c.to_string()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_counts_double_width_characters() {
        assert_eq!(wrap("abcdef", 4), ["abcd", "ef"]);
        assert_eq!(wrap("你好世界", 5), ["你好", "世界"]);
        assert_eq!(wrap("", 4), [""]);
    }

    #[test]
    fn control_characters_never_reach_the_terminal() {
        assert_eq!(sanitize("a\x1b[2Jb\tc\r\nd"), "a[2Jb    c\nd");
    }

    #[test]
    fn plain_card_lines_keep_the_markdown() {
        let lines = card_lines("\n\n## T\n\n```rust\nfn x() {}\n```\n\n", None, false);
        assert_eq!(lines, ["## T", "", "```rust", "fn x() {}", "```"]);
    }
}
