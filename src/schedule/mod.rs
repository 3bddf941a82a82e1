//! Schedules: prompts the robot answers on its own at set times ([`when`]), each into a new
//! card of its groups and 1:1 chats through the reply pipeline (as a proactive prompt). A
//! collecting schedule (the stand-up) first gathers its groups' tagged messages between two
//! ticks ([`collected`], durable in `state_dir`) and summarizes them at the tick. The last tick
//! each schedule ran is kept in `<state_dir>/schedules.json`, so a start runs at most the latest
//! missed tick, if it is recent enough. See `docs/schedules.md`.

mod clock;
pub(crate) mod collected;
pub(crate) mod when;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeZone, Utc};
use openclaw_skill_abi::Chunk;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::app::Apps;
use crate::dingtalk::{CallStats, Caller, Priority, ReplyTarget};
use crate::event::{AppId, BotMessage, Content, ProactivePrompt, Target};
use crate::manifest::{CollectConfig, ScheduleConfig, WhenEmpty};
use crate::reply::{self, ReplyDeps};
use crate::shared::{SharedState, TakenCollected};
use collected::{Collected, CollectedStore};
use when::When;

/// One schedule, ready to run. Threads: any.
pub(crate) struct Schedule {
    /// As configured.
    pub(crate) config: ScheduleConfig,
    /// The app whose robot posts (and hears the tagged messages).
    app: AppId,
    when: When,
    /// The collected messages (a collecting schedule only).
    store: Option<CollectedStore>,
    /// Serializes the store's appends and removals.
    store_lock: Mutex<()>,
}

impl Schedule {
    /// Stores `msg` (which [`Schedules::collector`] gave to this schedule) for the next tick,
    /// before this returns. With shared state it goes to the list every host's tick reads (and
    /// only there, so that no host's later tick finds it again); in this host's durable store
    /// when there is no shared state or Redis cannot take it. `None` when it cannot be stored
    /// (the user is asked to send it again).
    pub(crate) async fn collect(
        &self,
        msg: &BotMessage,
        shared: Option<&SharedState>,
    ) -> Option<Collecting> {
        let (collect, entry) = self.entry(msg)?;
        if let Some(shared) = shared {
            let json = serde_json::to_string(&entry).unwrap_or_default();
            let pushed = shared
                .push_collected(
                    &self.config.name,
                    &msg.conversation_id,
                    json,
                    collect.max_messages,
                )
                .await;
            match pushed {
                Ok(Some(count)) => {
                    self.log_collected(msg, count);
                    return Some(Collecting::Noted(collect.ack.clone()));
                }
                Ok(None) => return Some(Collecting::Full),
                Err(_) => log::warn!(
                    "schedule {}: msg {} is collected on this host only (Redis is down): it is summarized only if this host posts the next summary",
                    self.config.name,
                    msg.msg_id
                ),
            }
        }
        self.collect_here(msg, entry)
    }

    /// The collect settings and the entry `msg` makes, when this schedule collects text.
    fn entry(&self, msg: &BotMessage) -> Option<(&CollectConfig, Collected)> {
        let (Some(collect), Some(_), Content::Text(text)) =
            (&self.config.collect, &self.store, &msg.content)
        else {
            return None;
        };
        let entry = Collected {
            msg_id: msg.msg_id.clone(),
            at_ms: clock::now().timestamp_millis(),
            nick: msg.sender.nick.clone(),
            text: text.replace(&collect.tag, "").trim().to_owned(),
        };
        Some((collect, entry))
    }

    /// [`Schedule::collect`] in this host's durable store.
    fn collect_here(&self, msg: &BotMessage, entry: Collected) -> Option<Collecting> {
        let (Some(collect), Some(store)) = (&self.config.collect, &self.store) else {
            return None;
        };
        let _guard = self.store_lock.lock().unwrap_or_else(|e| e.into_inner());
        let gathered = store.read(&msg.conversation_id);
        if gathered.iter().any(|c| c.msg_id == msg.msg_id) {
            return Some(Collecting::Noted(collect.ack.clone()));
        }
        if gathered.len() >= collect.max_messages {
            return Some(Collecting::Full);
        }
        match store.append(&msg.conversation_id, &entry) {
            Ok(()) => {
                self.log_collected(msg, gathered.len() + 1);
                Some(Collecting::Noted(collect.ack.clone()))
            }
            Err(e) => {
                log::error!(
                    "schedule {}: cannot store msg {} ({e}); the sender is asked to send it again",
                    self.config.name,
                    msg.msg_id
                );
                None
            }
        }
    }

    fn log_collected(&self, msg: &BotMessage, count: usize) {
        log::info!(
            "schedule {}: collected msg {} from {} in {} ({count} now)",
            self.config.name,
            msg.msg_id,
            msg.sender.nick,
            msg.conversation_id,
        );
    }
}

/// What a message does to a collecting schedule.
pub(crate) enum Collecting {
    /// Stored for the next tick: answer with the schedule's acknowledgement.
    Noted(String),
    /// The group's list is full until the next tick.
    Full,
}

/// Every schedule of the manifest. Threads: any.
pub(crate) struct Schedules {
    entries: Vec<Arc<Schedule>>,
    /// `<state_dir>/schedules.json`: the last tick each schedule ran, epoch ms.
    ticks_file: PathBuf,
    ticks: Mutex<BTreeMap<String, i64>>,
    /// Cancelled when the skill shuts down: no tick starts after that.
    stop: CancellationToken,
}

impl Schedules {
    /// The manifest's schedules (validated by the manifest: a pattern that does not parse
    /// here, or an app not in `apps`, is an error naming the schedule).
    pub(crate) fn new(
        configs: &[ScheduleConfig],
        state_dir: &Path,
        apps: &Apps,
    ) -> Result<Schedules, String> {
        let mut entries = Vec::new();
        for config in configs {
            let when = When::parse(&config.cron, &config.time_zone)
                .map_err(|e| format!("schedule {}: {e}", config.name))?;
            let app = match &config.app {
                None => AppId(0),
                Some(name) => apps
                    .by_name(name)
                    .map(|a| a.id)
                    .ok_or_else(|| format!("schedule {}: no app named `{name}`", config.name))?,
            };
            entries.push(Arc::new(Schedule {
                app,
                store: config
                    .collect
                    .as_ref()
                    .map(|_| CollectedStore::new(state_dir, &config.name)),
                config: config.clone(),
                when,
                store_lock: Mutex::new(()),
            }));
        }
        let ticks_file = state_dir.join("schedules.json");
        let ticks = std::fs::read(&ticks_file)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        Ok(Schedules {
            entries,
            ticks_file,
            ticks: Mutex::new(ticks),
            stop: CancellationToken::new(),
        })
    }

    /// Each schedule with its last and next tick, for `info`.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        let show = |s: &Schedule, t: Option<DateTime<Utc>>| t.map(|t| self.local(s, t));
        self.entries
            .iter()
            .map(|s| {
                serde_json::json!({
                    "name": s.config.name,
                    "last_tick": show(s, self.last_tick(&s.config.name)),
                    "next_tick": show(s, s.when.next_after(clock::now())),
                    "collects": s.config.collect.is_some(),
                })
            })
            .collect()
    }

    /// The collecting schedule that takes `msg`: a text message in one of its groups that
    /// contains its tag. Cheap (no I/O): called on the thread that received the event.
    pub(crate) fn collector(&self, msg: &BotMessage) -> Option<Arc<Schedule>> {
        let Content::Text(text) = &msg.content else {
            return None;
        };
        if !msg.is_group() {
            return None;
        }
        self.entries
            .iter()
            .find(|s| {
                s.config
                    .collect
                    .as_ref()
                    .is_some_and(|c| text.contains(&c.tag))
                    && s.app == msg.app
                    && s.config.groups.contains(&msg.conversation_id)
            })
            .cloned()
    }

    /// Starts one task per schedule on the plugin runtime: it runs the latest missed tick when
    /// recent enough, then every tick, until [`Schedules::stop`]. Each tick's replies run in
    /// `replies`, so the skill's shutdown finalizes them like any reply.
    pub(crate) fn start(self: &Arc<Self>, deps: Arc<ReplyDeps>, replies: TaskTracker) {
        for schedule in &self.entries {
            let (all, schedule, deps, replies) = (
                self.clone(),
                schedule.clone(),
                deps.clone(),
                replies.clone(),
            );
            crate::runtime::runtime().spawn(async move { all.run(schedule, deps, replies).await });
        }
    }

    /// No tick starts from now on (the skill is shutting down).
    pub(crate) fn stop(&self) {
        self.stop.cancel();
    }

    async fn run(
        self: Arc<Self>,
        schedule: Arc<Schedule>,
        deps: Arc<ReplyDeps>,
        replies: TaskTracker,
    ) {
        let name = schedule.config.name.clone();
        let last = self.last_tick(&name);
        let grace = chrono::Duration::seconds(
            i64::try_from(schedule.config.catch_up_secs).unwrap_or(i64::MAX),
        );
        // Ticks come after this one: the start, or the tick run last.
        let mut after = clock::now();
        match schedule.when.catch_up(last, after, grace) {
            (Some(tick), _) => {
                log::info!("schedule {name}: running the tick of {} missed while the process was down", self.local(&schedule, tick));
                self.tick(&schedule, &deps, &replies, tick).await;
            }
            (None, true) => log::warn!(
                "schedule {name}: ticks were missed while the process was down; the latest is more than catch_up_secs ({}) old and is skipped",
                schedule.config.catch_up_secs
            ),
            (None, false) if last.is_none() => self.remember(&name, clock::now()),
            (None, false) => {}
        }
        loop {
            let Some(mut next) = schedule.when.next_after(after) else {
                log::warn!("schedule {name}: its pattern has no next tick; it stops");
                return;
            };
            // A tick that came while the previous one ran is run at once, unless it is older
            // than catch_up_secs.
            let now = clock::now();
            if now - next > grace {
                log::warn!(
                    "schedule {name}: the tick of {} passed while the previous tick ran; skipped",
                    self.local(&schedule, next)
                );
                let Some(later) = schedule.when.next_after(now) else {
                    return;
                };
                next = later;
            }
            log::info!("schedule {name}: next tick {}", self.local(&schedule, next));
            tokio::select! {
                () = clock::wait_until(next) => {}
                () = self.stop.cancelled() => return,
            }
            self.tick(&schedule, &deps, &replies, next).await;
            after = next;
        }
    }

    /// One tick: a card in every group and 1:1 chat of the schedule, at once.
    async fn tick(
        &self,
        schedule: &Arc<Schedule>,
        deps: &Arc<ReplyDeps>,
        replies: &TaskTracker,
        tick: DateTime<Utc>,
    ) {
        if self.stop.is_cancelled() {
            return;
        }
        self.remember(&schedule.config.name, tick);
        if let Some(shared) = &deps.shared {
            let claimed = shared
                .claim_tick(&schedule.config.name, tick.timestamp_millis())
                .await;
            if claimed == Ok(false) {
                log::info!(
                    "schedule {}: the tick of {} is posted by another host",
                    schedule.config.name,
                    self.local(schedule, tick)
                );
                return;
            }
        }
        let targets = schedule
            .config
            .groups
            .iter()
            .map(|g| Target::Group(g.clone()))
            .chain(
                schedule
                    .config
                    .users
                    .iter()
                    .map(|u| Target::User(u.clone())),
            );
        let runs: Vec<_> = targets
            .map(|target| {
                let run = fire(schedule.clone(), deps.clone(), target);
                replies.spawn_on(run, crate::runtime::runtime().handle())
            })
            .collect();
        futures_util::future::join_all(runs).await;
    }

    fn last_tick(&self, name: &str) -> Option<DateTime<Utc>> {
        let ms = *self
            .ticks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)?;
        Utc.timestamp_millis_opt(ms).single()
    }

    /// Records that `name` ran `tick` (durably: a restart must not run it again).
    fn remember(&self, name: &str, tick: DateTime<Utc>) {
        let snapshot = {
            let mut ticks = self.ticks.lock().unwrap_or_else(|e| e.into_inner());
            ticks.insert(name.to_owned(), tick.timestamp_millis());
            serde_json::to_vec_pretty(&*ticks).unwrap_or_default()
        };
        if let Err(e) = crate::durable::replace(&self.ticks_file, &snapshot, true) {
            log::warn!("schedules: cannot save {}: {e}", self.ticks_file.display());
        }
    }

    fn local(&self, schedule: &Schedule, t: DateTime<Utc>) -> String {
        t.with_timezone(&schedule.when.zone())
            .format("%Y-%m-%d %H:%M:%S %Z")
            .to_string()
    }
}

/// The schedule's card in `target`: the prompt (with the collected messages of a group, for a
/// collecting schedule) answered into a new card; the collected messages are forgotten once
/// that card finished.
async fn fire(schedule: Arc<Schedule>, deps: Arc<ReplyDeps>, target: Target) {
    let config = &schedule.config;
    let mut prompt = config.prompt.clone();
    let mut used = Vec::new();
    // The shared list's messages this summary took (another host's tick meanwhile finds
    // only what is collected after them).
    let mut taken: Option<TakenCollected> = None;
    if let (Some(collect), Some(store), Target::Group(group)) =
        (&config.collect, &schedule.store, &target)
    {
        let mut gathered = {
            let _guard = schedule
                .store_lock
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            store.read(group)
        };
        // With shared state, every host's collected messages (and this host's own, should
        // some have been collected while Redis was down), in order.
        if let Some(shared) = &deps.shared {
            if let Ok(took) = shared.take_collected(&config.name, group).await {
                let list = took.entries.clone();
                taken = Some(took);
                let mut all: Vec<Collected> = list
                    .iter()
                    .filter_map(|json| serde_json::from_str(json).ok())
                    .collect();
                for mine in gathered {
                    if !all.iter().any(|c| c.msg_id == mine.msg_id) {
                        all.push(mine);
                    }
                }
                all.sort_by_key(|c| c.at_ms);
                gathered = all;
            }
        }
        if gathered.is_empty() {
            log::info!("schedule {}: nothing was collected in {group}", config.name);
            if collect.when_empty == WhenEmpty::Note {
                note_nothing(&deps, &schedule, group).await;
            }
            return;
        }
        prompt.push_str(&format!(
            "\n\n以下是自上次汇总以来收集到的 {} 条消息，按时间顺序 (the {} messages collected since the last summary, in order):\n",
            gathered.len(),
            gathered.len()
        ));
        for c in &gathered {
            let at = Utc
                .timestamp_millis_opt(c.at_ms)
                .single()
                .map(|t| {
                    t.with_timezone(&schedule.when.zone())
                        .format("%m-%d %H:%M")
                        .to_string()
                })
                .unwrap_or_default();
            prompt.push_str(&format!("[{at} {}] {}\n", c.nick, c.text));
            used.push(c.msg_id.clone());
        }
    }
    let proactive = ProactivePrompt {
        target: target.clone(),
        prompt,
        route: config.route.clone(),
        app: Some(deps.apps.get(schedule.app).name().to_owned()),
        label: format!("schedule {}", config.name),
        stoppable: true,
    };
    let post = match reply::plan_post(&deps, &proactive) {
        Ok(post) => post,
        Err(e) => {
            log::error!("schedule {}: {e}", config.name);
            if let (Some(shared), Some(taken)) = (&deps.shared, &taken) {
                let _ = shared.give_back_collected(taken).await;
            }
            return;
        }
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    reply::post(deps.clone(), post, tx).await;
    let mut finished = false;
    while let Ok(chunk) = rx.try_recv() {
        finished |= matches!(chunk, Chunk::Finished { .. });
    }
    if let (Target::Group(group), Some(store), false) = (&target, &schedule.store, used.is_empty())
    {
        if finished {
            let guard = schedule
                .store_lock
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if let Err(e) = store.remove(group, &used) {
                log::error!("schedule {}: the summarized messages of {group} could not be removed ({e}); the next summary shows them again", config.name);
            }
            drop(guard);
            if let (Some(shared), Some(taken)) = (&deps.shared, &taken) {
                if shared.done_collected(taken).await.is_err() {
                    log::error!("schedule {}: the summarized messages of {group} could not be removed from Redis; they expire within a week", config.name);
                }
            }
        } else {
            if let (Some(shared), Some(taken)) = (&deps.shared, &taken) {
                if shared.give_back_collected(taken).await.is_err() {
                    log::error!("schedule {}: the messages of {group} could not be given back to Redis; this host's copy keeps those it collected", config.name);
                }
            }
            log::warn!(
                "schedule {}: the summary card in {group} did not finish; its {} messages are kept for the next tick",
                config.name,
                used.len()
            );
        }
    }
}

/// The short message to a group whose collecting schedule found nothing.
async fn note_nothing(deps: &ReplyDeps, schedule: &Schedule, group: &str) {
    let name = &schedule.config.name;
    let stats = CallStats::default();
    let caller = Caller {
        stats: &stats,
        priority: Priority::Create,
        conversation: group,
    };
    let target = ReplyTarget {
        webhook: None,
        conversation_id: group.to_owned(),
        group: true,
        staff_id: None,
    };
    let text = format!("本期没有收集到消息，不生成汇总。(Nothing was collected for {name}.)");
    if let Err(e) = deps
        .apps
        .get(schedule.app)
        .dingtalk
        .send_markdown(&caller, &target, "OpenClaw", &text)
        .await
    {
        log::warn!(
            "schedule {name}: the note that nothing was collected in {group} was not sent: {e}"
        );
    }
}
