// http-ingress.js: the DingTalk HTTP-callback route on the gateway's own port
// (api.registerHttpRoute, auth "plugin": the signature is the authentication).
//
// The same contract as the Rust host's callback server. The route keeps the limits of the
// request itself; whether a callback is genuine is the .so's rule (verify_callback,
// handle_callback):
// 405 unless POST → at most ingress.http.max_connections callbacks at once (a callback waits
// for a slot up to read_timeout_ms, then 503) → verify_callback on the headers, before the body
// is read (401 no signature, 403 bad or stale signature or a replay: the status, label and
// reason are the .so's) → 413 over ingress.http.max_body_bytes → 408 when the body does not
// arrive within ingress.http.read_timeout_ms → 400 not UTF-8 → handle_callback (verifies again,
// claims the signed timestamp, hands the raw event to the skill and returns at once; the reply
// runs afterwards) → 200 {"success":true}, or its refusal (403 a replay that raced a copy), 400
// with the .so's reason (not a robot message), 503 (shutting down / not started), 500. The
// numbers come from host_settings. Refusals are {"success":false,"message":…} and logged at
// most once per source address and reason a minute (refusal-log.js).
//
// The route is mounted on the gateway's HTTP server, so the limits of the connection itself
// (how long a client may take to send the request head, idle keep-alive connections, how many
// connections) are the gateway's server's, not this route's.

import { isUtf8 } from 'node:buffer';

import { RefusalLog } from './refusal-log.js';

const JSON_TYPE = 'application/json; charset=utf-8';

/** Writes the answer (the Rust host's body shape). */
function answer(res, status, message, headers = {}) {
  if (res.headersSent) return;
  res.statusCode = status;
  res.setHeader('Content-Type', JSON_TYPE);
  res.setHeader('Cache-Control', 'no-store');
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.end(JSON.stringify(status === 200 ? { success: true } : { success: false, message }));
}

/** Reads at most `limit` bytes; resolves to a Buffer, or null when the body is larger. */
export function readBody(req, limit, timeoutMs = 10_000) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    let done = false;
    const finish = (err, value) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk) => {
      size += chunk.length;
      if (size > limit) {
        req.resume(); // discard the rest
        finish(null, null);
      } else chunks.push(chunk);
    };
    const onEnd = () => finish(null, Buffer.concat(chunks, size));
    const onError = (e) => finish(e);
    const timer = setTimeout(() => finish(Object.assign(new Error('request body timeout'), { code: 'BODY_TIMEOUT' })), timeoutMs);
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

/** HTTP status and refusal kind for an outcome of SkillHost (`refused` carries its own). */
const OUTCOME = {
  ok: [200, 'ok'],
  invalid: [400, 'invalid_event'],
  unavailable: [503, 'shutting_down'],
  failed: [500, 'failed'],
};

/** [status, kind] for an outcome. */
function statusOf(result) {
  if (result.outcome === 'refused') return [result.status || 403, result.kind || 'refused'];
  return OUTCOME[result.outcome] ?? [500, 'failed'];
}

/** At most `max` callbacks at once; more wait for a slot (at most `timeoutMs`). */
export class Slots {
  constructor(max) {
    this.max = Math.max(1, max);
    this.busy = 0;
    this.waiters = [];
  }

  /** Resolves true with a slot, or false when none was free within `timeoutMs`. */
  acquire(timeoutMs) {
    if (this.busy < this.max) {
      this.busy++;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const waiter = { resolve, timer: null };
      waiter.timer = setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve(false);
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Gives a slot back (to the first waiter, if any). */
  release() {
    const next = this.waiters.shift();
    if (next) {
      clearTimeout(next.timer);
      next.resolve(true);
    } else {
      this.busy--;
    }
  }
}

/**
 * Creates the route handler.
 * - `maxBodyBytes`, `readTimeoutMs`, `maxConnections` → ingress.http.* (from host_settings)
 * - `verify(headersJson)` → {outcome: 'ok'} or a refusal (SkillHost.verifyCallback):
 *   the headers, before the body is read
 * - `deliver(headersJson, body)` → Promise of {outcome: 'ok'} or a refusal
 *   (SkillHost.deliverCallback): hands the callback to the .so without waiting for the reply
 * Outcomes: ok, refused {status, kind, reason}, invalid, unavailable, failed {reason}.
 * The handler's `close()` writes the pending summary lines of the refusal log.
 */
export function createCallbackHandler({ maxBodyBytes, readTimeoutMs = 10_000, maxConnections = 256, verify, deliver, logger, now = Date.now }) {
  const refusals = new RefusalLog({ logger, now });
  const slots = new Slots(maxConnections);
  async function dingtalkCallback(req, res) {
    const peer = req.socket?.remoteAddress ?? '?';
    const refuse = (status, kind, why, headers = {}) => {
      refusals.refused(peer, status, kind, why);
      req.resume();
      answer(res, status, why, { Connection: 'close', ...headers });
      return true;
    };
    const refuseWith = (result) => {
      const [status, kind] = statusOf(result);
      return refuse(status, kind, result.reason ?? result.outcome, status === 503 ? { 'Retry-After': '5' } : {});
    };
    if (req.method !== 'POST') return refuse(405, 'method', 'use POST', { Allow: 'POST' });
    if (!(await slots.acquire(readTimeoutMs))) {
      return refuse(503, 'busy', `more than ${slots.max} callbacks at once (ingress.http.max_connections)`, { 'Retry-After': '1' });
    }
    try {
      // The .so reads `timestamp` and `sign` (a robot message) or `x-ddpaas-signature-timestamp` and
      // `x-ddpaas-signature` (a card callback: a stop-button press), any case, and ignores the rest.
      const headersJson = JSON.stringify(req.headers);
      let verdict;
      try {
        verdict = verify(headersJson);
      } catch (e) {
        verdict = { outcome: 'failed', reason: e.message };
      }
      if (verdict.outcome !== 'ok') return refuseWith(verdict);
      const declared = Number(req.headers['content-length']);
      if (Number.isFinite(declared) && declared > maxBodyBytes) return refuse(413, 'body_too_large', 'body too large');
      let body;
      try {
        body = await readBody(req, maxBodyBytes, readTimeoutMs);
      } catch (e) {
        if (e.code === 'BODY_TIMEOUT') return refuse(408, 'body_timeout', `body not received within ${readTimeoutMs} ms (ingress.http.read_timeout_ms)`);
        return refuse(400, 'body_unreadable', `cannot read the body: ${e.message}`);
      }
      if (body === null) return refuse(413, 'body_too_large', 'body too large');
      if (!isUtf8(body)) return refuse(400, 'not_utf8', 'body is not UTF-8');
      let result;
      try {
        result = await deliver(headersJson, body);
      } catch (e) {
        result = { outcome: 'failed', reason: e.message };
      }
      if (result.outcome !== 'ok') return refuseWith(result);
      answer(res, 200, '');
      return true;
    } finally {
      slots.release();
    }
  }
  dingtalkCallback.close = () => {
    refusals.flushAll();
    refusals.stop();
  };
  return dingtalkCallback;
}
