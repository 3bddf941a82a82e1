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

use crate::attachments::Attachments;
use crate::card::{recover_leftovers, CardCallbacks, CardContext, CardPlan, Journal};
use crate::conversation::{Conversations, Dedup, FloodControl, Routes, Sessions, StoppableCards};
use crate::dingtalk::{CallStats, Caller, DingTalkClient, Priority, Retry};
use crate::event::{BotMessage, CardPress, ProactivePrompt};
use crate::gateway::GatewayClient;
use crate::ingress::card_callbacks;
use crate::manifest::Manifest;
use crate::network::Network;
use crate::reply::{self, Outcome, ReplyCounters, ReplyDeps, ReplySettings};
use crate::runtime::runtime;
use crate::schedule::Schedules;

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
    /// All DingTalk calls.
    calls: Arc<CallStats>,
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
    /// Builds the clients from a loaded manifest and starts finalizing, in the background, the
    /// cards a crashed process left in flight.
    pub fn start(manifest: Manifest) -> Result<Skill, SkillError> {
        let _guard = runtime().enter();
        let network = Network::from_ca_file(manifest.ca_file().as_deref())
            .map_err(|e| SkillError::new(OcStatus::CONFIG, e))?;
        let calls = Arc::new(CallStats::default());
        let state_dir = manifest.state_dir();
        let journal = Journal::open(&state_dir).map_err(|e| {
            SkillError::new(
                OcStatus::CONFIG,
                format!("state_dir {}: {e}", state_dir.display()),
            )
        })?;
        let dingtalk = Arc::new(
            DingTalkClient::new(
                &manifest.dingtalk,
                calls.clone(),
                Some(&state_dir),
                &network,
            )
            .map_err(|e| SkillError::new(OcStatus::INTERNAL, e.to_string()))?,
        );
        let gateway = GatewayClient::new(&manifest.gateway, &network)
            .map_err(|e| SkillError::new(OcStatus::INTERNAL, e.to_string()))?;
        let attachments = Attachments::new(&manifest.attachments, &network, dingtalk.clone())
            .map_err(|e| SkillError::new(OcStatus::INTERNAL, e))?;
        let cards = Arc::new(CardContext::new(
            dingtalk.clone(),
            journal,
            CardPlan {
                template_id: manifest.dingtalk.card_template_id.clone(),
                content_key: manifest.dingtalk.card_content_key.clone(),
                interval: Duration::from_millis(manifest.streaming.card_update_interval_ms),
                max_bytes: manifest.streaming.card_max_bytes,
                create_deadline: Duration::from_millis(manifest.streaming.card_create_timeout_ms),
                show_reasoning: manifest.streaming.show_reasoning,
                flow_status: manifest.dingtalk.card_flow_status,
                stop_button: card_callbacks::stop_button(&manifest),
            },
        ));
        let schedules = Arc::new(
            Schedules::new(&manifest.schedules, &state_dir)
                .map_err(|e| SkillError::new(OcStatus::CONFIG, e))?,
        );
        let replies = Arc::new(ReplyDeps {
            settings: ReplySettings {
                access: manifest.conversation.access.clone(),
                busy_message: manifest.conversation.busy_message.clone(),
                preamble: manifest.conversation.preamble.clone(),
                cards: manifest.streaming.enabled,
                card_template_id: manifest.dingtalk.card_template_id.clone(),
                card_create_timeout_ms: manifest.streaming.card_create_timeout_ms,
                images: manifest.attachments.images,
                files: manifest.attachments.files,
                upload_images: manifest.streaming.upload_images,
            },
            sessions: Sessions::load(
                state_dir.join("sessions.json"),
                manifest.conversation.per_sender_sessions,
            ),
            routes: Routes::new(manifest.routes.clone(), manifest.dingtalk.app_key.clone()),
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
            cards,
            attachments,
            dingtalk,
            counters: ReplyCounters::default(),
            shutdown: CancellationToken::new(),
        });
        let inner = Arc::new(SkillInner {
            manifest,
            replies,
            calls,
            tasks: TaskTracker::new(),
            recovery: TaskTracker::new(),
            accepting: AtomicBool::new(true),
        });
        let skill = Skill { inner };
        skill.start_housekeeping();
        skill.register_card_callbacks();
        schedules.start(skill.inner.replies.clone(), skill.inner.tasks.clone());
        let leftovers = skill.inner.replies.cards.journal.leftovers();
        log::info!(
            "skill {} {} ready: gateway {} agent {}, DingTalk app {} budget {} calls/s per API, card interval {} ms, stop button {}{}",
            skill.inner.manifest.name,
            skill.inner.manifest.version,
            skill.inner.manifest.gateway.endpoint,
            skill.inner.manifest.gateway.model,
            skill.inner.manifest.dingtalk.app_key,
            skill.inner.manifest.dingtalk.api_qps,
            skill.inner.manifest.streaming.card_update_interval_ms,
            stop_button_note(&skill.inner.manifest),
            if leftovers.is_empty() {
                String::new()
            } else {
                format!(
                    "; finalizing {} card(s) an earlier process left in flight, in the background",
                    leftovers.len()
                )
            }
        );
        if !leftovers.is_empty() {
            let deps = skill.inner.replies.clone();
            let recovery = async move {
                let recovered = || {
                    deps.counters.recovered.fetch_add(1, Relaxed);
                };
                recover_leftovers(
                    deps.cards.clone(),
                    leftovers,
                    deps.shutdown.clone(),
                    recovered,
                )
                .await;
            };
            skill.inner.recovery.spawn_on(recovery, runtime().handle());
        }
        Ok(skill)
    }

    /// HTTP mode with a stop button: registers `ingress.http.card_callback_url` as the route
    /// of the cards' button presses, in the background, retrying every minute until DingTalk
    /// takes it (meanwhile a press does not reach the plugin; `/stop` still works).
    fn register_card_callbacks(&self) {
        let manifest = &self.inner.manifest;
        let (CardCallbacks::Http { route_key }, Some(url)) = (
            &self.inner.replies.cards.plan.stop_button.callbacks,
            manifest.ingress.http.card_callback_url.clone(),
        ) else {
            return;
        };
        let route_key = route_key.clone();
        let secret = card_callbacks::api_secret(&manifest.dingtalk.app_secret);
        let deps = self.inner.replies.clone();
        runtime().spawn(async move {
            let stats = CallStats::default();
            let caller = Caller {
                stats: &stats,
                priority: Priority::Create,
                conversation: "-",
            };
            loop {
                let retry = Retry::for_at_most("card callback registration", Duration::from_secs(30));
                let result = retry
                    .run(|| deps.dingtalk.register_card_callbacks(&caller, &route_key, &url, &secret))
                    .await;
                match result {
                    Ok(()) => {
                        log::info!("card callbacks: DingTalk posts stop-button presses to {url} (callbackRouteKey {route_key})");
                        return;
                    }
                    Err(e) => log::error!("card callbacks: registering {url} failed: {e}; the stop button does nothing until it succeeds (retrying in 60 s; /stop still works)"),
                }
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(60)) => {}
                    () = deps.shutdown.cancelled() => return,
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
                let client = inner.replies.dingtalk.clone();
                drop(inner);
                let _ = tokio::task::spawn_blocking(move || client.save_state()).await;
            }
        });
    }

    /// Accepts one raw DingTalk event (a robot message, or a card callback: a press of a
    /// card's stop button) and returns its chunk stream at once. The reply runs on the plugin
    /// runtime whether or not the receiver is read or kept.
    pub fn handle_event(
        &self,
        event_json: &str,
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
        let message = BotMessage::parse(event_json).map_err(invalid)?;
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
        self.inner.replies.dingtalk.save_state();
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
        serde_json::json!({
            "skill": {"name": self.inner.manifest.name, "version": self.inner.manifest.version},
            "replies": replies,
            "dingtalk_calls": self.inner.calls.to_json(),
            "dingtalk_budget": deps.dingtalk.budget_snapshot(),
            "card_max_bytes": deps.cards.max_bytes(),
            "card_staleness": deps.cards.staleness.to_json(),
            "schedules": deps.schedules.to_json(),
            "accepting": self.inner.accepting.load(Relaxed),
        })
    }
}

/// How the ready line names the stop button.
fn stop_button_note(manifest: &Manifest) -> String {
    use crate::manifest::{IngressMode, StopButtonStyle};
    match manifest.stop_button_style() {
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
