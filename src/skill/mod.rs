//! The skill core: everything behind the ABI (`ffi` calls it). `init` builds the parts of
//! the flow `event → conversation → reply → gateway stream → card-sync → DingTalk client`
//! and hands the reply pipeline its [`ReplyDeps`]; `handle_event` parses an event, plans it
//! and spawns its reply (returning the channel of chunks; all work runs on the plugin's
//! runtime); `info` reads the counters; `shutdown` drains and interrupts. What is started
//! for each DingTalk app is in `apps.rs`.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use openclaw_skill_abi::{Chunk, OcStatus};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::app::Apps;
use crate::conversation::{Conversations, Dedup, FloodControl, Routes, Sessions, StoppableCards};
use crate::event::{AppId, BotMessage, CardPress, ProactivePrompt};
use crate::gateway::GatewayClient;
use crate::manifest::Manifest;
use crate::network::Network;
use crate::reply::{self, Outcome, ReplyCounters, ReplyDeps, ReplySettings};
use crate::runtime::runtime;
use crate::schedule::Schedules;
use crate::shared::SharedState;

mod apps;

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
                SharedState::start(config, &crate::shared::host_id())
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
            // A restarted Redis lost the leases: the cards and messages this host holds are
            // put back as soon as it answers again.
            // Weak: the shared state must not keep the apps (which hold it) alive.
            let apps: Vec<_> = skill
                .inner
                .replies
                .apps
                .iter()
                .map(Arc::downgrade)
                .collect();
            shared.start_stops(
                crate::reply::stop_handler(Arc::downgrade(&skill.inner.replies)),
                skill.inner.replies.shutdown.clone(),
            );
            shared.on_rejoin(move || {
                for app in apps.iter().filter_map(std::sync::Weak::upgrade) {
                    if let Some(cards) = &app.shared_cards {
                        cards.renew_all();
                    }
                    if let Some(inbox) = &app.shared_inbox {
                        inbox.renew_all();
                    }
                }
            });
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
                    apps::share_counts(app).await;
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
        self.take_event(event_json, origin, false)
    }

    /// [`Skill::handle_event`]; `taken_over`: the message of a host that died before a card
    /// showed its answer (no other host takes it: the shared redelivery filter has it).
    fn take_event(
        &self,
        event_json: &str,
        origin: Option<AppId>,
        taken_over: bool,
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
        let arrival = reply::Arrival {
            event: Arc::from(event_json),
            taken_over,
        };
        self.inner.tasks.spawn_on(
            reply::run(replies.clone(), message, plan, arrival, tx),
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
        let apps: Vec<serde_json::Value> =
            deps.apps.iter().map(|app| apps::app_info(app)).collect();
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
