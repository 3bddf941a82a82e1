//! The skill core: everything behind the ABI (`ffi` calls it). `init` builds the parts of
//! the flow `event → conversation → reply → gateway stream → card-sync → DingTalk client`
//! and hands the reply pipeline its [`ReplyDeps`]; `handle_event` parses an event, plans it
//! and spawns its reply (returning the channel of chunks; all work runs on the plugin's
//! runtime); `info` reads the counters; `shutdown` drains and interrupts.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use openclaw_skill_abi::{Chunk, OcStatus};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::app::{App, Apps};
use crate::card::{recover_leftovers, CardCallbacks};
use crate::conversation::{Conversations, Dedup, FloodControl, Routes, Sessions, StoppableCards};
use crate::dingtalk::{CallStats, Caller, Priority, Retry};
use crate::event::{AppId, BotMessage, CardPress, ProactivePrompt};
use crate::gateway::GatewayClient;
use crate::ingress::card_callbacks;
use crate::manifest::{DingTalkConfig, Manifest};
use crate::network::Network;
use crate::reply::{self, Outcome, ReplyCounters, ReplyDeps, ReplySettings};
use crate::runtime::runtime;
use crate::schedule::Schedules;
use crate::shared::{Known, SharedCards, SharedState};

/// How often learned DingTalk rates and the month's call count are saved (when changed) and
/// idle senders forgotten.
const HOUSEKEEPING_INTERVAL: Duration = Duration::from_secs(5);

/// An error at the skill boundary: a status for the ABI plus a one-line message.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct SkillError {
    /// The ABI status.
    pub status: OcStatus,
    /// What went wrong (no secrets).
    pub message: String,
}

impl SkillError {
    /// Builds an error.
    pub fn new(status: OcStatus, message: impl Into<String>) -> SkillError {
        SkillError {
            status,
            message: message.into(),
        }
    }
}

/// Shared state of a running skill. Threads: any.
struct SkillInner {
    /// The manifest.
    manifest: Manifest,
    /// The reply pipeline's dependencies (shared with every reply task).
    replies: Arc<ReplyDeps>,
    /// Reply tasks.
    tasks: TaskTracker,
    /// The recovery of cards an earlier process left in flight (shutdown waits for it too).
    recovery: TaskTracker,
    /// Whether `handle_event` takes events (false once `shutdown` began).
    accepting: AtomicBool,
}

/// A running skill: an `Arc` of its shared state, cheap to clone. Threads: any; owned by
/// the FFI handle `init` returned.
#[derive(Clone)]
pub struct Skill {
    inner: Arc<SkillInner>,
}

impl Skill {
    /// Builds the clients of every app from a loaded manifest and starts finalizing, in the
    /// background, the cards a crashed process left in flight.
    pub fn start(manifest: Manifest) -> Result<Skill, SkillError> {
        let _guard = runtime().enter();
        let network = Network::from_ca_file(manifest.ca_file().as_deref())
            .map_err(|e| SkillError::new(OcStatus::CONFIG, e))?;
        let state_dir = manifest.state_dir();
        let shared = match &manifest.shared_state {
            Some(config) => Some(
                SharedState::start(config, &host_id())
                    .map_err(|e| SkillError::new(OcStatus::CONFIG, e))?,
            ),
            None => None,
        };
        let apps = Apps::start(&manifest, &network, shared.as_ref())
            .map_err(|e| SkillError::new(OcStatus::CONFIG, e))?;
        let gateway = GatewayClient::new(&manifest.gateway, &network)
            .map_err(|e| SkillError::new(OcStatus::INTERNAL, e.to_string()))?;
        let schedules = Arc::new(
            Schedules::new(&manifest.schedules, &state_dir, &apps)
                .map_err(|e| SkillError::new(OcStatus::CONFIG, e))?,
        );
        let app_names = manifest.apps.iter().map(|a| a.name.clone()).collect();
        let app_keys = manifest
            .apps
            .iter()
            .map(|a| (a.name.clone(), a.app_key.clone()))
            .collect();
        let replies = Arc::new(ReplyDeps {
            settings: ReplySettings {
                access: manifest.conversation.access.clone(),
                busy_message: manifest.conversation.busy_message.clone(),
                preamble: manifest.conversation.preamble.clone(),
                cards: manifest.streaming.enabled,
                card_create_timeout_ms: manifest.streaming.card_create_timeout_ms,
                images: manifest.attachments.images,
                files: manifest.attachments.files,
                upload_images: manifest.streaming.upload_images,
            },
            sessions: Sessions::load(
                state_dir.join("sessions.json"),
                manifest.conversation.per_sender_sessions,
                app_names,
            ),
            routes: Routes::new(manifest.routes.clone(), app_keys),
            schedules: schedules.clone(),
            conversations: Conversations::default(),
            stoppable: StoppableCards::default(),
            flood: FloodControl::new(
                manifest.conversation.sender_messages_per_minute,
                manifest.conversation.max_queued,
            ),
            dedup: Dedup::new(
                Duration::from_secs(manifest.conversation.dedup_ttl_secs),
                manifest.conversation.dedup_capacity,
            ),
            gateway,
            apps,
            shared: shared.clone(),
            counters: ReplyCounters::default(),
            shutdown: CancellationToken::new(),
        });
        let inner = Arc::new(SkillInner {
            manifest,
            replies,
            tasks: TaskTracker::new(),
            recovery: TaskTracker::new(),
            accepting: AtomicBool::new(true),
        });
        let skill = Skill { inner };
        skill.start_housekeeping();
        let manifest = &skill.inner.manifest;
        log::info!(
            "skill {} {} ready: gateway {} agent {}, card interval {} ms, {} DingTalk app(s)",
            manifest.name,
            manifest.version,
            manifest.gateway.endpoint,
            manifest.gateway.model,
            manifest.streaming.card_update_interval_ms,
            manifest.apps.len(),
        );
        for app in skill.inner.replies.apps.iter() {
            skill.start_app(app);
        }
        if let Some(shared) = &shared {
            let journals: Vec<_> = skill
                .inner
                .replies
                .apps
                .iter()
                .filter_map(|a| a.shared_cards.clone())
                .collect();
            shared.on_rejoin(move || journals.iter().for_each(|j| j.renew_all()));
            log::info!(
                "shared state: Redis at {} (host {}, {} hosts expected, card leases {} ms)",
                crate::shared::redacted_url(&shared.config().url),
                shared.host(),
                shared.config().expected_hosts,
                shared.config().lease_ms
            );
        }
        schedules.start(skill.inner.replies.clone(), skill.inner.tasks.clone());
        Ok(skill)
    }

    /// Starts what is the app's own: says how it is set up, registers its card callbacks
    /// (HTTP mode) and finalizes, in the background, the cards an earlier process of it left
    /// in flight.
    fn start_app(&self, app: &Arc<App>) {
        let leftovers = app.cards.journal.leftovers();
        log::info!(
            "app {}: DingTalk app {} robot {}, budget {} calls/s per API, stop button {}{}",
            app.name(),
            app.config.app_key,
            app.config.robot_code,
            app.config.api_qps,
            stop_button_note(&self.inner.manifest, &app.config),
            if leftovers.is_empty() {
                String::new()
            } else {
                format!(
                    "; finalizing {} card(s) an earlier process left in flight, in the background",
                    leftovers.len()
                )
            }
        );
        self.register_card_callbacks(app);
        if !leftovers.is_empty() {
            let deps = self.inner.replies.clone();
            let app = app.clone();
            let recovery = async move {
                let leftovers = match &app.shared_cards {
                    Some(shared) => not_shared(&deps, shared, &app.cards.journal, leftovers).await,
                    None => leftovers,
                };
                let recovered = || {
                    deps.counters.recovered.fetch_add(1, Relaxed);
                };
                recover_leftovers(
                    app.cards.clone(),
                    leftovers,
                    deps.shutdown.clone(),
                    recovered,
                )
                .await;
            };
            self.inner.recovery.spawn_on(recovery, runtime().handle());
        }
        if app.shared_cards.is_some() {
            self.watch_leases(app);
        }
    }

    /// With shared state: renews the leases of the app's cards this host streams and takes
    /// over (and finalizes as interrupted) the cards of hosts that are gone, every third of a
    /// lease.
    fn watch_leases(&self, app: &Arc<App>) {
        let Some(shared) = app.shared_cards.clone() else {
            return;
        };
        let deps = Arc::downgrade(&self.inner.replies);
        let recovery = self.inner.recovery.clone();
        let app = app.clone();
        runtime().spawn(async move {
            let mut tick = tokio::time::interval(shared.lease() / 3);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(deps) = deps.upgrade() else { return };
                if deps.shutdown.is_cancelled() {
                    return;
                }
                shared.renew_all();
                let orphans = shared.take_orphans().await;
                if orphans.is_empty() {
                    continue;
                }
                log::info!(
                    "app {}: took over {} card(s) of a host that is gone; finalizing them as interrupted with the text they showed",
                    app.name(),
                    orphans.len()
                );
                for entry in &orphans {
                    // Now this host's: its lease is renewed until the card is finalized.
                    app.cards.journal.write(entry);
                }
                let cards = app.cards.clone();
                let work = async move {
                    let recovered = || {
                        deps.counters.recovered.fetch_add(1, Relaxed);
                    };
                    recover_leftovers(cards, orphans, deps.shutdown.clone(), recovered).await;
                };
                if recovery.is_closed() {
                    return;
                }
                recovery.spawn_on(work, runtime().handle());
            }
        });
    }

    /// HTTP mode with a stop button: registers `ingress.http.card_callback_url` as the route
    /// of the app's cards' button presses, in the background, retrying every minute until
    /// DingTalk takes it (meanwhile a press does not reach the plugin; `/stop` still works).
    fn register_card_callbacks(&self, app: &Arc<App>) {
        let manifest = &self.inner.manifest;
        let (CardCallbacks::Http { route_key }, Some(url)) = (
            &app.cards.plan.stop_button.callbacks,
            manifest.ingress.http.card_callback_url.clone(),
        ) else {
            return;
        };
        let route_key = route_key.clone();
        let secret = card_callbacks::api_secret(&app.config.app_secret);
        let shutdown = self.inner.replies.shutdown.clone();
        let app = app.clone();
        runtime().spawn(async move {
            let stats = CallStats::default();
            let caller = Caller {
                stats: &stats,
                priority: Priority::Create,
                conversation: "-",
            };
            let name = app.name();
            loop {
                let retry = Retry::for_at_most("card callback registration", Duration::from_secs(30));
                let result = retry
                    .run(|| app.dingtalk.register_card_callbacks(&caller, &route_key, &url, &secret))
                    .await;
                match result {
                    Ok(()) => {
                        log::info!("app {name}: card callbacks: DingTalk posts stop-button presses to {url} (callbackRouteKey {route_key})");
                        return;
                    }
                    Err(e) => log::error!("app {name}: card callbacks: registering {url} failed: {e}; the stop button does nothing until it succeeds (retrying in 60 s; /stop still works)"),
                }
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(60)) => {}
                    () = shutdown.cancelled() => return,
                }
            }
        });
    }

    /// Every few seconds: saves learned DingTalk rates and the month's call count (when they
    /// changed, on a blocking thread) and forgets idle senders of the flood control.
    fn start_housekeeping(&self) {
        let inner = Arc::downgrade(&self.inner);
        runtime().spawn(async move {
            let mut tick = tokio::time::interval(HOUSEKEEPING_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(inner) = inner.upgrade() else {
                    return;
                };
                inner.replies.flood.forget_idle();
                let clients: Vec<_> = inner
                    .replies
                    .apps
                    .iter()
                    .map(|app| app.dingtalk.clone())
                    .collect();
                let apps: Vec<_> = inner.replies.apps.iter().cloned().collect();
                drop(inner);
                for app in &apps {
                    share_counts(app).await;
                }
                let save = move || clients.iter().for_each(|client| client.save_state());
                let _ = tokio::task::spawn_blocking(save).await;
            }
        });
    }

    /// Accepts one raw DingTalk event (a robot message, or a card callback: a press of a
    /// card's stop button) and returns its chunk stream at once. The reply runs on the plugin
    /// runtime whether or not the receiver is read or kept. The event is for the app whose
    /// robot its `robotCode` names, else for `origin` (the app whose secret signed an HTTP
    /// callback), else for the only app.
    pub fn handle_event(
        &self,
        event_json: &str,
        origin: Option<AppId>,
    ) -> Result<mpsc::UnboundedReceiver<Chunk>, SkillError> {
        if !self.inner.accepting.load(Relaxed) {
            return Err(SkillError::new(
                OcStatus::SHUTTING_DOWN,
                "the skill is shutting down",
            ));
        }
        let invalid = |e: crate::event::EventError| {
            SkillError::new(OcStatus::INVALID_ARGUMENT, e.to_string())
        };
        let replies = &self.inner.replies;
        if let Ok(value) = serde_json::from_str::<serde_json::Value>(event_json) {
            if CardPress::is_card_callback(&value) {
                let press = CardPress::parse(&value).map_err(invalid)?;
                let (tx, rx) = mpsc::unbounded_channel();
                let deps = replies.clone();
                self.inner.tasks.spawn_on(
                    async move { reply::press(&deps, press, tx).await },
                    runtime().handle(),
                );
                return Ok(rx);
            }
        }
        let mut message = BotMessage::parse(event_json).map_err(invalid)?;
        message.app = replies
            .apps
            .of_event(message.robot_code.as_deref(), origin)
            .map_err(|e| SkillError::new(OcStatus::INVALID_ARGUMENT, e))?;
        replies.counters.events.fetch_add(1, Relaxed);
        let plan = reply::plan(replies, &message);
        let (tx, rx) = mpsc::unbounded_channel();
        self.inner.tasks.spawn_on(
            reply::run(replies.clone(), message, plan, tx),
            runtime().handle(),
        );
        Ok(rx)
    }

    /// Answers a proactive prompt (JSON, see [`ProactivePrompt::parse`]) into a new card of
    /// its target and returns the reply's chunk stream at once.
    pub fn post(&self, request_json: &str) -> Result<mpsc::UnboundedReceiver<Chunk>, SkillError> {
        if !self.inner.accepting.load(Relaxed) {
            return Err(SkillError::new(
                OcStatus::SHUTTING_DOWN,
                "the skill is shutting down",
            ));
        }
        let prompt = ProactivePrompt::parse(request_json)
            .map_err(|e| SkillError::new(OcStatus::INVALID_ARGUMENT, e.to_string()))?;
        let post = reply::plan_post(&self.inner.replies, &prompt)
            .map_err(|e| SkillError::new(OcStatus::INVALID_ARGUMENT, e))?;
        let (tx, rx) = mpsc::unbounded_channel();
        self.inner.tasks.spawn_on(
            reply::post(self.inner.replies.clone(), post, tx),
            runtime().handle(),
        );
        Ok(rx)
    }

    /// Stops intake and the schedules, lets replies in flight finish (and the recovery of cards an earlier
    /// process left, if it still runs), and at about 80 % of `deadline` interrupts the rest
    /// (their cards are finalized as interrupted; unrecovered cards stay in the journal).
    /// Blocks the caller.
    pub fn shutdown(&self, deadline: Duration) {
        self.inner.accepting.store(false, Relaxed);
        self.inner.replies.schedules.stop();
        self.inner.tasks.close();
        self.inner.recovery.close();
        let inner = self.inner.clone();
        runtime().block_on(async move {
            let soft = deadline.mul_f64(0.8);
            let work = async { tokio::join!(inner.tasks.wait(), inner.recovery.wait()) };
            if tokio::time::timeout(soft, work).await.is_err() {
                log::warn!(
                    "shutdown: {} replies still running; finalizing them as interrupted",
                    inner.tasks.len()
                );
                inner.replies.shutdown.cancel();
                let rest = deadline
                    .saturating_sub(soft)
                    .max(Duration::from_millis(500));
                if tokio::time::timeout(rest, inner.tasks.wait())
                    .await
                    .is_err()
                {
                    log::error!(
                        "shutdown: {} replies did not finish before the deadline",
                        inner.tasks.len()
                    );
                }
            }
        });
        for app in self.inner.replies.apps.iter() {
            app.dingtalk.save_state();
        }
    }

    /// The state shared with other hosts, with `shared_state:`.
    pub(crate) fn shared(&self) -> Option<Arc<SharedState>> {
        self.inner.replies.shared.clone()
    }

    /// Description and counters as JSON.
    pub fn info(&self) -> serde_json::Value {
        let deps = &self.inner.replies;
        let c = &deps.counters;
        let mut replies = serde_json::json!({
            "events": c.events.load(Relaxed),
            "replied": c.replied.load(Relaxed),
            "skipped": c.skipped.load(Relaxed),
            "busy": c.busy.load(Relaxed),
            "recovered_cards": c.recovered.load(Relaxed),
            "posts": c.posts.load(Relaxed),
            "in_flight": self.inner.tasks.len(),
            "stoppable_cards": deps.stoppable.in_flight(),
        });
        for outcome in Outcome::ALL {
            replies[outcome.name()] = c.outcomes.count(outcome).into();
        }
        let apps: Vec<serde_json::Value> = deps.apps.iter().map(|app| app_info(app)).collect();
        let first = &apps[0];
        serde_json::json!({
            "skill": {"name": self.inner.manifest.name, "version": self.inner.manifest.version},
            "replies": replies,
            "shared_state": deps.shared.as_ref().map(|s| s.to_json()),
            "dingtalk_calls": first["dingtalk_calls"],
            "dingtalk_budget": first["dingtalk_budget"],
            "card_max_bytes": first["card_max_bytes"],
            "card_staleness": first["card_staleness"],
            "apps": apps,
            "schedules": deps.schedules.to_json(),
            "accepting": self.inner.accepting.load(Relaxed),
        })
    }
}

/// With shared state: this host's rates and calls go to the app's shared budget, and the
/// lower rates other hosts learned and the month's total come back.
async fn share_counts(app: &App) {
    let Some(shared) = &app.shared_budget else {
        return;
    };
    if let Ok(rates) = shared.exchange_rates(&app.dingtalk.learned_rates()).await {
        app.dingtalk.adopt_lower_rates(&rates);
    }
    let quota = app.dingtalk.quota();
    let (month, calls) = quota.take_unshared();
    match shared.add_calls(&month, calls).await {
        Ok(total) => quota.shared_total(&month, total),
        // Counted again at the next tick.
        Err(_) => quota.give_back_unshared(&month, calls),
    }
}

/// The cards of `leftovers` (found in this host's journal at start) the shared journal does
/// not know: those are this host's to finalize. Cards in flight there go to whichever host
/// takes them over once their leases lapse; cards another host finalized are dropped from
/// `journal`. Waits up to 3 s for Redis first.
async fn not_shared(
    deps: &ReplyDeps,
    shared: &SharedCards,
    journal: &crate::card::Journal,
    leftovers: Vec<crate::card::JournalEntry>,
) -> Vec<crate::card::JournalEntry> {
    let Some(state) = &deps.shared else {
        return leftovers;
    };
    for _ in 0..30 {
        if state.is_up() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut mine = Vec::new();
    for entry in leftovers {
        match shared.known(&entry.card_id).await {
            Ok(Known::InFlight) => log::info!(
                "card {} (interrupted earlier) is in the shared journal: the host that takes it over finalizes it",
                entry.card_id
            ),
            Ok(Known::Finalized) => {
                log::info!(
                    "card {} (interrupted earlier) was finalized by another host",
                    entry.card_id
                );
                journal.remove(&entry.card_id);
            }
            Ok(Known::Unknown) | Err(_) => mine.push(entry),
        }
    }
    mine
}

/// This process's name in shared leases: the machine's host name and the process id.
fn host_id() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|n| n.trim().to_owned())
        .unwrap_or_default();
    let name = if name.is_empty() {
        "host".to_owned()
    } else {
        name
    };
    format!(
        "{name}-{}-{}",
        std::process::id(),
        &uuid::Uuid::new_v4().simple().to_string()[..6]
    )
}

/// What `info` says of one app: its DingTalk calls, budget, card size limit and staleness
/// (the top-level fields of the same names repeat the first app's).
fn app_info(app: &App) -> serde_json::Value {
    serde_json::json!({
        "name": app.name(),
        "app_key": app.config.app_key,
        "dingtalk_calls": app.calls.to_json(),
        "dingtalk_budget": app.dingtalk.budget_snapshot(),
        "card_max_bytes": app.cards.max_bytes(),
        "card_staleness": app.cards.staleness.to_json(),
    })
}

/// How the ready line names the stop button of `app`'s cards.
fn stop_button_note(manifest: &Manifest, app: &DingTalkConfig) -> String {
    use crate::manifest::{IngressMode, StopButtonStyle};
    match manifest.stop_button_style(app) {
        StopButtonStyle::MsgButtons => "msg_buttons".into(),
        StopButtonStyle::StopAction => "stop_action".into(),
        StopButtonStyle::None
            if manifest.ingress.mode == IngressMode::Http
                && manifest.ingress.http.card_callback_url.is_none() =>
        {
            "none (set ingress.http.card_callback_url for one; cards say to send /stop)".into()
        }
        StopButtonStyle::None => "none (cards say to send /stop)".into(),
    }
}
