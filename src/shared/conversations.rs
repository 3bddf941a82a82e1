//! What the hosts share about conversations: which messages were taken (dedup), session
//! generations (`/new`), accepted HTTP callbacks (replays), which host posts a schedule's
//! tick, and the stand-up messages collected for it.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionManager;

use super::{scripts, SharedState, Unavailable};

impl SharedState {
    /// Whether `key` (a redelivery filter's key) is seen for the first time by any host,
    /// remembered for `ttl`. `Err` while Redis is down: the local filter decides.
    pub(crate) async fn first_time(&self, key: &str, ttl: Duration) -> Result<bool, Unavailable> {
        let key = self.key(&["dedup", key]);
        self.run(|c| set_once(c, key, "1".into(), ttl)).await
    }

    /// The session generation of `conversation` all hosts see.
    pub(crate) async fn session_generation(&self, conversation: &str) -> Result<u64, Unavailable> {
        let key = self.key(&["sessions"]);
        let field = conversation.to_owned();
        self.run(|mut c| async move {
            let g: Option<u64> = redis::cmd("HGET")
                .arg(&key)
                .arg(&field)
                .query_async(&mut c)
                .await?;
            Ok(g.unwrap_or(0))
        })
        .await
    }

    /// Starts a fresh session of `conversation` for every host (`/new`); the new generation.
    pub(crate) async fn renew_session(&self, conversation: &str) -> Result<u64, Unavailable> {
        let key = self.key(&["sessions"]);
        let field = conversation.to_owned();
        self.run(|mut c| async move {
            redis::cmd("HINCRBY")
                .arg(&key)
                .arg(&field)
                .arg(1)
                .query_async(&mut c)
                .await
        })
        .await
    }

    /// Claims a signed callback (`claim` names its app, timestamp and signature) for every
    /// host for `ttl`: `Ok(false)` when another host (or this one) took it before.
    pub(crate) fn claim_callback(
        self: &Arc<Self>,
        claim: &str,
        ttl: Duration,
    ) -> Result<bool, Unavailable> {
        let key = self.key(&["replay", claim]);
        self.run_blocking(move |c| set_once(c, key, "1".into(), ttl))
    }

    /// Gives a claimed callback back (the event was not taken: it may come again).
    pub(crate) fn release_callback(self: &Arc<Self>, claim: &str) {
        let key = self.key(&["replay", claim]);
        let _ = self.run_blocking(move |mut c| async move {
            redis::cmd("DEL").arg(&key).query_async::<u64>(&mut c).await
        });
    }

    /// Whether a callback was claimed by any host (for the check before its body is read).
    pub(crate) fn callback_claimed(self: &Arc<Self>, claim: &str) -> Result<bool, Unavailable> {
        let key = self.key(&["replay", claim]);
        self.run_blocking(move |mut c| async move {
            let n: u64 = redis::cmd("EXISTS").arg(&key).query_async(&mut c).await?;
            Ok(n > 0)
        })
    }

    /// Claims a schedule's tick for this host: `Ok(false)` when another host posts it.
    pub(crate) async fn claim_tick(
        &self,
        schedule: &str,
        tick_ms: i64,
    ) -> Result<bool, Unavailable> {
        let key = self.key(&["tick", schedule, &tick_ms.to_string()]);
        let week = Duration::from_secs(7 * 86_400);
        self.run(|c| set_once(c, key, self.host.clone(), week))
            .await
    }

    /// Adds a collected message (`entry`, JSON) to the list of `schedule` in `group` every
    /// host's tick reads, unless that list holds `max` already: its length then, or `None`
    /// when it was full.
    pub(crate) async fn push_collected(
        &self,
        schedule: &str,
        group: &str,
        entry: String,
        max: usize,
    ) -> Result<Option<usize>, Unavailable> {
        let key = self.key(&["collected", schedule, group]);
        let count: usize = self
            .run(|mut c| async move {
                scripts::PUSH_UNLESS_FULL
                    .key(key)
                    .arg(entry)
                    .arg(max)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        Ok((count > 0).then_some(count))
    }

    /// Takes the collected messages (JSON) of `schedule` in `group`, in order, for one
    /// summary: they move to a key of their own, so that another host's tick meanwhile finds
    /// only messages collected after them.
    pub(crate) async fn take_collected(
        &self,
        schedule: &str,
        group: &str,
    ) -> Result<TakenCollected, Unavailable> {
        let list = self.key(&["collected", schedule, group]);
        let key = format!("{list}:taken:{}", uuid::Uuid::new_v4().simple());
        let (l, k) = (list.clone(), key.clone());
        let entries: Vec<String> = self
            .run(|mut c| async move { scripts::TAKE_LIST.key(l).key(k).invoke_async(&mut c).await })
            .await?;
        Ok(TakenCollected { list, key, entries })
    }

    /// The summary that used `taken` finished: its messages are gone.
    pub(crate) async fn done_collected(&self, taken: &TakenCollected) -> Result<(), Unavailable> {
        let key = taken.key.clone();
        self.run(|mut c| async move {
            redis::cmd("DEL")
                .arg(key)
                .query_async::<u64>(&mut c)
                .await
                .map(drop)
        })
        .await
    }

    /// The summary that used `taken` did not finish: its messages go back in front of the
    /// ones collected since, for the next tick.
    pub(crate) async fn give_back_collected(
        &self,
        taken: &TakenCollected,
    ) -> Result<(), Unavailable> {
        let (list, key) = (taken.list.clone(), taken.key.clone());
        self.run(|mut c| async move {
            scripts::GIVE_BACK_LIST
                .key(list)
                .key(key)
                .invoke_async::<u64>(&mut c)
                .await
                .map(drop)
        })
        .await
    }
}

/// Sets `key` to `value` for `ttl` unless it exists: whether this call set it.
async fn set_once(
    mut c: ConnectionManager,
    key: String,
    value: String,
    ttl: Duration,
) -> redis::RedisResult<bool> {
    let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
    let set: Option<String> = redis::cmd("SET")
        .arg(key)
        .arg(value)
        .arg("NX")
        .arg("PX")
        .arg(ms)
        .query_async(&mut c)
        .await?;
    Ok(set.is_some())
}

/// Collected messages one summary took from the shared list.
#[derive(Debug, Clone)]
pub(crate) struct TakenCollected {
    /// The list they came from.
    list: String,
    /// Where they wait until the summary finished (kept a week).
    key: String,
    /// The messages (JSON), in order.
    pub(crate) entries: Vec<String>,
}
