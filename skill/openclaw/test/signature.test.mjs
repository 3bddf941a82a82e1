// Signature verification of DingTalk HTTP callbacks; vectors shared with the emulator
// (emulator/src/event.rs `signature_test_vectors`, produced independently with Python's hmac).
import assert from 'node:assert/strict';
import test from 'node:test';

import { MAX_SKEW_MS, callbackSignature, verifyCallback } from '../src/signature.js';

const VECTORS = [
  ['emulator-app-secret', 1_577_262_236_757, 'sCjh/XYDgAUEl/dteutk5kgSqJ7v0txVWX/JZKCDKX8='],
  ['this is secret', 1_700_000_000_000, 'sSFWELbV2YwjdDQhWZwTcWlX5BWUx5J6TPpsZmuPii0='],
];

test('callbackSignature matches the shared test vectors', () => {
  for (const [secret, ts, sign] of VECTORS) {
    assert.equal(callbackSignature(secret, ts), sign);
    assert.equal(callbackSignature(secret, String(ts)), sign);
  }
});

test('a correct signature within the skew window is accepted', () => {
  for (const [secret, ts, sign] of VECTORS) {
    const pair = { ok: true, at: ts, timestamp: String(ts), sign };
    assert.deepEqual(verifyCallback({ timestamp: String(ts), sign }, secret, ts + 1000), pair);
    assert.deepEqual(verifyCallback({ timestamp: String(ts), sign }, secret, ts - MAX_SKEW_MS), pair);
  }
});

test('missing or blank headers are 401', () => {
  const [secret, ts, sign] = VECTORS[0];
  assert.equal(verifyCallback({ sign }, secret, ts).status, 401);
  assert.equal(verifyCallback({ timestamp: String(ts) }, secret, ts).status, 401);
  assert.equal(verifyCallback({ timestamp: '', sign: '' }, secret, ts).status, 401);
  assert.deepEqual(verifyCallback({ timestamp: String(ts), sign: '  ' }, secret, ts), { ok: false, status: 401, reason: 'missing timestamp or sign header', kind: 'missing_signature' });
  // surrounding whitespace is trimmed (as the Rust host does)
  assert.deepEqual(verifyCallback({ timestamp: ` ${ts}`, sign: `${sign} ` }, secret, ts), { ok: true, at: ts, timestamp: String(ts), sign });
});

test('wrong, truncated or foreign signatures are 403', () => {
  const [secret, ts, sign] = VECTORS[0];
  const t = String(ts);
  const flipped = (sign[0] === 'A' ? 'B' : 'A') + sign.slice(1);
  for (const bad of [flipped, sign.slice(0, -1), `${sign}=`, VECTORS[1][2], 'x']) {
    const v = verifyCallback({ timestamp: t, sign: bad }, secret, ts);
    assert.equal(v.ok, false);
    assert.equal(v.status, 403, bad);
    assert.equal(v.reason, 'bad signature');
  }
  // the right signature for another secret
  assert.equal(verifyCallback({ timestamp: t, sign }, 'other-secret', ts).status, 403);
});

test('stale or malformed timestamps are 403 and never reveal the secret', () => {
  const [secret, ts, sign] = VECTORS[0];
  const stale = verifyCallback({ timestamp: String(ts), sign }, secret, ts + MAX_SKEW_MS + 1);
  assert.deepEqual(stale, { ok: false, status: 403, reason: 'timestamp is more than one hour off', kind: 'stale_timestamp' });
  const future = verifyCallback({ timestamp: String(ts), sign }, secret, ts - MAX_SKEW_MS - 1);
  assert.equal(future.status, 403);
  // i64 parsing like Rust's str::parse: a sign is allowed, the MAC covers the header text
  for (const [t, reason] of [
    ['-1', 'timestamp is more than one hour off'],
    ['99999999999999999', 'timestamp is more than one hour off'],
    ['1e12', 'timestamp is not a number'],
    ['12a', 'timestamp is not a number'],
    ['9223372036854775808', 'timestamp is not a number'],
    [`+${ts}`, 'bad signature'],
  ]) {
    const v = verifyCallback({ timestamp: t, sign }, secret, ts);
    assert.deepEqual([v.status, v.reason], [403, reason], t);
  }
  assert.equal(verifyCallback({ timestamp: `+${ts}`, sign: callbackSignature(secret, `+${ts}`) }, secret, ts).ok, true);
  // a non-canonical Base64 of the right MAC is refused (Rust decodes strictly)
  const noncanonical = sign.slice(0, -2) + String.fromCharCode(sign.charCodeAt(sign.length - 2) + 1) + '=';
  assert.equal(verifyCallback({ timestamp: String(ts), sign: noncanonical }, secret, ts).status, 403);
});

test('a narrower window (ingress.http.signature_window_secs) refuses older timestamps', () => {
  const [secret, ts, sign] = VECTORS[0];
  const t = String(ts);
  assert.equal(verifyCallback({ timestamp: t, sign }, secret, ts + 60_000, 60_000).ok, true);
  assert.deepEqual(verifyCallback({ timestamp: t, sign }, secret, ts + 60_001, 60_000), {
    ok: false,
    status: 403,
    reason: 'timestamp is more than 60 s off (ingress.http.signature_window_secs)',
    kind: 'stale_timestamp',
  });
});
