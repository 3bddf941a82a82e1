// http-ingress.js: the DingTalk HTTP-callback route on the gateway's own port
// (api.registerHttpRoute, auth "plugin": the signature is the authentication).
//
// The same contract as the Rust host's callback server (skill/host/src/ingress/http.rs):
// 405 unless POST → 401/403 signature (before the body is read) → 413 over
// ingress.http.max_body_bytes → 400 not UTF-8 → the raw event goes to the .so (handle_event
// returns at once; the reply runs afterwards) → 200 {"success":true}, or 400 with the .so's
// reason (not a robot message), 503 (shutting down / not started), 500. Refusals are
// {"success":false,"message":…}. The route never parses the event itself.

import { verifyCallback } from './signature.js';

const JSON_TYPE = 'application/json; charset=utf-8';
const UTF8 = new TextDecoder('utf-8', { fatal: true });

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

/** HTTP status for the outcome of SkillHost.deliver. */
const OUTCOME_STATUS = { ok: 200, invalid: 400, unavailable: 503, failed: 500 };

/**
 * Creates the route handler.
 * - `appSecret()` → the app secret
 * - `maxBodyBytes` → ingress.http.max_body_bytes
 * - `deliver(eventText)` → Promise<{outcome: 'ok'|'invalid'|'unavailable'|'failed', reason}>:
 *   hands the raw event to the .so (handle_event) without waiting for the reply
 */
export function createCallbackHandler({ appSecret, maxBodyBytes, deliver, logger, now = Date.now }) {
  return async function dingtalkCallback(req, res) {
    const peer = req.socket?.remoteAddress ?? '?';
    const refuse = (status, why, headers = {}) => {
      logger.warn(`DingTalk callback from ${peer} refused with ${status}: ${why}`);
      req.resume();
      answer(res, status, why, { Connection: 'close', ...headers });
      return true;
    };
    if (req.method !== 'POST') return refuse(405, 'use POST', { Allow: 'POST' });
    const verdict = verifyCallback({ timestamp: req.headers.timestamp, sign: req.headers.sign }, appSecret(), now());
    if (!verdict.ok) return refuse(verdict.status, verdict.reason);
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBodyBytes) return refuse(413, 'body too large');
    let body;
    try {
      body = await readBody(req, maxBodyBytes);
    } catch (e) {
      return refuse(e.code === 'BODY_TIMEOUT' ? 408 : 400, e.message);
    }
    if (body === null) return refuse(413, 'body too large');
    let event;
    try {
      event = UTF8.decode(body);
    } catch {
      return refuse(400, 'body is not UTF-8');
    }
    let result;
    try {
      result = await deliver(event);
    } catch (e) {
      result = { outcome: 'failed', reason: e.message };
    }
    const status = OUTCOME_STATUS[result.outcome] ?? 500;
    if (status !== 200) return refuse(status, result.reason ?? result.outcome, status === 503 ? { 'Retry-After': '5' } : {});
    answer(res, 200, '');
    return true;
  };
}
