//! The DingTalk call budget: one learned rate per API plus an app-wide one, and a scheduler
//! that serves waiting calls by priority.
//!
//! DingTalk limits each app per API, at rates it does not publish (and some tenants
//! app-wide). Every call waits here for a slot in its API's window and in the app window
//! ([`window`]); the windows' sizes are learned from DingTalk's answers ([`rate`]).
//!
//! When calls compete, the scheduler serves, in order: final updates, a card's first
//! content, card creation, intermediate updates ([`Priority`]). Intermediate updates of
//! different conversations take turns (the conversation served longest ago goes first), so
//! one long answer cannot starve the others. A call that must wait for the app window
//! blocks every call behind it, so lower priorities never take the slot a higher one waits
//! for.

mod rate;
mod window;

/// The span of every budget window (see `window.rs`).
pub(crate) const SPAN: Duration = window::SPAN;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::{oneshot, Notify};
use tokio::time::{sleep_until, Instant};

use super::stats::CallKind;
use rate::Rate;
use window::Window;

/// Which calls go first when the budget is short. Lower is more urgent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// The update that finalizes a card (or a plain reply that completes one).
    Final,
    /// The first text of a card.
    FirstContent,
    /// Creating a card (or the first plain message of a reply).
    Create,
    /// Any other card update.
    Intermediate,
}

/// The budget's settings (from the manifest).
#[derive(Debug, Clone, Copy)]
pub struct BudgetConfig {
    /// Ceiling of every per-API rate, calls per second (`dingtalk.api_qps`).
    pub api_qps: u32,
    /// Optional app-wide ceiling, calls per second (`dingtalk.app_qps`).
    pub app_qps: Option<u32>,
}

/// Rates learned earlier, by API name (`create`, `stream`, …) and `app`.
pub type LearnedRates = BTreeMap<String, f64>;

/// How many hosts share each budget: 1 with no shared state or while the shared windows
/// (`shared_state:`) hold the hosts' calls together; `expected_hosts` while they cannot, so
/// that each host keeps to its share. Set by the shared state, read by every budget.
/// Threads: any.
#[derive(Debug, Clone)]
pub(crate) struct BudgetShare(Arc<AtomicU32>);

impl BudgetShare {
    /// A share of 1 (no division).
    pub(crate) fn whole() -> BudgetShare {
        BudgetShare(Arc::new(AtomicU32::new(1)))
    }

    /// The divisor of every local limit now.
    pub(crate) fn divisor(&self) -> u32 {
        self.0.load(Ordering::Relaxed).max(1)
    }

    /// Sets the divisor (at least 1).
    pub(crate) fn set(&self, hosts: u32) {
        self.0.store(hosts.max(1), Ordering::Relaxed);
    }
}

/// The windows the hosts of an app share (`shared_state:`): a call granted by the local
/// budget also takes its turn there. Threads: any.
pub(crate) trait SharedWindow: Send + Sync {
    /// Waits until a call of the budget `api` may go: at most `api_limit` calls of it and
    /// `app_limit` calls in all (none: no app-wide limit) in any `span`, across hosts, an
    /// `urgent` call (any but an intermediate update) before every intermediate update.
    /// Returns the calls the shared windows held when this one was granted (itself
    /// included), or `None` at once when the shared windows cannot be reached.
    fn wait_turn<'a>(
        &'a self,
        api: &'a str,
        span: Duration,
        api_limit: usize,
        app_limit: Option<usize>,
        urgent: bool,
    ) -> Pin<Box<dyn Future<Output = Option<WindowCounts>> + Send + 'a>>;
}

/// The calls every host of the app started in the shared windows (the last span) when a
/// call was granted: what DingTalk saw, where this host's own window saw only its part.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct WindowCounts {
    /// Calls of the call's API.
    pub(crate) api: usize,
    /// All the app's calls.
    pub(crate) app: usize,
}

/// The right to start one call now. Report DingTalk's answer with
/// [`Budget::accepted`] or [`Budget::limited`].
#[derive(Debug)]
pub struct Permit {
    api: CallKind,
    sent_at: Instant,
    api_full: bool,
    app_full: bool,
    /// With shared state: what the shared windows held when the call went.
    shared: Option<WindowCounts>,
}

impl Permit {
    /// Records what the shared windows held when this call was granted there: a `403` then
    /// cuts the rate from every host's calls, not only this host's.
    pub(crate) fn set_shared(&mut self, counts: Option<WindowCounts>) {
        self.shared = counts;
    }
}

/// One budget: its window and its learned rate.
#[derive(Debug)]
struct Lane {
    window: Window,
    rate: Rate,
    limited: u64,
}

impl Lane {
    fn new(ceiling: f64, learned: Option<f64>) -> Lane {
        Lane {
            window: Window::default(),
            rate: learned.map_or_else(|| Rate::unmeasured(ceiling), |r| Rate::learned(r, ceiling)),
            limited: 0,
        }
    }

    fn snapshot(&self) -> Value {
        json!({
            "calls_per_second": (self.rate.per_second() * 100.0).round() / 100.0,
            "learned": self.rate.was_learned(),
            "qps_limited": self.limited,
        })
    }
}

struct Waiter {
    api: CallKind,
    priority: Priority,
    conversation: Arc<str>,
    seq: u64,
    grant: oneshot::Sender<Permit>,
}

struct State {
    apis: Vec<Lane>,
    app: Lane,
    waiters: Vec<Waiter>,
    next_seq: u64,
    /// For fairness among intermediate updates: when each conversation was last served.
    served: HashMap<Arc<str>, u64>,
    serve_clock: u64,
    /// Learned rates changed since they were last taken for saving.
    changed: bool,
    /// `dingtalk.app_qps` is set.
    app_capped: bool,
    /// The per-API and app-wide ceilings (for rates adopted from other hosts).
    ceilings: (f64, f64),
}

/// Conversations remembered for fairness before the map is cleared (it only orders turns).
const SERVED_MAX: usize = 10_000;

/// Intermediate updates leave this share of each window of four calls or more free, so a
/// final update or a first text finds room at once.
const RESERVE_DIVISOR: usize = 4;

/// The calls `priority` may start in a window whose limit is `limit`; `reserve` says whether
/// the window keeps room for urgent calls.
fn limit_for(priority: Priority, limit: usize, reserve: bool) -> usize {
    match priority {
        Priority::Intermediate if reserve => limit - limit / RESERVE_DIVISOR,
        _ => limit,
    }
}

impl State {
    /// Whether an app-wide limit is known (configured or learned).
    fn app_limited(&self) -> bool {
        self.app_capped || self.app.rate.was_learned()
    }

    /// The limits of a call of `api` with `priority` in a window (the reserve applied),
    /// divided by `share`: the API's and, when an app-wide limit is known, the app's.
    fn limits(&self, api: usize, priority: Priority, share: u32) -> (usize, Option<usize>) {
        let part = |limit: usize| (limit / share as usize).max(1);
        let app_limited = self.app_limited();
        let app = limit_for(priority, part(self.app.rate.limit()), app_limited);
        let api = limit_for(priority, part(self.apis[api].rate.limit()), true);
        (api, app_limited.then_some(app))
    }

    /// Grants every waiter that may start now, most urgent first; returns when the first
    /// waiter left waiting may go (if any waits).
    fn dispatch(&mut self, now: Instant, share: u32) -> Option<Instant> {
        self.waiters.retain(|w| !w.grant.is_closed());
        let served = &self.served;
        self.waiters.sort_by_key(|w| {
            let turn = match w.priority {
                Priority::Intermediate => served.get(&w.conversation).copied().unwrap_or(0),
                _ => 0,
            };
            (w.priority, turn, w.seq)
        });
        let mut next: Option<Instant> = None;
        let mut i = 0;
        while i < self.waiters.len() {
            let api = self.waiters[i].api as usize;
            let priority = self.waiters[i].priority;
            // The app-wide window keeps a reserve only once an app-wide limit is known: before
            // that it is not what holds calls back, and a reply's first calls must not wait.
            let (api_limit, app_limit) = self.limits(api, priority, share);
            let app_limit =
                app_limit.unwrap_or_else(|| (self.app.rate.limit() / share as usize).max(1));
            let app_free = self.app.window.free_at(now, app_limit);
            let api_free = self.apis[api].window.free_at(now, api_limit);
            if app_free > now {
                // Nobody behind this waiter may take the app-wide slot it waits for.
                let at = app_free.max(api_free);
                next = Some(next.map_or(at, |n| n.min(at)));
                break;
            }
            if api_free > now {
                next = Some(next.map_or(api_free, |n| n.min(api_free)));
                i += 1;
                continue;
            }
            let waiter = self.waiters.remove(i);
            self.apis[api].window.record(now);
            self.app.window.record(now);
            let permit = Permit {
                api: waiter.api,
                sent_at: now,
                api_full: self.apis[api].window.count(now) >= api_limit,
                app_full: self.app.window.count(now) >= app_limit,
                shared: None,
            };
            if waiter.priority == Priority::Intermediate {
                self.serve_clock += 1;
                if self.served.len() >= SERVED_MAX {
                    self.served.clear();
                }
                self.served.insert(waiter.conversation, self.serve_clock);
            }
            if waiter.grant.send(permit).is_err() {
                // The caller gave up while being granted: the slot stays used, harmlessly.
            }
        }
        next
    }
}

/// The budget. Threads: any; [`Budget::acquire`] runs on the plugin runtime (its first wait
/// starts the scheduler task there).
pub struct Budget {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    wake: Arc<Notify>,
    scheduler_started: AtomicBool,
    /// Set when the budget is shared between hosts (`shared_state:`).
    share: std::sync::OnceLock<BudgetShare>,
}

impl Shared {
    fn divisor(&self) -> u32 {
        self.share.get().map_or(1, BudgetShare::divisor)
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Budget {
    /// A budget with `config`'s ceilings, starting from `learned` rates where known.
    pub fn new(config: BudgetConfig, learned: &LearnedRates) -> Budget {
        let api_ceiling = f64::from(config.api_qps.max(1));
        let apis = CallKind::ALL
            .iter()
            .map(|k| Lane::new(api_ceiling, learned.get(k.name()).copied()))
            .collect();
        let app_ceiling = config
            .app_qps
            .map_or(f64::INFINITY, |q| f64::from(q.max(1)));
        let state = State {
            apis,
            app: Lane::new(app_ceiling, learned.get("app").copied()),
            waiters: Vec::new(),
            next_seq: 0,
            served: HashMap::new(),
            serve_clock: 0,
            changed: false,
            app_capped: config.app_qps.is_some(),
            ceilings: (api_ceiling, app_ceiling),
        };
        Budget {
            shared: Arc::new(Shared {
                state: Mutex::new(state),
                wake: Arc::new(Notify::new()),
                scheduler_started: AtomicBool::new(false),
                share: std::sync::OnceLock::new(),
            }),
        }
    }

    /// Divides every limit by `share` from now on (several hosts share this app's budget).
    pub(crate) fn share_with(&self, share: BudgetShare) {
        let _ = self.shared.share.set(share);
        self.shared.wake.notify_one();
    }

    /// The limits a call of `api` with `priority` keeps to in a window now (the reserve and
    /// the share applied): the API's and, when known, the app-wide one.
    pub(crate) fn limits(&self, api: CallKind, priority: Priority) -> (usize, Option<usize>) {
        self.shared
            .lock()
            .limits(api as usize, priority, self.shared.divisor())
    }

    /// Takes the rates other hosts learned where they are lower than this host's (a 403 seen
    /// elsewhere); this host probes back up on its own.
    pub(crate) fn adopt_lower(&self, rates: &LearnedRates) {
        let mut state = self.shared.lock();
        let (api_ceiling, app_ceiling) = state.ceilings;
        let mut lowered = Vec::new();
        for kind in CallKind::ALL {
            let lane = &mut state.apis[kind as usize];
            if let Some(&r) = rates.get(kind.name()) {
                if r >= 1.0 && r + 0.5 < lane.rate.per_second() {
                    lane.rate = Rate::learned(r, api_ceiling);
                    lowered.push(format!("{} {r:.1}/s", kind.name()));
                }
            }
        }
        if let Some(&r) = rates.get("app") {
            if r >= 1.0 && r + 0.5 < state.app.rate.per_second() {
                state.app.rate = Rate::learned(r, app_ceiling);
                lowered.push(format!("app-wide {r:.1}/s"));
            }
        }
        if !lowered.is_empty() {
            state.changed = true;
            log::info!(
                "DingTalk budget lowered to what another host learned: {}",
                lowered.join(", ")
            );
        }
    }

    /// Waits until a call of `api` may start, behind more urgent calls; `conversation`
    /// orders intermediate updates fairly. With room in both windows it returns at once.
    pub async fn acquire(&self, api: CallKind, priority: Priority, conversation: &str) -> Permit {
        let (grant, mut granted) = oneshot::channel();
        {
            let mut state = self.shared.lock();
            let seq = state.next_seq;
            state.next_seq += 1;
            state.waiters.push(Waiter {
                api,
                priority,
                conversation: Arc::from(conversation),
                seq,
                grant,
            });
            state.dispatch(Instant::now(), self.shared.divisor());
        }
        if let Ok(permit) = granted.try_recv() {
            return permit;
        }
        self.start_scheduler();
        self.shared.wake.notify_one();
        match granted.await {
            Ok(permit) => permit,
            // Only if the scheduler task died (the runtime is shutting down): go ahead, the
            // learned rate still reacts to DingTalk's answer.
            Err(_) => Permit {
                api,
                sent_at: Instant::now(),
                api_full: false,
                app_full: false,
                shared: None,
            },
        }
    }

    fn start_scheduler(&self) {
        if self.shared.scheduler_started.swap(true, Ordering::AcqRel) {
            return;
        }
        let shared = Arc::downgrade(&self.shared);
        let wake = self.shared.wake.clone();
        tokio::spawn(schedule(shared, wake));
    }

    /// DingTalk accepted the call (or refused it for a reason other than its rate).
    pub fn accepted(&self, permit: &Permit) {
        let now = Instant::now();
        let mut state = self.shared.lock();
        let before = (
            state.apis[permit.api as usize].rate.limit(),
            state.app.rate.limit(),
        );
        state.apis[permit.api as usize]
            .rate
            .accepted(permit.api_full, now);
        state.app.rate.accepted(permit.app_full, now);
        let after = (
            state.apis[permit.api as usize].rate.limit(),
            state.app.rate.limit(),
        );
        if after != before {
            drop(state);
            self.shared.wake.notify_one();
        }
    }

    /// DingTalk answered `403 …QpsLimit…`: the call's API rate is cut, and the app-wide rate
    /// too when other APIs were busy in the same window (the limit may be app-wide).
    pub fn limited(&self, permit: &Permit) {
        let now = Instant::now();
        let mut state = self.shared.lock();
        let state = &mut *state;
        let lane = &mut state.apis[permit.api as usize];
        lane.limited += 1;
        // With shared state DingTalk counted every host's calls: the shared windows saw them.
        let (api_calls, app_calls) = match permit.shared {
            Some(shared) => (shared.api, shared.app),
            None => (lane.window.count(now), state.app.window.count(now)),
        };
        let cut_rate = |rate: &mut Rate, observed: usize| match permit.shared {
            Some(_) => rate.limited_shared(permit.sent_at, observed, now),
            None => rate.limited(permit.sent_at, observed, now),
        };
        let mut cut = Vec::new();
        if cut_rate(&mut lane.rate, api_calls) {
            cut.push(format!(
                "{} {:.1}/s",
                permit.api.name(),
                lane.rate.per_second()
            ));
        }
        if app_calls > api_calls {
            state.app.limited += 1;
            if cut_rate(&mut state.app.rate, app_calls) {
                cut.push(format!("app-wide {:.1}/s", state.app.rate.per_second()));
            }
        }
        if !cut.is_empty() {
            state.changed = true;
            log::warn!(
                "DingTalk rate limit on {} ({api_calls} calls of it, {app_calls} in all in the last second{}): budget lowered to {}",
                permit.api.name(),
                if permit.shared.is_some() { ", all hosts" } else { "" },
                cut.join(", ")
            );
        }
    }

    /// The learned rates worth keeping across restarts, if they changed since the last call.
    pub fn take_changed(&self) -> Option<LearnedRates> {
        let mut state = self.shared.lock();
        if !std::mem::take(&mut state.changed) {
            return None;
        }
        Some(learned_rates(&state))
    }

    /// The learned rates worth keeping across restarts.
    pub fn learned(&self) -> LearnedRates {
        learned_rates(&self.shared.lock())
    }

    /// Rates, learning and queue length, for `info` and `/metrics`.
    pub fn snapshot(&self) -> Value {
        let state = self.shared.lock();
        let apis: serde_json::Map<String, Value> = CallKind::ALL
            .iter()
            .map(|k| (k.name().to_owned(), state.apis[*k as usize].snapshot()))
            .collect();
        let mut app = state.app.snapshot();
        if !state.app.rate.was_learned() && state.app.rate.per_second() > 1e9 {
            app["calls_per_second"] = Value::Null;
        }
        json!({"apis": apis, "app": app, "waiting": state.waiters.len()})
    }
}

fn learned_rates(state: &State) -> LearnedRates {
    let mut out: LearnedRates = CallKind::ALL
        .iter()
        .filter(|k| state.apis[**k as usize].rate.was_learned())
        .map(|k| {
            (
                k.name().to_owned(),
                state.apis[*k as usize].rate.per_second(),
            )
        })
        .collect();
    if state.app.rate.was_learned() {
        out.insert("app".into(), state.app.rate.per_second());
    }
    out
}

/// The scheduler task: grants waiters as their slots come free. Holds the budget weakly,
/// so it ends once the budget is gone.
async fn schedule(shared: Weak<Shared>, wake: Arc<Notify>) {
    loop {
        let next = {
            let Some(shared) = shared.upgrade() else {
                return;
            };
            let divisor = shared.divisor();
            let next = shared.lock().dispatch(Instant::now(), divisor);
            next
        };
        match next {
            Some(at) => {
                tokio::select! {
                    () = sleep_until(at) => {}
                    () = wake.notified() => {}
                }
            }
            None => wake.notified().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn budget(api_qps: u32, app_qps: Option<u32>, learned: &[(&str, f64)]) -> Budget {
        let learned = learned.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        Budget::new(BudgetConfig { api_qps, app_qps }, &learned)
    }

    #[tokio::test(start_paused = true)]
    async fn a_learned_budget_allows_its_burst_at_once_then_waits_for_the_window() {
        let b = budget(20, None, &[("stream", 5.0), ("app", 100.0)]);
        let t0 = Instant::now();
        for _ in 0..5 {
            b.acquire(CallKind::StreamingUpdate, Priority::FirstContent, "c")
                .await;
        }
        assert_eq!(
            Instant::now(),
            t0,
            "five calls in a quiet second go at once"
        );
        b.acquire(CallKind::StreamingUpdate, Priority::FirstContent, "c")
            .await;
        assert_eq!(Instant::now() - t0, window::SPAN);
        b.acquire(CallKind::CreateCard, Priority::Create, "c").await;
        assert_eq!(
            Instant::now() - t0,
            window::SPAN,
            "another API has its own budget"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn intermediate_updates_leave_a_quarter_of_the_window_to_finals() {
        let b = budget(20, None, &[("stream", 20.0), ("app", 100.0)]);
        let t0 = Instant::now();
        for _ in 0..15 {
            b.acquire(CallKind::StreamingUpdate, Priority::Intermediate, "c")
                .await;
        }
        assert_eq!(Instant::now(), t0);
        for _ in 0..5 {
            b.acquire(CallKind::StreamingUpdate, Priority::Final, "c")
                .await;
        }
        assert_eq!(Instant::now(), t0, "the reserved slots are free for finals");
        b.acquire(CallKind::StreamingUpdate, Priority::Intermediate, "c")
            .await;
        assert_eq!(Instant::now() - t0, window::SPAN);
    }

    #[tokio::test(start_paused = true)]
    async fn finals_go_before_first_content_before_creates_before_intermediates() {
        let b = Arc::new(budget(20, None, &[("stream", 1.0), ("app", 100.0)]));
        // Use the one slot, then queue one call of each priority.
        b.acquire(CallKind::StreamingUpdate, Priority::Intermediate, "x")
            .await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (name, priority) in [
            ("intermediate", Priority::Intermediate),
            ("create", Priority::Create),
            ("first", Priority::FirstContent),
            ("final", Priority::Final),
        ] {
            let (b, order) = (b.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                b.acquire(CallKind::StreamingUpdate, priority, name).await;
                order.lock().unwrap().push(name);
            }));
            tokio::task::yield_now().await;
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(
            *order.lock().unwrap(),
            ["final", "first", "create", "intermediate"]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn intermediate_updates_take_turns_by_conversation() {
        let b = Arc::new(budget(20, None, &[("stream", 1.0), ("app", 100.0)]));
        b.acquire(CallKind::StreamingUpdate, Priority::Intermediate, "long")
            .await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        // The long answer queues three updates before the two others queue one each.
        for conv in ["long", "long", "long", "a", "b"] {
            let (b, order) = (b.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                b.acquire(CallKind::StreamingUpdate, Priority::Intermediate, conv)
                    .await;
                order.lock().unwrap().push(conv);
            }));
            tokio::task::yield_now().await;
        }
        for t in tasks {
            t.await.unwrap();
        }
        let order = order.lock().unwrap();
        assert_eq!(&order[..3], ["a", "b", "long"], "{order:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_limit_cuts_the_api_rate_and_the_app_rate_when_other_apis_were_busy() {
        let b = budget(
            20,
            None,
            &[("create", 10.0), ("stream", 10.0), ("app", 40.0)],
        );
        // Learned rates count as just cut: let one window pass.
        tokio::time::advance(Duration::from_millis(1100)).await;
        let mut last = None;
        for _ in 0..3 {
            last = Some(b.acquire(CallKind::CreateCard, Priority::Create, "c").await);
        }
        for _ in 0..2 {
            b.acquire(CallKind::StreamingUpdate, Priority::Intermediate, "c")
                .await;
        }
        b.limited(&last.unwrap());
        let snap = b.snapshot();
        assert_eq!(snap["apis"]["create"]["calls_per_second"], 2.1, "{snap}");
        assert_eq!(snap["apis"]["stream"]["calls_per_second"], 10.0, "{snap}");
        assert_eq!(snap["app"]["calls_per_second"], 3.5, "{snap}");
        assert_eq!(snap["apis"]["create"]["qps_limited"], 1);
        assert!(b.take_changed().is_some());
        assert!(b.take_changed().is_none(), "taken once");
    }

    #[tokio::test(start_paused = true)]
    async fn with_shared_state_a_limit_cuts_from_what_every_host_sent() {
        // Three hosts, each at the app's 20: this one sent 6 of the 20 calls DingTalk counted.
        let b = budget(20, Some(20), &[("stream", 20.0), ("app", 20.0)]);
        tokio::time::advance(Duration::from_millis(1100)).await;
        let mut last = None;
        for _ in 0..6 {
            last = Some(
                b.acquire(CallKind::StreamingUpdate, Priority::Intermediate, "c")
                    .await,
            );
        }
        let mut permit = last.unwrap();
        permit.set_shared(Some(WindowCounts { api: 20, app: 20 }));
        b.limited(&permit);
        let snap = b.snapshot();
        assert_eq!(
            snap["apis"]["stream"]["calls_per_second"], 14.0,
            "70 % of the 20 every host sent, not of this host's 6: {snap}"
        );

        let alone = budget(20, Some(20), &[("stream", 20.0), ("app", 20.0)]);
        tokio::time::advance(Duration::from_millis(1100)).await;
        let mut last = None;
        for _ in 0..6 {
            last = Some(
                alone
                    .acquire(CallKind::StreamingUpdate, Priority::Intermediate, "c")
                    .await,
            );
        }
        alone.limited(&last.unwrap());
        assert_eq!(alone.snapshot()["apis"]["stream"]["calls_per_second"], 4.2);
    }

    #[tokio::test(start_paused = true)]
    async fn an_unmeasured_budget_opens_by_slow_start() {
        let b = budget(20, None, &[]);
        let t0 = Instant::now();
        for _ in 0..4 {
            let p = b.acquire(CallKind::CreateCard, Priority::Create, "c").await;
            b.accepted(&p);
        }
        assert_eq!(Instant::now(), t0);
        for _ in 0..10 {
            let p = b.acquire(CallKind::CreateCard, Priority::Create, "c").await;
            b.accepted(&p);
        }
        assert_eq!(
            Instant::now(),
            t0,
            "each accepted call at a full window opens one more slot"
        );
    }
}
