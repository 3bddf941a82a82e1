// signature.js: DingTalk HTTP-callback authentication (docs/dingtalk-events.md, "HTTP callbacks").
//
//   sign = Base64(HmacSHA256(key = appSecret, message = timestamp + "\n" + appSecret))
//
// no URL-encoding; refused when |now - timestamp| is more than the window (DingTalk's rule is one
// hour; ingress.http.signature_window_secs may narrow it). Mirrors the Rust host
// (skill/host/src/ingress/signature.rs): headers trimmed, empty = missing (401); a timestamp that
// is not an i64 (403); stale (403); a sign that is not the canonical Base64 of the MAC (403),
// compared in constant time. Test vectors shared with the emulator and the Rust host.

import { createHmac, timingSafeEqual } from 'node:crypto';

/** DingTalk's largest accepted clock difference between DingTalk and this host (the default
 *  window). */
export const MAX_SKEW_MS = 60 * 60 * 1000;

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;

/** Why a callback was refused: HTTP status, the reason (the Rust host's wording) and its kind
 *  (the Rust host's metric label). */
export const Refusal = Object.freeze({
  MISSING: { status: 401, reason: 'missing timestamp or sign header', kind: 'missing_signature' },
  BAD_TIMESTAMP: { status: 403, reason: 'timestamp is not a number', kind: 'bad_timestamp' },
  STALE: { status: 403, reason: 'timestamp is more than one hour off', kind: 'stale_timestamp' },
  MISMATCH: { status: 403, reason: 'bad signature', kind: 'bad_signature' },
});

/** The stale refusal for a window of `windowMs`. */
function stale(windowMs) {
  if (windowMs === MAX_SKEW_MS) return Refusal.STALE;
  return { ...Refusal.STALE, reason: `timestamp is more than ${Math.trunc(windowMs / 1000)} s off (ingress.http.signature_window_secs)` };
}

/** The `sign` header DingTalk sends for a timestamp (its exact header text). */
export function callbackSignature(appSecret, timestamp) {
  return createHmac('sha256', appSecret).update(`${timestamp}\n${appSecret}`, 'utf8').digest('base64');
}

/**
 * Checks the `timestamp` and `sign` headers at local time `nowMs`, accepting a timestamp at most
 * `windowMs` away. Returns {ok: true, at, timestamp, sign} (the verified pair: the headers' texts,
 * trimmed, and `at` the timestamp as a Number of ms) or {ok: false, status, reason, kind}; the reason never contains the secret
 * or the expected signature.
 */
export function verifyCallback({ timestamp, sign }, appSecret, nowMs = Date.now(), windowMs = MAX_SKEW_MS) {
  const t = typeof timestamp === 'string' ? timestamp.trim() : '';
  const s = typeof sign === 'string' ? sign.trim() : '';
  if (!t || !s) return { ok: false, ...Refusal.MISSING };
  if (!/^[+-]?\d+$/.test(t)) return { ok: false, ...Refusal.BAD_TIMESTAMP };
  const at = BigInt(t);
  if (at < I64_MIN || at > I64_MAX) return { ok: false, ...Refusal.BAD_TIMESTAMP };
  const skew = BigInt(Math.trunc(nowMs)) - at;
  if ((skew < 0n ? -skew : skew) > BigInt(Math.trunc(windowMs))) return { ok: false, ...stale(windowMs) };
  // Equal to the canonical Base64 of the MAC <=> decodes (strictly) to the MAC, as in Rust.
  const expected = Buffer.from(callbackSignature(appSecret, t), 'utf8');
  const given = Buffer.from(s, 'utf8');
  const ok = given.length === expected.length && timingSafeEqual(given, expected);
  return ok ? { ok: true, at: Number(at), timestamp: t, sign: s } : { ok: false, ...Refusal.MISMATCH };
}
