//! DingTalk ingress: receive robot events (Stream mode or signed HTTP callbacks), hand each raw
//! event to the skill, and follow its reply for logs and metrics; on SIGINT/SIGTERM stop intake
//! and let the skill finalize its cards within the shutdown deadline.

pub mod backoff;
pub mod frames;
pub mod http;
pub mod refusal_log;
pub mod replay;
pub mod signature;
pub mod stream;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use futures_util::StreamExt;
use openclaw_skill_abi::{Chunk, ChunkStream, OcStatus, Skill};
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::host_manifest::{IngressMode, IngressSettings};
use crate::metrics::{self, Metrics};

/// Where an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A Stream-mode CALLBACK frame.
    Stream,
    /// A signed HTTP callback.
    Http,
}

impl Source {
    /// `stream` or `http`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Stream => "stream",
            Source::Http => "http",
        }
    }
}

/// Why the skill did not take an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The event is not a robot message the skill can read (answered 400 over HTTP).
    Invalid(String),
    /// The skill is shutting down (answered 503 over HTTP, so DingTalk retries).
    ShuttingDown,
    /// Anything else (answered 500).
    Failed(String),
}

/// The fields the host reads from an event, for its log line only (the skill parses the event).
#[derive(Debug, Default, Deserialize)]
struct Route {
    #[serde(rename = "msgId")]
    msg_id: Option<String>,
    #[serde(rename = "conversationId")]
    conversation_id: Option<String>,
}

impl Route {
    fn of(event: &str) -> Route {
        serde_json::from_str(event).unwrap_or_default()
    }
}

/// What a followed reply tells an observer (`demo`) as it happens, keyed by the event's `msgId`.
#[derive(Debug, Clone)]
pub struct ReplyNote {
    /// The event's `msgId` (empty when the event had none).
    pub msg_id: String,
    /// When the host saw it.
    pub at: std::time::Instant,
    /// What happened.
    pub kind: NoteKind,
}

/// The kinds of [`ReplyNote`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoteKind {
    /// The skill did not take the event.
    Refused(String),
    /// A card was created for the reply (again for each follow-up card).
    Card(String),
    /// The first answer or reasoning text reached the host.
    FirstText,
    /// The reply ended: `finished`, `failed`, `replied`, `skipped`, `stream_error` or `ended`,
    /// with the failure reason or the plain reply's text.
    Ended {
        /// The outcome, as in the host's event log line.
        outcome: &'static str,
        /// The failure message, the plain reply's text, or empty.
        detail: String,
    },
}

/// Hands events to the skill and follows each reply in a task (for logs and metrics, and for an
/// optional observer: the reply runs in the plugin whether or not it is followed).
#[derive(Clone)]
pub struct Dispatcher {
    skill: Arc<Skill>,
    metrics: Arc<Metrics>,
    followers: TaskTracker,
    observer: Option<mpsc::UnboundedSender<ReplyNote>>,
}

impl Dispatcher {
    /// A dispatcher for `skill`.
    pub fn new(skill: Arc<Skill>, metrics: Arc<Metrics>) -> Dispatcher {
        Dispatcher {
            skill,
            metrics,
            followers: TaskTracker::new(),
            observer: None,
        }
    }

    /// The same dispatcher, also telling `observer` what each reply does.
    pub fn with_observer(mut self, observer: mpsc::UnboundedSender<ReplyNote>) -> Dispatcher {
        self.observer = Some(observer);
        self
    }

    /// Hands one raw event (the robot message JSON) to the skill. Fast: the reply runs in the
    /// plugin. Never panics, whatever the event holds.
    pub fn deliver(&self, source: Source, event: &str) -> Result<(), Refusal> {
        let received = Instant::now();
        let route = Route::of(event);
        let result = self.skill.handle_event(event);
        let outcome = match &result {
            Ok(_) => "accepted",
            Err(e) if e.status == OcStatus::INVALID_ARGUMENT => "invalid",
            Err(e) if e.status == OcStatus::SHUTTING_DOWN => "shutting_down",
            Err(_) => "error",
        };
        self.metrics.inc(
            "openclaw_ingress_events_total",
            &[("source", source.as_str()), ("result", outcome)],
        );
        match result {
            Ok(stream) => {
                let follow = follow(
                    stream,
                    source,
                    route,
                    received,
                    self.metrics.clone(),
                    self.observer.clone(),
                );
                self.followers.spawn(follow);
                Ok(())
            }
            Err(e) => {
                if let Some(observer) = &self.observer {
                    let _ = observer.send(ReplyNote {
                        msg_id: route.msg_id.clone().unwrap_or_default(),
                        at: std::time::Instant::now(),
                        kind: NoteKind::Refused(e.message.clone()),
                    });
                }
                log::warn!(
                    "event source={} msg={} conv={} outcome=refused status={:?}: {}",
                    source.as_str(),
                    route.msg_id.as_deref().unwrap_or("-"),
                    route.conversation_id.as_deref().unwrap_or("-"),
                    e.status,
                    e.message
                );
                Err(match e.status {
                    OcStatus::INVALID_ARGUMENT => Refusal::Invalid(e.message),
                    OcStatus::SHUTTING_DOWN => Refusal::ShuttingDown,
                    _ => Refusal::Failed(e.message),
                })
            }
        }
    }

    /// Waits (at most `limit`) for the replies being followed to end.
    pub async fn wait_followers(&self, limit: Duration) -> bool {
        self.followers.close();
        tokio::time::timeout(limit, self.followers.wait())
            .await
            .is_ok()
    }
}

/// Sends notes about one reply to an observer, if there is one.
struct Notes {
    msg_id: String,
    observer: Option<mpsc::UnboundedSender<ReplyNote>>,
}

impl Notes {
    fn send(&self, kind: NoteKind) {
        if let Some(observer) = &self.observer {
            let _ = observer.send(ReplyNote {
                msg_id: self.msg_id.clone(),
                at: std::time::Instant::now(),
                kind,
            });
        }
    }

    /// Notes the reply's first non-empty text once.
    fn first_text(&self, seen: &mut bool, text: &str) {
        if !*seen && !text.is_empty() {
            *seen = true;
            self.send(NoteKind::FirstText);
        }
    }
}

/// Follows one reply to its terminal chunk; logs one line, records the timings and tells the
/// observer.
async fn follow(
    mut stream: ChunkStream,
    source: Source,
    route: Route,
    received: Instant,
    metrics: Arc<Metrics>,
    observer: Option<mpsc::UnboundedSender<ReplyNote>>,
) {
    let notes = Notes {
        msg_id: route.msg_id.clone().unwrap_or_default(),
        observer,
    };
    let mut card: Option<String> = None;
    let mut first_card: Option<Duration> = None;
    let mut first_text = false;
    let mut chars = 0usize;
    let mut last = received;
    let mut max_gap = Duration::ZERO;
    let (outcome, detail, note) = loop {
        let item = stream.next().await;
        let now = Instant::now();
        max_gap = max_gap.max(now - last);
        last = now;
        match item {
            Some(Ok(Chunk::Started { card_id })) => {
                first_card = Some(now - received);
                notes.send(NoteKind::Card(card_id.clone()));
                card = Some(card_id);
            }
            Some(Ok(Chunk::Delta(t))) => {
                chars += t.chars().count();
                notes.first_text(&mut first_text, &t);
            }
            Some(Ok(Chunk::Reasoning(t))) => notes.first_text(&mut first_text, &t),
            Some(Ok(Chunk::Other { kind, .. })) => {
                log::debug!(
                    "msg {}: chunk of unknown kind {kind:?} ignored",
                    notes.msg_id
                );
            }
            Some(Ok(Chunk::Finished { .. })) => break ("finished", String::new(), String::new()),
            Some(Ok(Chunk::Failed { kind, message })) => {
                let detail = format!(" failure={kind:?} reason={message:?}");
                break ("failed", detail, message);
            }
            Some(Ok(Chunk::Replied(text))) => break ("replied", String::new(), text),
            Some(Ok(Chunk::Skipped(why))) => break ("skipped", format!(" reason={why:?}"), why),
            Some(Err(e)) => break ("stream_error", format!(" error={:?}", e.message), e.message),
            None => break ("ended", String::new(), String::new()),
        }
    };
    notes.send(NoteKind::Ended {
        outcome,
        detail: note,
    });
    let total = received.elapsed();
    if let Some(d) = first_card {
        metrics.observe("openclaw_reply_first_card_seconds", &[], d);
    }
    metrics.observe("openclaw_reply_seconds", &[("outcome", outcome)], total);
    metrics.observe("openclaw_reply_chunk_gap_max_seconds", &[], max_gap);
    log::info!(
        "event source={} msg={} conv={} outcome={outcome} card={} chars={chars} first_card_ms={} total_ms={} max_gap_ms={}{detail}",
        source.as_str(),
        route.msg_id.as_deref().unwrap_or("-"),
        route.conversation_id.as_deref().unwrap_or("-"),
        card.as_deref().unwrap_or("-"),
        first_card.map_or("-".to_owned(), |d| d.as_millis().to_string()),
        total.as_millis(),
        max_gap.as_millis(),
    );
}

/// Options of `run --events dingtalk`.
#[derive(Debug, Clone)]
pub struct Options {
    /// How long the skill may take to finalize replies in flight at shutdown.
    pub shutdown_deadline: Duration,
    /// Overrides `ingress.metrics_listen`.
    pub metrics_listen: Option<String>,
}

/// Receives DingTalk events until SIGINT/SIGTERM (or a fatal ingress error), then shuts the skill
/// down gracefully. Returns `Ok` after a signal.
pub async fn run(settings: IngressSettings, skill: Arc<Skill>, options: Options) -> Result<()> {
    let metrics = Metrics::new();
    let stop_metrics = CancellationToken::new();
    let metrics_listen = options
        .metrics_listen
        .clone()
        .or_else(|| settings.metrics_listen.clone());
    let metrics_task = match metrics_listen {
        Some(addr) => {
            let listener = TcpListener::bind(&addr)
                .await
                .with_context(|| format!("metrics: cannot listen on {addr}"))?;
            log::info!(
                "metrics listening on http://{}/metrics",
                listener.local_addr()?
            );
            Some(tokio::spawn(metrics::serve(
                listener,
                metrics.clone(),
                skill.clone(),
                stop_metrics.clone(),
            )))
        }
        None => None,
    };
    let dispatcher = Dispatcher::new(skill.clone(), metrics.clone());
    let intake = CancellationToken::new();
    let signals = tokio::spawn(watch_signals(intake.clone()));
    let served = serve(
        &settings,
        dispatcher.clone(),
        metrics.clone(),
        intake.clone(),
    )
    .await;
    intake.cancel();
    let finished = finish(skill, &dispatcher, options.shutdown_deadline).await;
    signals.abort();
    stop_metrics.cancel();
    if let Some(task) = metrics_task {
        let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
    }
    served.and(finished)
}

/// Receives events the way `ingress.mode` says (Stream mode or HTTP callbacks) and hands them to
/// `dispatcher` until `intake` is cancelled or a fatal ingress error (refused credentials, a
/// listen address in use). Does not shut the skill down: see [`finish`].
pub async fn serve(
    settings: &IngressSettings,
    dispatcher: Dispatcher,
    metrics: Arc<Metrics>,
    intake: CancellationToken,
) -> Result<()> {
    match settings.mode {
        IngressMode::Stream => stream::run(settings, dispatcher, metrics, intake).await,
        IngressMode::Http => http::run(settings, dispatcher, metrics, intake).await,
    }
}

/// Cancels `intake` on the first SIGINT/SIGTERM; a second signal exits at once (status 130).
async fn watch_signals(intake: CancellationToken) {
    crate::run::shutdown_signal().await;
    log::info!("signal received: stopping intake, finalizing replies in flight");
    intake.cancel();
    crate::run::shutdown_signal().await;
    log::warn!("second signal: exiting without waiting for replies in flight");
    std::process::exit(130);
}

/// Lets the skill finalize replies in flight (it blocks, so on a blocking thread) while the
/// followers keep logging, then waits briefly for the followers.
pub async fn finish(skill: Arc<Skill>, dispatcher: &Dispatcher, deadline: Duration) -> Result<()> {
    log::info!(
        "shutting down: finalizing replies in flight (deadline {} ms)",
        deadline.as_millis()
    );
    let shut = tokio::task::spawn_blocking(move || skill.shutdown(deadline))
        .await
        .context("shutdown task")?;
    if !dispatcher.wait_followers(Duration::from_secs(2)).await {
        log::warn!("some replies were still being followed at exit");
    }
    shut.map_err(|e| anyhow::anyhow!("skill shutdown: {}", e.message))
}
