//! HTTP callback signature (dingtalk-api.md §3): `sign == Base64(HmacSHA256(key = appSecret,
//! message = timestamp + "\n" + appSecret))`, no URL-encoding, and `|now − timestamp| ≤ 1 hour`.

use base64::{engine::general_purpose::STANDARD as B64, Engine};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Largest accepted distance between the callback's `timestamp` and the local clock.
pub const MAX_SKEW_MS: i64 = 60 * 60 * 1000;

/// Why a callback's signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    /// The `timestamp` or `sign` header is absent or empty (answered 401).
    Missing,
    /// `timestamp` is not a number of milliseconds (answered 403).
    BadTimestamp,
    /// `timestamp` is more than [`MAX_SKEW_MS`] away from now (answered 403).
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

    /// A short reason, safe to log and to answer.
    pub fn reason(self) -> &'static str {
        match self {
            SignatureError::Missing => "missing timestamp or sign header",
            SignatureError::BadTimestamp => "timestamp is not a number",
            SignatureError::Stale => "timestamp is more than one hour off",
            SignatureError::Mismatch => "bad signature",
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

/// Checks the `timestamp` and `sign` headers of a callback at local time `now_ms`. The signature
/// is compared in constant time (`Mac::verify_slice`).
pub fn verify(
    app_secret: &str,
    timestamp: Option<&str>,
    sign: Option<&str>,
    now_ms: i64,
) -> Result<(), SignatureError> {
    let (timestamp, sign) = match (timestamp.map(str::trim), sign.map(str::trim)) {
        (Some(t), Some(s)) if !t.is_empty() && !s.is_empty() => (t, s),
        _ => return Err(SignatureError::Missing),
    };
    let at: i64 = timestamp
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    if now_ms.abs_diff(at) > MAX_SKEW_MS.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    let given = B64.decode(sign).map_err(|_| SignatureError::Mismatch)?;
    mac(app_secret, timestamp)
        .verify_slice(&given)
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

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
            assert_eq!(
                verify(secret, Some(&ts.to_string()), Some(expected), ts),
                Ok(())
            );
        }
    }

    #[test]
    fn refusals() {
        let (secret, ts, good) = VECTORS[0];
        let t = ts.to_string();
        assert_eq!(
            verify(secret, None, Some(good), ts),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(secret, Some(&t), Some(" "), ts),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(secret, Some("yesterday"), Some(good), ts),
            Err(SignatureError::BadTimestamp)
        );
        assert_eq!(
            verify("other secret", Some(&t), Some(good), ts),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(secret, Some(&t), Some("not base64!"), ts),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(secret, Some(&t), Some(&good[..20]), ts),
            Err(SignatureError::Mismatch)
        );
        // Exactly one hour off is accepted, one ms more is not, in both directions.
        assert_eq!(
            verify(secret, Some(&t), Some(good), ts + MAX_SKEW_MS),
            Ok(())
        );
        assert_eq!(
            verify(secret, Some(&t), Some(good), ts - MAX_SKEW_MS),
            Ok(())
        );
        assert_eq!(
            verify(secret, Some(&t), Some(good), ts + MAX_SKEW_MS + 1),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(secret, Some(&t), Some(good), ts - MAX_SKEW_MS - 1),
            Err(SignatureError::Stale)
        );
        assert_eq!(SignatureError::Missing.status(), 401);
        assert_eq!(SignatureError::Mismatch.status(), 403);
        assert_eq!(SignatureError::Stale.status(), 403);
    }
}
