//! State several hosts of the same apps share through Redis (`shared_state:`): one DingTalk
//! call budget per app and API across hosts (`budget.rs`), the month's call count, dedup,
//! session generations, the HTTP callbacks' replay cache, schedule ticks and stand-up lists
//! (`conversations.rs`), under leases, the card journal and the inbox of accepted messages
//! (`leases.rs`), and `/stop` and stop-button presses for the host running the reply
//! (`stops.rs`). See `docs/operations.md`, "Several hosts".
//!
//! Redis trouble never stops a reply: every operation has a short deadline, and a failed one
//! makes the caller use its local state. The first failure marks Redis down (one warning, the
//! `up` flag `info` and `/metrics` show) and each host keeps to `1/expected_hosts` of every
//! budget; a probe every second marks it up again (one info line) and the leases of the cards
//! and messages this host holds are put back (a restarted Redis has lost them).

mod budget;
mod conversations;
mod leases;
mod scripts;
mod stops;

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio_util::sync::CancellationToken;

pub(crate) use budget::SharedBudget;
pub(crate) use conversations::TakenCollected;
pub(crate) use leases::{InboxEntry, Known, SharedCards, SharedInbox};
pub(crate) use stops::{SharedStops, StopHandler, StopRequest};

use crate::dingtalk::BudgetShare;
use crate::manifest::SharedStateConfig;
use crate::runtime::runtime;

/// The deadline of one Redis operation: past it the caller uses its local state.
const OP_TIMEOUT: Duration = Duration::from_millis(500);
/// How often Redis is probed while it is down (or not yet reached).
const PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// Why a shared operation did not happen: Redis is down or did not answer in time. The
/// caller goes on with its local state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unavailable;

/// The connection to Redis and its health. Shared by every app of the skill; threads: any.
pub(crate) struct SharedState {
    config: SharedStateConfig,
    /// The URL without its credentials, for log lines.
    shown: String,
    client: redis::Client,
    conn: Mutex<Option<ConnectionManager>>,
    up: AtomicBool,
    /// Redis has been reached at least once.
    reached: AtomicBool,
    /// Times Redis went down, for `info`.
    outages: AtomicU64,
    /// This process's id in leases and window entries.
    host: String,
    share: BudgetShare,
    /// Called (on the runtime) each time Redis comes back: puts the leases back.
    on_rejoin: Mutex<Vec<Box<dyn Fn() + Send + Sync>>>,
    /// Stop requests to and from the other hosts (set once the skill's replies exist).
    stops: std::sync::OnceLock<Arc<SharedStops>>,
}

impl SharedState {
    /// Connects in the background (a start never waits for Redis); `host` names this process
    /// in leases. Until Redis answers, the budgets keep to their share of `expected_hosts`.
    pub(crate) fn start(
        config: &SharedStateConfig,
        host: &str,
    ) -> Result<Arc<SharedState>, String> {
        let shown = redacted_url(&config.url);
        let client = redis::Client::open(config.url.as_str()).map_err(|e| {
            format!(
                "shared_state.url {shown}: {}",
                redact_error(&e.to_string(), &config.url)
            )
        })?;
        let share = BudgetShare::whole();
        share.set(config.expected_hosts);
        let state = Arc::new(SharedState {
            config: config.clone(),
            shown,
            client,
            conn: Mutex::new(None),
            up: AtomicBool::new(false),
            reached: AtomicBool::new(false),
            outages: AtomicU64::new(0),
            host: host.to_owned(),
            share,
            on_rejoin: Mutex::new(Vec::new()),
            stops: std::sync::OnceLock::new(),
        });
        let weak = Arc::downgrade(&state);
        runtime().spawn(async move {
            let mut tick = tokio::time::interval(PROBE_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(state) = weak.upgrade() else { return };
                if !state.up.load(Relaxed) {
                    state.probe().await;
                }
            }
        });
        Ok(state)
    }

    /// The settings.
    pub(crate) fn config(&self) -> &SharedStateConfig {
        &self.config
    }

    /// This process's id in leases.
    pub(crate) fn host(&self) -> &str {
        &self.host
    }

    /// A client for connections of their own (the stop channel's subscription).
    pub(crate) fn client(&self) -> redis::Client {
        self.client.clone()
    }

    /// Starts listening for stop requests of other hosts (once; later calls do nothing).
    pub(crate) fn start_stops(self: &Arc<Self>, handler: StopHandler, stop: CancellationToken) {
        if self.stops.get().is_none() {
            let _ = self
                .stops
                .set(SharedStops::start(self.clone(), handler, stop));
        }
    }

    /// The stop channel, once started.
    pub(crate) fn stops(&self) -> Option<&Arc<SharedStops>> {
        self.stops.get()
    }

    /// What the budgets divide their limits by.
    pub(crate) fn share(&self) -> BudgetShare {
        self.share.clone()
    }

    /// Whether Redis answers now.
    pub(crate) fn is_up(&self) -> bool {
        self.up.load(Relaxed)
    }

    /// Runs `rejoin` each time Redis comes back (and the first time it is reached).
    pub(crate) fn on_rejoin(&self, rejoin: impl Fn() + Send + Sync + 'static) {
        self.on_rejoin
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Box::new(rejoin));
    }

    /// A Redis key under `shared_state.key_prefix`.
    pub(crate) fn key(&self, parts: &[&str]) -> String {
        let mut key = self.config.key_prefix.clone();
        for part in parts {
            key.push(':');
            key.push_str(part);
        }
        key
    }

    /// Connects (first time) or pings; marks Redis up on success.
    async fn probe(&self) {
        let existing = self.conn.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let conn = match existing {
            Some(conn) => conn,
            None => {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(OP_TIMEOUT))
                    .set_response_timeout(Some(OP_TIMEOUT))
                    .set_number_of_retries(1);
                match tokio::time::timeout(
                    OP_TIMEOUT * 2,
                    ConnectionManager::new_with_config(self.client.clone(), config),
                )
                .await
                {
                    Ok(Ok(conn)) => {
                        *self.conn.lock().unwrap_or_else(|e| e.into_inner()) = Some(conn.clone());
                        conn
                    }
                    Ok(Err(e)) => return self.failed(&e.to_string()),
                    Err(_) => return self.failed("no answer within 1 s"),
                }
            }
        };
        let mut conn = conn;
        let ping = redis::cmd("PING");
        match tokio::time::timeout(OP_TIMEOUT, ping.query_async::<String>(&mut conn)).await {
            Ok(Ok(_)) => self.came_up(),
            Ok(Err(e)) => self.failed(&e.to_string()),
            Err(_) => self.failed("no answer within 500 ms"),
        }
    }

    fn came_up(&self) {
        if self.up.swap(true, Relaxed) {
            return;
        }
        self.share.set(1);
        if self.reached.swap(true, Relaxed) {
            log::info!(
                "shared state: Redis at {} is back; the hosts share the DingTalk budget, dedup, sessions and card leases again",
                self.shown
            );
        } else {
            log::info!(
                "shared state: Redis at {} reached; DingTalk budget, dedup, sessions and card leases are shared (host {})",
                self.shown, self.host
            );
        }
        for rejoin in self
            .on_rejoin
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            rejoin();
        }
    }

    fn failed(&self, why: &str) {
        let why = redact_error(why, &self.config.url);
        let was_up = self.up.swap(false, Relaxed);
        self.share.set(self.config.expected_hosts);
        if was_up {
            self.outages.fetch_add(1, Relaxed);
            log::warn!(
                "shared state: Redis at {} is unreachable ({why}); falling back to local state: each DingTalk budget at 1/{} of its rate, dedup, sessions and card leases on this host only, until it is back",
                self.shown, self.config.expected_hosts
            );
        } else if !self.reached.load(Relaxed) && self.outages.fetch_add(1, Relaxed) == 0 {
            log::warn!(
                "shared state: Redis at {} not reached ({why}); using local state (each DingTalk budget at 1/{} of its rate) until it answers",
                self.shown, self.config.expected_hosts
            );
        }
    }

    /// Runs one operation on the connection, within [`OP_TIMEOUT`]; a failure marks Redis
    /// down. `Err(Unavailable)` while it is down.
    pub(crate) async fn run<T, F, Fut>(&self, op: F) -> Result<T, Unavailable>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        if !self.up.load(Relaxed) {
            return Err(Unavailable);
        }
        let Some(conn) = self.conn.lock().unwrap_or_else(|e| e.into_inner()).clone() else {
            return Err(Unavailable);
        };
        match tokio::time::timeout(OP_TIMEOUT, op(conn)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => {
                self.failed(&e.to_string());
                Err(Unavailable)
            }
            Err(_) => {
                self.failed("no answer within 500 ms");
                Err(Unavailable)
            }
        }
    }

    /// [`SharedState::run`] from a thread outside the plugin runtime (a host's thread in a
    /// synchronous call), waiting at most [`OP_TIMEOUT`] for the answer.
    pub(crate) fn run_blocking<T, F, Fut>(self: &Arc<Self>, op: F) -> Result<T, Unavailable>
    where
        T: Send + 'static,
        F: FnOnce(ConnectionManager) -> Fut + Send + 'static,
        Fut: Future<Output = redis::RedisResult<T>> + Send,
    {
        if !self.up.load(Relaxed) {
            return Err(Unavailable);
        }
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let state = self.clone();
        runtime().spawn(async move {
            let _ = tx.send(state.run(op).await);
        });
        rx.recv_timeout(OP_TIMEOUT + Duration::from_millis(100))
            .unwrap_or(Err(Unavailable))
    }

    /// What `info` says: where (without credentials), whether it answers, outages.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "url": self.shown,
            "up": self.is_up(),
            "host": self.host,
            "expected_hosts": self.config.expected_hosts,
            "outages": self.outages.load(Relaxed),
        })
    }
}

/// This process's name in shared leases: the machine's host name and the process id.
pub(crate) fn host_id() -> String {
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

/// `url` without a password or user name: `redis://***@host:port/db`.
pub(crate) fn redacted_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if !parsed.username().is_empty() || parsed.password().is_some() {
                let _ = parsed.set_username("");
                let _ = parsed.set_password(None);
                let shown = parsed.to_string();
                match shown.split_once("://") {
                    Some((scheme, rest)) => format!("{scheme}://***@{rest}"),
                    None => shown,
                }
            } else {
                parsed.to_string()
            }
        }
        Err(_) => "(not a URL)".into(),
    }
}

/// `text` (an error of the Redis client) without the URL's password, should it quote it.
fn redact_error(text: &str, url: &str) -> String {
    match url::Url::parse(url)
        .ok()
        .and_then(|u| u.password().map(str::to_owned))
    {
        Some(password) if !password.is_empty() => text.replace(&password, "***"),
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_their_credentials() {
        assert_eq!(
            redacted_url("redis://:密码-secret@10.0.0.5:6379/0"),
            "redis://***@10.0.0.5:6379/0"
        );
        assert_eq!(
            redacted_url("rediss://bot:pw@redis.internal:6380"),
            "rediss://***@redis.internal:6380"
        );
        assert_eq!(
            redacted_url("redis://127.0.0.1:6379/0"),
            "redis://127.0.0.1:6379/0"
        );
        assert!(!redact_error("auth failed for pw123", "redis://:pw123@h:1").contains("pw123"));
    }
}
