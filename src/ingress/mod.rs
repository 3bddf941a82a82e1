//! The first step of the flow, on the host's side of it: what hosts ask the plugin about
//! DingTalk's ingress, so that every host follows the same rules.
//!
//! - [`host_settings`] (`settings.rs`): the manifest's ingress settings, resolved, for the host;
//! - [`stream_open_body`] (`stream_open.rs`): the Stream-mode `connections/open` request;
//! - [`CallbackGate`]: whether an HTTP callback is genuine: its signature and timestamp window
//!   (`signature.rs`; a card callback's own signature: [`card_callbacks`]) and that it is not a
//!   replay (`replay.rs`). See
//!   `docs/dingtalk-events.md` ("HTTP callbacks").
//!
//! What arrives then goes on to [`crate::event`].

pub(crate) mod card_callbacks;
mod replay;
mod settings;
mod signature;
mod stream_open;

use std::sync::Arc;

pub(crate) use settings::host_settings;
pub(crate) use stream_open::stream_open_body;

use crate::event::AppId;
use crate::manifest::Manifest;
use crate::secret::Secret;
use crate::shared::SharedState;
use replay::{Claim, ReplayGuard, DEFAULT_CAPACITY};
use signature::{SignatureError, Verified};

/// A refused HTTP callback: the status to answer with, a stable label and the reason (safe to
/// log and to answer with).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refused {
    /// HTTP status (401 or 403).
    pub http_status: u16,
    /// Stable label: `missing_signature`, `bad_timestamp`, `stale_timestamp`,
    /// `bad_signature`, `replay`.
    pub kind: &'static str,
    /// Why.
    pub reason: String,
}

/// The secrets one app's callbacks are signed with.
struct AppSecrets {
    app: AppId,
    /// Robot messages: the app secret.
    app_secret: Secret,
    /// Card callbacks: the `apiSecret` of the app's route (`card_callbacks::api_secret`).
    card_secret: Secret,
}

/// Checks HTTP callbacks for the skill's apps: signature (each app's secret is tried: the one
/// that signed tells which app the callback is for), timestamp window, replays. Threads: any.
pub(crate) struct CallbackGate {
    apps: Vec<AppSecrets>,
    window_ms: i64,
    replay: Arc<ReplayGuard>,
    /// With `shared_state:`, the replay cache of every host behind the load balancer.
    shared: std::sync::OnceLock<Arc<SharedState>>,
}

/// A callback's signed timestamp, claimed (here, and by every host with shared state):
/// accepted for good by [`Claimed::keep`], given back when dropped.
pub(crate) struct Claimed {
    local: Claim,
    shared: Option<SharedClaim>,
}

impl Claimed {
    /// The event was taken: a second copy of these headers is a replay from now on.
    pub(crate) fn keep(mut self) {
        if let Some(shared) = &mut self.shared {
            shared.kept = true;
        }
        self.local.keep();
    }
}

/// A claim in the hosts' shared replay cache, given back on drop unless kept.
struct SharedClaim {
    state: Arc<SharedState>,
    key: String,
    kept: bool,
}

impl Drop for SharedClaim {
    fn drop(&mut self) {
        if !self.kept {
            self.state.release_callback(&self.key);
        }
    }
}

/// The shared replay cache's key of a verified callback of `app`.
fn shared_key(app: AppId, verified: &Verified) -> String {
    let mac: String = verified.mac.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}:{}:{mac}", app.0, verified.at)
}

impl CallbackGate {
    /// The gate for the manifest's apps and `ingress.http.signature_window_secs`.
    pub(crate) fn new(manifest: &Manifest) -> CallbackGate {
        let window_ms = i64::try_from(
            manifest
                .ingress
                .http
                .signature_window_secs
                .saturating_mul(1000),
        )
        .unwrap_or(signature::MAX_SKEW_MS);
        CallbackGate {
            apps: manifest
                .apps
                .iter()
                .enumerate()
                .map(|(i, app)| AppSecrets {
                    app: AppId(i),
                    app_secret: app.app_secret.clone(),
                    card_secret: card_callbacks::api_secret(&app.app_secret),
                })
                .collect(),
            window_ms,
            replay: ReplayGuard::new(window_ms, DEFAULT_CAPACITY),
            shared: std::sync::OnceLock::new(),
        }
    }

    /// Shares the replay cache with the other hosts of the apps from now on.
    pub(crate) fn share(&self, shared: Arc<SharedState>) {
        let _ = self.shared.set(shared);
    }

    /// Checks the headers (a JSON object, names in any case) at local time `now_ms` without
    /// claiming anything: the host may read the body now.
    pub(crate) fn verify(&self, headers_json: &str, now_ms: i64) -> Result<(), GateError> {
        let (verified, app) = self.signature(headers_json, now_ms)?;
        if self.replay.was_accepted(verified, now_ms) {
            return Err(GateError::Refused(replayed()));
        }
        if let Some(shared) = self.shared.get() {
            if let Ok(true) = shared.callback_claimed(&shared_key(app, &verified)) {
                return Err(GateError::Refused(replayed()));
            }
        }
        Ok(())
    }

    /// Checks the headers and claims their signed timestamp; also says which app signed.
    pub(crate) fn claim(
        &self,
        headers_json: &str,
        now_ms: i64,
    ) -> Result<(Claimed, AppId), GateError> {
        let (verified, app) = self.signature(headers_json, now_ms)?;
        let local = self
            .replay
            .claim(verified, now_ms)
            .ok_or_else(|| GateError::Refused(replayed()))?;
        let shared = match self.shared.get() {
            None => None,
            Some(state) => {
                let key = shared_key(app, &verified);
                let ttl = std::time::Duration::from_millis(self.window_ms.unsigned_abs() * 2);
                match state.claim_callback(&key, ttl) {
                    // Another host took it: a replay (the local claim is given back).
                    Ok(false) => return Err(GateError::Refused(replayed())),
                    Ok(true) => Some(SharedClaim {
                        state: state.clone(),
                        key,
                        kept: false,
                    }),
                    // Redis is down: this host's cache decides.
                    Err(_) => None,
                }
            }
        };
        Ok((Claimed { local, shared }, app))
    }

    /// The verified signature and the app whose secret made it; a refusal when none did (the
    /// first app's answer: the checks of the headers are the same for every app).
    fn signature(&self, headers_json: &str, now_ms: i64) -> Result<(Verified, AppId), GateError> {
        let headers: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(headers_json).map_err(|e| {
                GateError::BadHeaders(format!("headers_json is not a JSON object: {e}"))
            })?;
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .and_then(|(_, v)| v.as_str())
        };
        let mut first_error = None;
        for secrets in &self.apps {
            // A card callback (a button press) is signed with the route's `apiSecret`.
            let checked = match header("x-ddpaas-signature-timestamp") {
                Some(timestamp) => signature::verify_card(
                    secrets.card_secret.expose(),
                    Some(timestamp),
                    header("x-ddpaas-signature"),
                    now_ms,
                    self.window_ms,
                ),
                None => signature::verify(
                    secrets.app_secret.expose(),
                    header("timestamp"),
                    header("sign"),
                    now_ms,
                    self.window_ms,
                ),
            };
            match checked {
                Ok(verified) => return Ok((verified, secrets.app)),
                // Only the signature differs from app to app.
                Err(e) if e != SignatureError::Mismatch => {
                    first_error = Some(e);
                    break;
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        let e = first_error.unwrap_or(SignatureError::Mismatch);
        Err(GateError::Refused(Refused {
            http_status: e.status(),
            kind: e.kind(),
            reason: e.reason(self.window_ms),
        }))
    }
}

fn replayed() -> Refused {
    Refused {
        http_status: 403,
        kind: "replay",
        reason: "replayed callback: this timestamp and sign were accepted before".into(),
    }
}

/// Why the gate said no.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GateError {
    /// The callback is refused.
    Refused(Refused),
    /// The host passed headers that are not a JSON object (a host bug).
    BadHeaders(String),
}

/// Milliseconds since the Unix epoch, by the local clock.
pub(crate) fn epoch_ms_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const SECRET: &str = "钉钉-app-secret";

    fn gate(window_secs: u64) -> CallbackGate {
        let text = format!(
            "name: 客服\nversion: \"1\"\ngateway:\n  endpoint: http://127.0.0.1:1\ndingtalk:\n  app_key: k\n  app_secret: {SECRET}\n  card_template_id: tpl\ningress:\n  http:\n    signature_window_secs: {window_secs}\n"
        );
        CallbackGate::new(&Manifest::load_with(&text, Path::new("."), |_| None).unwrap())
    }

    fn headers(timestamp: i64, secret: &str) -> String {
        serde_json::json!({
            "Timestamp": timestamp.to_string(),
            "SIGN": signature::sign(secret, &timestamp.to_string()),
            "content-type": "application/json",
        })
        .to_string()
    }

    fn refused(result: Result<impl Sized, GateError>) -> Refused {
        match result {
            Err(GateError::Refused(r)) => r,
            Err(other) => panic!("not a refusal: {other:?}"),
            Ok(_) => panic!("accepted"),
        }
    }

    #[test]
    fn a_signed_callback_is_accepted_once_and_its_replay_refused() {
        let gate = gate(3600);
        let now = 1_700_000_000_000;
        let h = headers(now, SECRET);
        gate.verify(&h, now).unwrap();
        gate.claim(&h, now + 10).unwrap().0.keep();
        let again = refused(gate.verify(&h, now + 20));
        assert_eq!((again.http_status, again.kind), (403, "replay"));
        assert_eq!(refused(gate.claim(&h, now + 20)).kind, "replay");
    }

    #[test]
    fn a_claim_not_kept_lets_the_same_callback_come_again() {
        let gate = gate(3600);
        let now = 1_700_000_000_000;
        let h = headers(now, SECRET);
        let claim = gate.claim(&h, now).unwrap();
        assert_eq!(
            refused(gate.claim(&h, now)).kind,
            "replay",
            "claimed meanwhile"
        );
        drop(claim);
        gate.claim(&h, now).unwrap().0.keep();
    }

    #[test]
    fn forged_stale_and_unsigned_callbacks_are_refused_with_their_status() {
        let gate = gate(300);
        let now = 1_700_000_000_000;
        let forged = refused(gate.verify(&headers(now, "另一个 secret"), now));
        assert_eq!((forged.http_status, forged.kind), (403, "bad_signature"));
        let stale = refused(gate.verify(&headers(now, SECRET), now + 300_001));
        assert_eq!((stale.http_status, stale.kind), (403, "stale_timestamp"));
        assert!(stale.reason.contains("300 s"), "{}", stale.reason);
        let unsigned = refused(gate.verify("{}", now));
        assert_eq!(
            (unsigned.http_status, unsigned.kind),
            (401, "missing_signature")
        );
        assert!(matches!(
            gate.verify("[1,2]", now),
            Err(GateError::BadHeaders(m)) if m.contains("headers_json")
        ));
    }

    #[test]
    fn with_several_apps_the_secret_that_signed_names_the_app() {
        let text = format!(
            "name: 客服\nversion: \"1\"\ngateway:\n  endpoint: http://127.0.0.1:1\napps:\n  - name: hr\n    app_key: k1\n    app_secret: 人事-secret\n  - name: it\n    app_key: k2\n    app_secret: {SECRET}\n"
        );
        let gate =
            CallbackGate::new(&Manifest::load_with(&text, Path::new("."), |_| None).unwrap());
        let now = 1_700_000_000_000;
        let (claim, app) = gate.claim(&headers(now, SECRET), now).unwrap();
        claim.keep();
        assert_eq!(app, AppId(1));
        let (_, app) = gate.claim(&headers(now + 1, "人事-secret"), now).unwrap();
        assert_eq!(app, AppId(0));
        let forged = refused(gate.verify(&headers(now + 2, "别的-secret"), now));
        assert_eq!((forged.http_status, forged.kind), (403, "bad_signature"));
        let stale = refused(gate.verify(&headers(now, SECRET), now + 3_600_001));
        assert_eq!(stale.kind, "stale_timestamp");
    }

    #[test]
    fn a_card_callback_is_checked_against_the_route_secret_not_the_app_secret() {
        let gate = gate(3600);
        let now = 1_700_000_000_000;
        let api_secret = card_callbacks::api_secret(&Secret::new(SECRET.to_owned()));
        let card = |secret: &str| {
            serde_json::json!({
                "X-DDPaaS-Signature-Timestamp": now.to_string(),
                "x-ddpaas-signature": card_callbacks::card_signature(secret, &now.to_string()),
            })
            .to_string()
        };
        gate.claim(&card(api_secret.expose()), now)
            .unwrap()
            .0
            .keep();
        assert_eq!(
            refused(gate.verify(&card(api_secret.expose()), now)).kind,
            "replay"
        );
        let with_app_secret = refused(gate.verify(&card(SECRET), now));
        assert_eq!(
            (with_app_secret.http_status, with_app_secret.kind),
            (403, "bad_signature")
        );
        let unsigned = serde_json::json!({"x-ddpaas-signature-timestamp": now.to_string()});
        assert_eq!(
            refused(gate.verify(&unsigned.to_string(), now)).http_status,
            401
        );
    }
}
