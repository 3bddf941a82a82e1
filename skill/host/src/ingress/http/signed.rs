//! The host's callback gate: DingTalk's `timestamp`/`sign` check (`signature.rs`) and the replay
//! guard (`replay.rs`) in front of the skill.

use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode};
use openclaw_skill_abi::{ChunkStream, Skill};

use super::gate::{CallbackGate, CallbackRefusal, Rejected};
use super::replay::{ReplayGuard, DEFAULT_CAPACITY};
use super::signature::{self, Verified};
use crate::secret::Secret;

/// Checks callbacks signed with the app secret and accepts each signed pair once.
pub struct SignedCallbacks {
    app_secret: Secret,
    window_ms: i64,
    replay: Arc<ReplayGuard>,
    skill: Arc<Skill>,
}

/// The local clock in ms since the epoch.
fn epoch_ms_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl SignedCallbacks {
    /// A gate for callbacks signed with `app_secret` whose timestamp is at most `window_secs`
    /// away, in front of `skill`.
    pub fn new(app_secret: Secret, window_secs: u64, skill: Arc<Skill>) -> SignedCallbacks {
        let window_ms =
            i64::try_from(window_secs.saturating_mul(1000)).unwrap_or(signature::MAX_SKEW_MS);
        SignedCallbacks {
            app_secret,
            window_ms,
            replay: ReplayGuard::new(window_ms, DEFAULT_CAPACITY),
            skill,
        }
    }

    /// The signature check at local time `now_ms`.
    fn check(&self, headers: &HeaderMap, now_ms: i64) -> Result<Verified, CallbackRefusal> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        signature::verify(
            self.app_secret.expose(),
            header("timestamp"),
            header("sign"),
            now_ms,
            self.window_ms,
        )
        .map_err(|e| {
            let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::FORBIDDEN);
            CallbackRefusal::new(status, e.kind(), e.reason(self.window_ms))
        })
    }
}

/// The refusal of a pair accepted before.
fn replayed() -> CallbackRefusal {
    CallbackRefusal::new(
        StatusCode::FORBIDDEN,
        "replay",
        "replayed callback: this timestamp and sign were accepted before",
    )
}

impl CallbackGate for SignedCallbacks {
    fn verify(&self, headers: &HeaderMap) -> Result<(), CallbackRefusal> {
        let verified = self.check(headers, epoch_ms_now())?;
        if self.replay.seen(&verified) {
            return Err(replayed());
        }
        Ok(())
    }

    fn accept(&self, headers: &HeaderMap, event: &str) -> Result<ChunkStream, Rejected> {
        let now = epoch_ms_now();
        let verified = self.check(headers, now).map_err(Rejected::Refused)?;
        let claim = self
            .replay
            .claim(verified, now)
            .ok_or_else(|| Rejected::Refused(replayed()))?;
        let stream = self.skill.handle_event(event).map_err(Rejected::Skill)?;
        claim.keep();
        Ok(stream)
    }

    fn describe(&self) -> String {
        format!("signature window {} s", self.window_ms / 1000)
    }
}
