//! HTTP callback signature: `sign == Base64(HmacSHA256(key = appSecret, message = timestamp +
//! "\n" + appSecret))`, no URL-encoding, and `|now − timestamp|` within the window (DingTalk's
//! rule is one hour; `ingress.http.signature_window_secs` may narrow it).
//!
//! The signature covers the timestamp only, not the body: whoever sees one signed callback can
//! send any body with its headers while the timestamp is in the window. [`verify`] returns the
//! verified pair so that the caller can accept each pair once (see `replay.rs`).
//! The rule: docs/dingtalk-events.md, "HTTP callbacks".

use base64::{engine::general_purpose::STANDARD as B64, Engine};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// DingTalk's own limit of the distance between the callback's `timestamp` and the local clock
/// (the default window).
pub(crate) const MAX_SKEW_MS: i64 = 60 * 60 * 1000;

/// A callback whose signature checked out: the timestamp and the MAC it carried (the pair that
/// must not be accepted twice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// The `timestamp` header, in ms since the epoch.
    pub at: i64,
    /// The decoded `sign` header (the MAC over the timestamp's exact text).
    pub mac: [u8; 32],
}

/// Why a callback's signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    /// The `timestamp` or `sign` header is absent or empty (answered 401).
    Missing,
    /// `timestamp` is not a number of milliseconds (answered 403).
    BadTimestamp,
    /// `timestamp` is further from now than the window (answered 403).
    Stale,
    /// `sign` does not match (answered 403).
    Mismatch,
}

impl SignatureError {
    /// The HTTP status the callback gets.
    pub fn status(self) -> u16 {
        match self {
            SignatureError::Missing => 401,
            _ => 403,
        }
    }

    /// A short reason, safe to log and to answer, for a window of `window_ms`.
    pub fn reason(self, window_ms: i64) -> String {
        match self {
            SignatureError::Missing => "missing timestamp or sign header".into(),
            SignatureError::BadTimestamp => "timestamp is not a number".into(),
            SignatureError::Stale if window_ms == MAX_SKEW_MS => {
                "timestamp is more than one hour off".into()
            }
            SignatureError::Stale => format!(
                "timestamp is more than {} s off (ingress.http.signature_window_secs)",
                window_ms / 1000
            ),
            SignatureError::Mismatch => "bad signature".into(),
        }
    }

    /// The `reason` label of the refusal metric.
    pub fn kind(self) -> &'static str {
        match self {
            SignatureError::Missing => "missing_signature",
            SignatureError::BadTimestamp => "bad_timestamp",
            SignatureError::Stale => "stale_timestamp",
            SignatureError::Mismatch => "bad_signature",
        }
    }
}

fn mac(app_secret: &str, timestamp: &str) -> Hmac<Sha256> {
    // HMAC takes keys of any length: `new_from_slice` cannot fail here.
    let mut mac = match <Hmac<Sha256> as KeyInit>::new_from_slice(app_secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts any key length"),
    };
    mac.update(timestamp.as_bytes());
    mac.update(b"\n");
    mac.update(app_secret.as_bytes());
    mac
}

/// The `sign` DingTalk computes for `timestamp` (the header's exact text).
#[cfg(test)]
pub fn sign(app_secret: &str, timestamp: &str) -> String {
    B64.encode(mac(app_secret, timestamp).finalize().into_bytes())
}

/// Checks the `timestamp` and `sign` headers of a robot callback at local time `now_ms`,
/// accepting a timestamp at most `window_ms` away. The signature is compared in constant time
/// (`Mac::verify_slice`).
pub fn verify(
    app_secret: &str,
    timestamp: Option<&str>,
    sign: Option<&str>,
    now_ms: i64,
    window_ms: i64,
) -> Result<Verified, SignatureError> {
    check(timestamp, sign, now_ms, window_ms, |t| mac(app_secret, t))
}

/// Checks the `x-ddpaas-signature-timestamp` and `x-ddpaas-signature` headers of a card
/// callback (signed with the route's `apiSecret`, see `card_callbacks.rs`) as [`verify`] does.
pub fn verify_card(
    api_secret: &str,
    timestamp: Option<&str>,
    sign: Option<&str>,
    now_ms: i64,
    window_ms: i64,
) -> Result<Verified, SignatureError> {
    check(timestamp, sign, now_ms, window_ms, |t| {
        super::card_callbacks::card_signature_mac(api_secret, t)
    })
}

/// The checks both signatures share; `mac` is the MAC over a timestamp's exact text.
fn check(
    timestamp: Option<&str>,
    sign: Option<&str>,
    now_ms: i64,
    window_ms: i64,
    mac: impl Fn(&str) -> Hmac<Sha256>,
) -> Result<Verified, SignatureError> {
    let (timestamp, sign) = match (timestamp.map(str::trim), sign.map(str::trim)) {
        (Some(t), Some(s)) if !t.is_empty() && !s.is_empty() => (t, s),
        _ => return Err(SignatureError::Missing),
    };
    let at: i64 = timestamp
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    if now_ms.abs_diff(at) > window_ms.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    let given = B64.decode(sign).map_err(|_| SignatureError::Mismatch)?;
    mac(timestamp)
        .verify_slice(&given)
        .map_err(|_| SignatureError::Mismatch)?;
    // `verify_slice` accepted it, so it is the 32-byte MAC.
    let mac = <[u8; 32]>::try_from(given.as_slice()).map_err(|_| SignatureError::Mismatch)?;
    Ok(Verified { at, mac })
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: i64 = MAX_SKEW_MS;

    // The same vectors as `openclaw_dingtalk_emulator::event` (computed independently with Python's
    // hmac/hashlib/base64).
    const VECTORS: [(&str, i64, &str); 2] = [
        (
            "emulator-app-secret",
            1_577_262_236_757,
            "sCjh/XYDgAUEl/dteutk5kgSqJ7v0txVWX/JZKCDKX8=",
        ),
        (
            "this is secret",
            1_700_000_000_000,
            "sSFWELbV2YwjdDQhWZwTcWlX5BWUx5J6TPpsZmuPii0=",
        ),
    ];

    #[test]
    fn test_vectors() {
        for (secret, ts, expected) in VECTORS {
            assert_eq!(sign(secret, &ts.to_string()), expected);
            let ok = verify(secret, Some(&ts.to_string()), Some(expected), ts, W).unwrap();
            assert_eq!(ok.at, ts);
            assert_eq!(B64.encode(ok.mac), expected);
        }
    }

    #[test]
    fn refusals() {
        let (secret, ts, good) = VECTORS[0];
        let t = ts.to_string();
        assert_eq!(
            verify(secret, None, Some(good), ts, W),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(secret, Some(&t), Some(" "), ts, W),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(secret, Some("yesterday"), Some(good), ts, W),
            Err(SignatureError::BadTimestamp)
        );
        assert_eq!(
            verify("other secret", Some(&t), Some(good), ts, W),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(secret, Some(&t), Some("not base64!"), ts, W),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(secret, Some(&t), Some(&good[..20]), ts, W),
            Err(SignatureError::Mismatch)
        );
        // Exactly one hour off is accepted, one ms more is not, in both directions.
        assert_eq!(
            verify(secret, Some(&t), Some(good), ts + MAX_SKEW_MS, W).map(|v| v.at),
            Ok(ts)
        );
        assert_eq!(
            verify(secret, Some(&t), Some(good), ts - MAX_SKEW_MS, W).map(|v| v.at),
            Ok(ts)
        );
        assert_eq!(
            verify(secret, Some(&t), Some(good), ts + MAX_SKEW_MS + 1, W),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(secret, Some(&t), Some(good), ts - MAX_SKEW_MS - 1, W),
            Err(SignatureError::Stale)
        );
        // A narrower window.
        assert_eq!(
            verify(secret, Some(&t), Some(good), ts + 60_001, 60_000),
            Err(SignatureError::Stale)
        );
        assert!(verify(secret, Some(&t), Some(good), ts + 60_000, 60_000).is_ok());
        assert_eq!(
            SignatureError::Stale.reason(W),
            "timestamp is more than one hour off"
        );
        assert_eq!(
            SignatureError::Stale.reason(60_000),
            "timestamp is more than 60 s off (ingress.http.signature_window_secs)"
        );
        assert_eq!(SignatureError::Missing.status(), 401);
        assert_eq!(SignatureError::Mismatch.status(), 403);
        assert_eq!(SignatureError::Stale.status(), 403);
    }

    /// Properties of the callback header check (the soak runs them for minutes).
    mod prop {
        use proptest::prelude::*;

        use super::*;
        use crate::properties::config;

        proptest! {
            #![proptest_config(config())]

            #[test]
            fn arbitrary_headers_never_panic(
                timestamp in "\\PC{0,30}|-?[0-9]{1,20}",
                signature in "\\PC{0,60}|[A-Za-z0-9+/=]{0,60}",
                now in any::<i64>(),
                window in 0i64..=3_600_000,
            ) {
                let _ = verify("secret", Some(&timestamp), Some(&signature), now, window);
            }

            #[test]
            fn only_the_app_secret_signs_within_the_window(
                secret in "\\PC{1,30}",
                at in 0i64..4_000_000_000_000,
                skew in -3_600_000i64..=3_600_000,
            ) {
                let t = at.to_string();
                let good = sign(&secret, &t);
                prop_assert!(verify(&secret, Some(&t), Some(&good), at + skew, W).is_ok());
                let other = format!("{secret}x");
                prop_assert_eq!(
                    verify(&other, Some(&t), Some(&good), at + skew, W),
                    Err(SignatureError::Mismatch)
                );
                let late = at + W + 1 + skew.abs();
                prop_assert_eq!(
                    verify(&secret, Some(&t), Some(&good), late, W),
                    Err(SignatureError::Stale)
                );
            }
        }
    }
}
