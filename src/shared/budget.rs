//! One DingTalk budget per app across hosts: every call also takes its turn in a sliding
//! window in Redis (per API and app-wide, the same span and limits as the local windows, the
//! intermediate updates' reserve included, so finals go first across hosts too; an urgent
//! call keeps to the highest limit another host's urgent call kept to lately, so that a host
//! whose rate is still in slow start is not starved by the hosts whose rates grew). Rate cuts
//! learned from a 403 on one host reach the others within seconds, and the month's call count
//! is the sum of every host's.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{scripts, SharedState, Unavailable};
use crate::dingtalk::WindowCounts;

/// The longest single wait before the window is asked again.
const MAX_WAIT: Duration = Duration::from_millis(1_100);

/// An app's share of the shared state: its windows, rates and call count. Threads: any.
pub(crate) struct SharedBudget {
    state: Arc<SharedState>,
    app_key: String,
    seq: AtomicU64,
    /// The rates this host last published (to publish only changes).
    published: Mutex<BTreeMap<String, f64>>,
    /// Held by the one intermediate update of this host that is asking Redis for its turn:
    /// the others wait here, in the order the local budget granted them, instead of each
    /// asking Redis every few milliseconds while urgent calls hold them back.
    intermediates: tokio::sync::Mutex<()>,
}

impl SharedBudget {
    /// The shared budget of the app `app_key`.
    pub(crate) fn new(state: Arc<SharedState>, app_key: &str) -> SharedBudget {
        SharedBudget {
            state,
            app_key: app_key.to_owned(),
            seq: AtomicU64::new(0),
            published: Mutex::new(BTreeMap::new()),
            intermediates: tokio::sync::Mutex::new(()),
        }
    }

    /// Waits for this call's turn in the app's shared windows: `api` (a budget's name) at
    /// most `api_limit` calls per window and all the app's calls at most `app_limit` (none:
    /// no app-wide limit); an `urgent` call (not an intermediate update) goes before every
    /// host's intermediate updates, and this host's intermediate updates ask one at a time.
    /// Returns what the windows held once the call was granted, or `None` at once while Redis
    /// is down (the local budget, at its share, holds the call).
    pub(crate) async fn wait_turn(
        &self,
        api: &str,
        span: Duration,
        api_limit: usize,
        app_limit: Option<usize>,
        urgent: bool,
    ) -> Option<WindowCounts> {
        let keys = [
            self.state.key(&["app", &self.app_key, "window", api]),
            self.state.key(&["app", &self.app_key, "window", "app"]),
            self.state.key(&["app", &self.app_key, "urgent", api]),
            self.state.key(&["app", &self.app_key, "urgent", "app"]),
            self.state.key(&["app", &self.app_key, "limit", api]),
            self.state.key(&["app", &self.app_key, "limit", "app"]),
        ];
        let _asking = if urgent {
            None
        } else {
            Some(self.intermediates.lock().await)
        };
        let span_ms = u64::try_from(span.as_millis()).unwrap_or(1_050);
        // One member for every attempt of this call: it is listed as waiting under it.
        let member = format!("{}:{}", self.state.host(), self.seq.fetch_add(1, Relaxed));
        loop {
            let (keys, member) = (keys.clone(), member.clone());
            let turn = self
                .state
                .run(|mut c| async move {
                    scripts::WINDOW
                        .key(&keys[0])
                        .key(&keys[1])
                        .key(&keys[2])
                        .key(&keys[3])
                        .key(&keys[4])
                        .key(&keys[5])
                        .arg(span_ms)
                        .arg(api_limit.max(1))
                        .arg(app_limit.unwrap_or(0))
                        .arg(member)
                        .arg(u8::from(urgent))
                        .invoke_async::<(u64, usize, usize)>(&mut c)
                        .await
                })
                .await;
            match turn {
                Err(Unavailable) => return None,
                Ok((0, api, app)) => return Some(WindowCounts { api, app }),
                Ok((ms, ..)) => {
                    tokio::time::sleep(Duration::from_millis(ms).min(MAX_WAIT)).await;
                }
            }
        }
    }

    /// Publishes the rates this host learned that changed since it last did, and returns
    /// every rate some host published (by budget name), so that a cut found by one host
    /// reaches all.
    pub(crate) async fn exchange_rates(
        &self,
        learned: &BTreeMap<String, f64>,
    ) -> Result<BTreeMap<String, f64>, Unavailable> {
        let key = self.state.key(&["app", &self.app_key, "rates"]);
        let changed: Vec<(String, f64)> = {
            let published = self.published.lock().unwrap_or_else(|e| e.into_inner());
            learned
                .iter()
                .filter(|(k, v)| published.get(*k) != Some(v))
                .map(|(k, v)| (k.clone(), *v))
                .collect()
        };
        let shared: BTreeMap<String, f64> = self
            .state
            .run(|mut c| async move {
                if !changed.is_empty() {
                    let mut cmd = redis::cmd("HSET");
                    cmd.arg(&key);
                    for (k, v) in &changed {
                        cmd.arg(k).arg(v);
                    }
                    cmd.query_async::<u64>(&mut c).await?;
                }
                redis::cmd("HGETALL").arg(&key).query_async(&mut c).await
            })
            .await?;
        let mut published = self.published.lock().unwrap_or_else(|e| e.into_inner());
        published.extend(learned.iter().map(|(k, v)| (k.clone(), *v)));
        Ok(shared)
    }

    /// Adds this host's `calls` of `month` (`YYYY-MM`, China time) to the app's shared count
    /// and returns the total of every host.
    pub(crate) async fn add_calls(&self, month: &str, calls: u64) -> Result<u64, Unavailable> {
        let key = self.state.key(&["app", &self.app_key, "month", month]);
        self.state
            .run(|mut c| async move {
                let total: u64 = redis::cmd("INCRBY")
                    .arg(&key)
                    .arg(calls)
                    .query_async(&mut c)
                    .await?;
                // Kept a little longer than any month.
                redis::cmd("EXPIRE")
                    .arg(&key)
                    .arg(40 * 86_400)
                    .query_async::<u64>(&mut c)
                    .await?;
                Ok(total)
            })
            .await
    }
}

impl crate::dingtalk::SharedWindow for SharedBudget {
    fn wait_turn<'a>(
        &'a self,
        api: &'a str,
        span: Duration,
        api_limit: usize,
        app_limit: Option<usize>,
        urgent: bool,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Option<WindowCounts>> + Send + 'a>>
    {
        Box::pin(SharedBudget::wait_turn(
            self, api, span, api_limit, app_limit, urgent,
        ))
    }
}
