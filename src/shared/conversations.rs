//! What the hosts share about conversations: which messages were taken (dedup), session
//! generations (`/new`), accepted HTTP callbacks (replays), which host posts a schedule's
//! tick, and the stand-up messages collected for it.

use std::sync::Arc;
use std::time::Duration;

use super::{SharedState, Unavailable};

impl SharedState {
    /// Whether `key` (a redelivery filter's key) is seen for the first time by any host,
    /// remembered for `ttl`. `Err` while Redis is down: the local filter decides.
    pub(crate) async fn first_time(&self, key: &str, ttl: Duration) -> Result<bool, Unavailable> {
        let key = self.key(&["dedup", key]);
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        self.run(|mut c| async move {
            let set: Option<String> = redis::cmd("SET")
                .arg(&key)
                .arg(1)
                .arg("NX")
                .arg("PX")
                .arg(ms)
                .query_async(&mut c)
                .await?;
            Ok(set.is_some())
        })
        .await
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
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        self.run_blocking(move |mut c| async move {
            let set: Option<String> = redis::cmd("SET")
                .arg(&key)
                .arg(1)
                .arg("NX")
                .arg("PX")
                .arg(ms)
                .query_async(&mut c)
                .await?;
            Ok(set.is_some())
        })
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
        let host = self.host.clone();
        self.run(|mut c| async move {
            let set: Option<String> = redis::cmd("SET")
                .arg(&key)
                .arg(host)
                .arg("NX")
                .arg("EX")
                .arg(7 * 86_400)
                .query_async(&mut c)
                .await?;
            Ok(set.is_some())
        })
        .await
    }

    /// Adds a collected message (`entry`, JSON) to the list of `schedule` in `group` every
    /// host's tick reads.
    pub(crate) async fn push_collected(
        &self,
        schedule: &str,
        group: &str,
        entry: String,
    ) -> Result<(), Unavailable> {
        let key = self.key(&["collected", schedule, group]);
        self.run(|mut c| async move {
            redis::cmd("RPUSH")
                .arg(&key)
                .arg(entry)
                .query_async::<u64>(&mut c)
                .await
                .map(drop)
        })
        .await
    }

    /// The collected messages (JSON) of `schedule` in `group`, in order.
    pub(crate) async fn collected(
        &self,
        schedule: &str,
        group: &str,
    ) -> Result<Vec<String>, Unavailable> {
        let key = self.key(&["collected", schedule, group]);
        self.run(|mut c| async move {
            redis::cmd("LRANGE")
                .arg(&key)
                .arg(0)
                .arg(-1)
                .query_async(&mut c)
                .await
        })
        .await
    }

    /// Drops the first `n` collected messages of `schedule` in `group` (the ones a finished
    /// summary used; messages collected meanwhile stay).
    pub(crate) async fn drop_collected(
        &self,
        schedule: &str,
        group: &str,
        n: usize,
    ) -> Result<(), Unavailable> {
        let key = self.key(&["collected", schedule, group]);
        self.run(|mut c| async move {
            redis::cmd("LTRIM")
                .arg(&key)
                .arg(n)
                .arg(-1)
                .query_async::<()>(&mut c)
                .await
        })
        .await
    }
}
