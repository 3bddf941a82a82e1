// signature.js: DingTalk HTTP-callback authentication (dingtalk-api.md §3).
//
//   sign = Base64(HmacSHA256(key = appSecret, message = timestamp + "\n" + appSecret))
//
// no URL-encoding; refused when |now - timestamp| > 1 hour. Mirrors the Rust host
// (skill/host/src/ingress/signature.rs): headers trimmed, empty = missing (401); a timestamp that
// is not an i64 (403); stale (403); a sign that is not the canonical Base64 of the MAC (403),
// compared in constant time. Test vectors shared with the emulator and the Rust host.

import { createHmac, timingSafeEqual } from 'node:crypto';

/** Largest accepted clock difference between DingTalk and this host. */
export const MAX_SKEW_MS = 60 * 60 * 1000;

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;

/** Why a callback was refused: HTTP status and the reason (the Rust host's wording). */
export const Refusal = Object.freeze({
  MISSING: { status: 401, reason: 'missing timestamp or sign header' },
  BAD_TIMESTAMP: { status: 403, reason: 'timestamp is not a number' },
  STALE: { status: 403, reason: 'timestamp is more than one hour off' },
  MISMATCH: { status: 403, reason: 'bad signature' },
});

/** The `sign` header DingTalk sends for a timestamp (its exact header text). */
export function callbackSignature(appSecret, timestamp) {
  return createHmac('sha256', appSecret).update(`${timestamp}\n${appSecret}`, 'utf8').digest('base64');
}

/**
 * Checks the `timestamp` and `sign` headers at local time `nowMs`. Returns {ok: true} or
 * {ok: false, status, reason}; the reason never contains the secret or the expected signature.
 */
export function verifyCallback({ timestamp, sign }, appSecret, nowMs = Date.now()) {
  const t = typeof timestamp === 'string' ? timestamp.trim() : '';
  const s = typeof sign === 'string' ? sign.trim() : '';
  if (!t || !s) return { ok: false, ...Refusal.MISSING };
  if (!/^[+-]?\d+$/.test(t)) return { ok: false, ...Refusal.BAD_TIMESTAMP };
  const at = BigInt(t);
  if (at < I64_MIN || at > I64_MAX) return { ok: false, ...Refusal.BAD_TIMESTAMP };
  const skew = BigInt(Math.trunc(nowMs)) - at;
  if ((skew < 0n ? -skew : skew) > BigInt(MAX_SKEW_MS)) return { ok: false, ...Refusal.STALE };
  // Equal to the canonical Base64 of the MAC <=> decodes (strictly) to the MAC, as in Rust.
  const expected = Buffer.from(callbackSignature(appSecret, t), 'utf8');
  const given = Buffer.from(s, 'utf8');
  const ok = given.length === expected.length && timingSafeEqual(given, expected);
  return ok ? { ok: true } : { ok: false, ...Refusal.MISMATCH };
}
