//! `openclaw-skill demo`: the whole robot on one machine, no DingTalk tenant and no gateway
//! needed.
//!
//! The DingTalk emulator and the fake OpenClaw gateway start on 127.0.0.1 (or `--gateway` names a
//! real gateway), a temporary manifest points the real plugin at them, and the host's real
//! Stream-mode ingress connects to the emulator. A short scripted conversation in one group then
//! travels the production path: emulator → Stream WebSocket → ingress → plugin → gateway → card
//! updates → emulator. It ends with a stand-up ([`standup`]): three colleagues post tagged
//! messages the robot collects, and the manifest's schedule then posts one summary card of them
//! on its own. The terminal shows each AI Card filling in, then a summary of the DingTalk calls
//! from the emulator's record.

mod display;
mod format;
mod peers;
mod record;
mod script;
mod standup;
mod step;
mod summary;
mod web;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use clap::Args;
use openclaw_skill_abi::Skill;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::host_manifest::{HostSettings, ManifestFile};
use crate::ingress::{self, Dispatcher};
use crate::metrics::Metrics;
use display::Display;
use peers::{GatewayChoice, Peers};
use record::{Ending, Played, StepView};
use step::Stage;
use summary::{Clocks, Reply, Report};

/// How long the Stream connection may take to open.
const CONNECT_LIMIT: Duration = Duration::from_secs(15);
/// How long the skill may take to finalize replies in flight at the end (or after Ctrl-C).
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);
/// The pause between two messages on a terminal, so each finished card can be read.
const READING_PAUSE: Duration = Duration::from_millis(400);
/// Exit status after Ctrl-C (128 + SIGINT).
const INTERRUPTED: u8 = 130;

/// `demo` options.
#[derive(Args, Debug)]
#[command(after_help = "\
The DingTalk emulator and a fake OpenClaw gateway start on 127.0.0.1; a scripted group chat then \
goes through the real plugin and the real Stream-mode ingress, ending with a stand-up (three \
#standup messages the robot collects, then the summary card its schedule posts a few seconds \
later), and the terminal shows each AI Card filling in, then a summary of the DingTalk calls. Nothing leaves this machine unless \
--gateway names another host. Ctrl-C stops the demo: the reply in flight is finalized, the \
summary printed, and the exit status is 130.

With --web the same peers serve the DingTalk simulator page instead (http://127.0.0.1:8765/ by \
default): chat with the robot in groups and 1:1 chats, watch the AI Cards and their DingTalk calls, \
inject faults. It runs until Ctrl-C (exit status 0); see docs/simulator.md.")]
pub struct DemoArgs {
    /// Plugin library [default: $OPENCLAW_DINGTALK_LIBRARY, the install prefix's
    /// lib/openclaw-dingtalk/, next to openclaw-skill (docs/deploy.md)].
    #[arg(long, value_name = "PATH")]
    pub library: Option<PathBuf>,
    /// A real OpenClaw gateway's base URL instead of the built-in fake one (the script then asks
    /// plain questions).
    #[arg(long, value_name = "URL")]
    pub gateway: Option<String>,
    /// The --gateway token [default: $OPENCLAW_API_KEY].
    #[arg(long, value_name = "TOKEN", requires = "gateway")]
    pub gateway_token: Option<String>,
    /// Agent target sent as `model` (gateway.model).
    #[arg(long, default_value = "openclaw/main")]
    pub model: String,
    /// Minimum time between two updates of one card (streaming.card_update_interval_ms).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(100..=60_000))]
    pub interval_ms: u64,
    /// Plain line output even on a terminal (the default when stdout is not a terminal).
    #[arg(long)]
    pub plain: bool,
    /// Show the host's and the plugin's log lines at --log-level (default info) on stderr;
    /// without it only warnings and errors are logged.
    #[arg(long)]
    pub verbose: bool,
    #[command(flatten)]
    pub web: web::WebArgs,
}

impl DemoArgs {
    /// The gateway the plugin talks to: `--gateway` with its token (`--gateway-token`, else
    /// `$OPENCLAW_API_KEY`), or the built-in fake.
    pub fn gateway_choice(&self) -> GatewayChoice {
        GatewayChoice {
            url: self.gateway.clone(),
            token: self.gateway_token.clone().or_else(|| {
                self.gateway
                    .as_ref()
                    .and_then(|_| std::env::var("OPENCLAW_API_KEY").ok())
            }),
            model: self.model.clone(),
        }
    }

    /// The logger level during the demo: warnings only, unless `--verbose`.
    pub fn log_level<'a>(&self, verbose_level: &'a str) -> &'a str {
        if self.verbose {
            verbose_level
        } else {
            "warn"
        }
    }
}

/// Runs the demo; exit status 0 when it played to the end, 130 after Ctrl-C.
pub fn run(args: DemoArgs, log_level: &str) -> Result<ExitCode> {
    if args.web.web {
        return web::run(&args);
    }
    let library = crate::plugin::locate(args.library.as_deref(), None)?;
    let gateway = args.gateway_choice();
    let runtime = crate::runtime::runtime()?;
    let interrupt = CancellationToken::new();
    // Installed before the temporary directory exists, so no signal finds it unhandled.
    let signals = {
        let _context = runtime.enter();
        Signals::install()?
    };
    let signals = runtime.spawn(watch_signals(signals, interrupt.clone()));
    let peers = runtime.block_on(Peers::start(
        &gateway,
        args.interval_ms,
        standup::DEMO_CRON,
        None,
    ))?;
    let manifest = ManifestFile::read(&peers.manifest)?;
    let skill = crate::plugin::start_skill(&manifest, &library)?;
    let settings = manifest.host_settings(&skill.plugin())?;
    let mut display = Display::new(args.plain);
    intro(
        &display,
        &peers,
        &skill,
        &library.path,
        args.interval_ms,
        &args.model,
    );
    let demo = Demo {
        peers: &peers,
        skill: skill.clone(),
        real_gateway: args.gateway.is_some(),
        log_level,
    };
    let played = runtime.block_on(demo.play(settings, &mut display, &interrupt));
    drop(display);
    signals.abort();
    // The followers still parked on the runtime go first, then the skill, then the peers and
    // the temporary directory (the skill's state_dir is inside it).
    drop(runtime);
    drop(skill);
    drop(peers);
    match played? {
        Finish::Completed => Ok(ExitCode::SUCCESS),
        Finish::Interrupted => Ok(ExitCode::from(INTERRUPTED)),
    }
}

/// What the demo runs with, and what it says first.
fn intro(
    display: &Display,
    peers: &Peers,
    skill: &Skill,
    library: &Path,
    interval_ms: u64,
    model: &str,
) {
    let plugin = skill.plugin();
    display.line("openclaw-skill demo: a DingTalk group chat with the robot, on this machine only");
    display.line(&format!(
        "  DingTalk  emulator at {} (OpenAPI, AI Cards, Stream mode; app {})",
        peers.emulator.base_url(),
        peers.emulator.config().app_key
    ));
    match &peers.fake_gateway {
        Some(_) => display.line(&format!(
            "  gateway   fake OpenClaw gateway at {} (trigger words choose its answers)",
            crate::redact::url(&peers.gateway_url)
        )),
        None => display.line(&format!(
            "  gateway   OpenClaw gateway at {} (--gateway), model {model}",
            crate::redact::url(&peers.gateway_url)
        )),
    }
    display.line(&format!(
        "  plugin    {} {} (skill ABI v{}) from {}",
        plugin.name(),
        plugin.version(),
        plugin.abi_version(),
        library.display()
    ));
    display.line(&format!(
        "  cards     at most one update every {interval_ms} ms; reasoning shown above the answer"
    ));
    display.line(&standup::intro_line());
    display.note(&format!(
        "  manifest  {} (removed at exit)",
        peers.manifest.display()
    ));
}

/// How the demo ended.
enum Finish {
    /// Every step played.
    Completed,
    /// Ctrl-C.
    Interrupted,
}

/// The running demo.
struct Demo<'a> {
    peers: &'a Peers,
    skill: Arc<Skill>,
    real_gateway: bool,
    log_level: &'a str,
}

/// What the script got through.
#[derive(Default)]
struct Progress {
    /// The replies that ended, in order.
    replies: Vec<Reply>,
    /// A step that did not end (Ctrl-C, or its limit): shown after the shutdown.
    cut_short: Option<Played>,
    /// Why the demo failed, if it did.
    failure: Option<anyhow::Error>,
    /// Ctrl-C arrived.
    interrupted: bool,
    /// What the stand-up came to, once its tick was played.
    standup: Option<standup::Standup>,
}

impl Demo<'_> {
    /// Starts the ingress, plays the script, shuts down, prints the summary.
    async fn play(
        &self,
        settings: HostSettings,
        display: &mut Display,
        interrupt: &CancellationToken,
    ) -> Result<Finish> {
        let metrics = Metrics::new();
        let (observer, mut notes) = mpsc::unbounded_channel();
        let dispatcher =
            Dispatcher::new(self.skill.clone(), metrics.clone()).with_observer(observer);
        let intake = CancellationToken::new();
        let mut ingress = tokio::spawn({
            let (dispatcher, intake) = (dispatcher.clone(), intake.clone());
            async move { ingress::serve(&settings, dispatcher, metrics, intake).await }
        });

        let mut progress = Progress::default();
        match self.connect(&mut ingress, interrupt).await {
            Ok(true) => {
                display.line(
                    "  ingress   Stream mode: the host's client called connections/open and holds the WebSocket",
                );
                self.play_script(&mut notes, display, interrupt, &mut progress)
                    .await;
            }
            Ok(false) => progress.interrupted = true,
            Err(e) => progress.failure = Some(e),
        }

        // Shut down as `run` does: stop intake, let the skill finalize what is in flight.
        if progress.interrupted {
            display.note(
                "\ninterrupted: stopping intake, letting the reply in flight end (Ctrl-C again exits at once)",
            );
        }
        intake.cancel();
        let served = match ingress.await {
            Ok(result) => result,
            Err(e) => Err(anyhow::anyhow!("ingress task: {e}")),
        };
        let finished = ingress::finish(self.skill.clone(), &dispatcher, SHUTDOWN_DEADLINE).await;
        if let Some(mut played) = progress.cut_short.take() {
            // The shutdown let the reply end or finalized its card: show how it was left.
            while let Ok(note) = notes.try_recv() {
                if let Some(ending) = record::apply(&mut played, note) {
                    played.ending = ending;
                }
            }
            let reply = self.reply(played);
            display.step_finished(&reply.played, &reply.view, reply.latency);
            progress.replies.push(reply);
        }
        self.summarize(&progress.replies, progress.standup.as_ref(), display);
        display.line(if served.is_ok() && finished.is_ok() {
            "  shut down: intake stopped, Stream connection closed, the skill finalized its replies"
        } else {
            "  shut down with errors (below)"
        });

        if let Some(e) = progress.failure {
            return Err(e);
        }
        served.context("ingress")?;
        finished?;
        if progress.interrupted {
            return Ok(Finish::Interrupted);
        }
        let unanswered = progress
            .replies
            .iter()
            .filter(|r| {
                !matches!(
                    r.played.outcome(&r.view),
                    Some("finished" | "replied" | "stopped")
                )
            })
            .count();
        anyhow::ensure!(
            unanswered == 0,
            "{unanswered} of {} replies did not finish (the cards above say why)",
            progress.replies.len()
        );
        if let Some(r) = progress
            .replies
            .iter()
            .find(|r| !r.played.as_expected(&r.view, self.real_gateway))
        {
            let outcome = r.played.outcome(&r.view).unwrap_or("without an outcome");
            anyhow::bail!(
                "reply {} was not {}: {}",
                r.played.label(),
                r.played.expectation(),
                match (r.played.action, &r.played.stop) {
                    (script::Action::StopMidway, None) =>
                        "its card never showed a stop button while it streamed".to_owned(),
                    (script::Action::StopMidway, Some(_)) =>
                        format!("the stop button was pressed, and the reply ended {outcome}"),
                    _ => format!("it ended {outcome}"),
                }
            );
        }
        if let Some(missing) = progress
            .standup
            .as_ref()
            .and_then(|s| s.missing_from_prompt())
        {
            anyhow::bail!("the stand-up summary's prompt lacked {missing}");
        }
        Ok(Finish::Completed)
    }

    /// Waits until the ingress holds an open Stream connection to the emulator; `false` on
    /// Ctrl-C.
    async fn connect(
        &self,
        ingress: &mut tokio::task::JoinHandle<Result<()>>,
        interrupt: &CancellationToken,
    ) -> Result<bool> {
        let open = |e: &openclaw_dingtalk_emulator::dingtalk::DingTalkEmulator| {
            e.stream_connections().iter().any(|c| c.is_open())
        };
        tokio::select! {
            connected = self.peers.emulator.wait_until(open, CONNECT_LIMIT) => {
                anyhow::ensure!(
                    connected,
                    "the Stream connection to the emulator did not open within {} s",
                    CONNECT_LIMIT.as_secs()
                );
                Ok(true)
            }
            served = ingress => Err(match served {
                Ok(Err(e)) => e.context("ingress stopped"),
                Ok(Ok(())) => anyhow::anyhow!("ingress stopped before connecting"),
                Err(e) => anyhow::anyhow!("ingress task: {e}"),
            }),
            _ = interrupt.cancelled() => Ok(false),
        }
    }

    /// Plays the script, one message at a time, then the stand-up schedule's tick (when the
    /// script has stand-up messages), until its end, Ctrl-C or a step's limit.
    async fn play_script(
        &self,
        notes: &mut mpsc::UnboundedReceiver<ingress::ReplyNote>,
        display: &mut Display,
        interrupt: &CancellationToken,
        progress: &mut Progress,
    ) {
        let steps: &[script::Step] = if self.real_gateway {
            &script::REAL_GATEWAY
        } else {
            &script::FAKE_GATEWAY
        };
        let collects = steps.iter().any(|s| s.action == script::Action::Collect);
        let total = steps.len() + usize::from(collects);
        let mut stage = Stage {
            emulator: &self.peers.emulator,
            notes,
            display,
            interrupt,
            limit: script::step_limit(self.real_gateway),
        };
        // When the first stand-up message was sent.
        let mut standup_from: Option<SystemTime> = None;
        let mut collected = Vec::new();
        for (i, step) in steps.iter().enumerate() {
            if step.action == script::Action::Collect && standup_from.is_none() {
                if !standup::make_room(&self.skill, stage.display, interrupt).await {
                    progress.interrupted = true;
                    return;
                }
                standup_from = Some(SystemTime::now());
            }
            let played = step::play(&mut stage, i + 1, total, step).await;
            if !self.keep(played, &mut stage, progress) {
                return;
            }
            if step.action == script::Action::Collect {
                collected.push((i + 1, step.who.nick));
            }
            // The stand-up's acknowledgements are one line each: no pause between them.
            let next = steps.get(i + 1).map(|s| s.action);
            let pause = match next {
                None => false,
                Some(script::Action::Collect) => step.action != script::Action::Collect,
                Some(_) => true,
            };
            if stage.display.is_live() && pause {
                tokio::select! {
                    _ = tokio::time::sleep(READING_PAUSE) => {}
                    _ = interrupt.cancelled() => {
                        progress.interrupted = true;
                        return;
                    }
                }
            }
        }
        let Some(from) = standup_from else { return };
        let tick = standup::next_tick(from);
        let acknowledged = SystemTime::now();
        if standup::next_tick(acknowledged) != tick {
            stage.display.note(&format!(
                "  the acknowledgements took until {}, past the tick at {}: the summary may be split over two ticks",
                standup::clock(acknowledged),
                standup::clock(tick)
            ));
        }
        // Against the fake gateway its record says whether a tick took only some of the
        // messages (one collected after that tick had read the list), so the next tick's card
        // is awaited too.
        let since = standup::instant_of(tick);
        let fake = self.peers.fake_gateway.as_ref();
        let pending = || {
            fake.and_then(|gw| standup::in_prompt(gw, since, steps))
                .is_some_and(|carried| carried.len() < collected.len())
        };
        let played = standup::play_tick(&mut stage, total, total, tick, pending).await;
        if !self.keep(played, &mut stage, progress) {
            return;
        }
        let in_prompt = self
            .peers
            .fake_gateway
            .as_ref()
            .and_then(|gw| standup::in_prompt(gw, since, steps));
        if let Some(nicks) = &in_prompt {
            stage.display.line(&format!(
                "  模型收到 {} 条站会消息 (the schedule's gateway request carried {} collected message{}: {})",
                nicks.len(),
                nicks.len(),
                if nicks.len() == 1 { "" } else { "s" },
                nicks.join("、")
            ));
        }
        progress.standup = Some(standup::Standup {
            collected,
            at: standup::clock(tick),
            in_prompt,
        });
    }

    /// Shows a played step and keeps it in `progress`; `false` (and the step kept as cut
    /// short) when it ended on Ctrl-C or its limit.
    fn keep(&self, played: Played, stage: &mut Stage<'_>, progress: &mut Progress) -> bool {
        match &played.ending {
            Ending::Interrupted => {
                progress.interrupted = true;
                progress.cut_short = Some(played);
                return false;
            }
            Ending::TimedOut(limit) => {
                progress.failure = Some(anyhow::anyhow!(
                    "reply {} did not end within {} s",
                    played.label(),
                    limit.as_secs()
                ));
                progress.cut_short = Some(played);
                return false;
            }
            _ => {}
        }
        let reply = self.reply(played);
        stage
            .display
            .step_finished(&reply.played, &reply.view, reply.latency);
        progress.replies.push(reply);
        true
    }

    /// A played step with what DingTalk shows for it and its first-visible latency.
    fn reply(&self, played: Played) -> Reply {
        let emulator = &self.peers.emulator;
        let view = StepView::capture(emulator, &played);
        let latency = Clocks::of(emulator, self.peers.fake_gateway.as_ref())
            .first_visible_latency(&played, &view);
        Reply {
            played,
            view,
            latency,
        }
    }

    /// Prints the call summary.
    fn summarize(&self, replies: &[Reply], standup: Option<&standup::Standup>, display: &Display) {
        let emulator = &self.peers.emulator;
        // The plugin's records still queued are written before the lines are counted.
        self.skill.plugin().flush_logs();
        let info = self
            .skill
            .info()
            .ok()
            .and_then(|s| serde_json::from_str(&s).ok());
        let calls = emulator.calls();
        let presses = emulator.card_presses();
        let report = Report {
            replies,
            calls: &calls,
            presses: &presses,
            info,
            emulator_qps: emulator.config().qps_limit,
            log_level: self.log_level,
            log_lines: crate::logger::lines_written(),
            standup: standup.map(standup::Standup::summary_line),
        };
        for line in summary::lines(&report) {
            display.line(&line);
        }
    }
}

/// The signals that stop the demo: SIGINT (Ctrl-C), SIGTERM, and SIGHUP (its terminal closed).
struct Signals([tokio::signal::unix::Signal; 3]);

impl Signals {
    /// Installs the handlers (inside the runtime).
    fn install() -> Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        let install = |kind: SignalKind| signal(kind).context("cannot install a signal handler");
        Ok(Signals([
            install(SignalKind::interrupt())?,
            install(SignalKind::terminate())?,
            install(SignalKind::hangup())?,
        ]))
    }

    /// The next signal.
    async fn recv(&mut self) {
        let [int, term, hup] = &mut self.0;
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
            _ = hup.recv() => {}
        }
    }
}

/// Cancels `interrupt` on the first signal; a second one removes the temporary directory and
/// exits at once (status 130).
async fn watch_signals(mut signals: Signals, interrupt: CancellationToken) {
    signals.recv().await;
    interrupt.cancel();
    signals.recv().await;
    crate::logger::set_suspend(None);
    peers::remove_temp_dirs();
    eprintln!("openclaw-skill demo: second signal, exiting without waiting");
    std::process::exit(i32::from(INTERRUPTED));
}
