// The callback route handler on a real node:http server, against the Rust host's contract
// (skill/host/src/ingress/http.rs): status codes and their order, {"success":false,"message"}
// refusals, the raw event handed to the .so before the 200.
import assert from 'node:assert/strict';
import http from 'node:http';
import test from 'node:test';

import { createCallbackHandler } from '../src/http-ingress.js';
import { callbackSignature } from '../src/signature.js';
import { recordingLogger } from './helpers.mjs';

const SECRET = 'emulator-app-secret';

/** deliver() stand-in: the outcome the .so would give, by event text. */
function fakeDeliver(delivered) {
  return async (event) => {
    delivered.push(event);
    if (event === '') return { outcome: 'invalid', reason: 'event_json: EOF while parsing' };
    if (event.includes('"down"')) return { outcome: 'unavailable', reason: 'shutting down' };
    if (event.includes('"boom"')) throw new Error('koffi exploded');
    return { outcome: 'ok' };
  };
}

async function withServer(fn) {
  const delivered = [];
  const logger = recordingLogger();
  const handler = createCallbackHandler({ appSecret: () => SECRET, maxBodyBytes: 64, deliver: fakeDeliver(delivered), logger });
  const server = http.createServer(async (req, res) => assert.equal(await handler(req, res), true));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  try {
    await fn({ url: `http://127.0.0.1:${server.address().port}/cb`, delivered, logger });
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

const signed = (ts = Date.now()) => ({ timestamp: String(ts), sign: callbackSignature(SECRET, ts) });

async function post(url, { headers = {}, body = '{"msgId":"m1"}', method = 'POST' } = {}) {
  const res = await fetch(url, { method, headers: { 'content-type': 'application/json', ...headers }, body: method === 'GET' ? undefined : body });
  return { status: res.status, json: await res.json().catch(() => null), headers: res.headers };
}

test('a signed callback: the raw event goes to the .so, then 200 {"success":true}', async () => {
  await withServer(async ({ url, delivered }) => {
    const body = '{"msgId":"m1","text":{"content":" 你好"}}';
    const r = await post(url, { headers: signed(), body });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { success: true });
    assert.deepEqual(delivered, [body], 'handed over as text, untouched');
    // headers are trimmed, as in the Rust host
    const ts = Date.now();
    assert.equal((await post(url, { headers: { timestamp: ` ${ts} `, sign: ` ${callbackSignature(SECRET, ts)}\t` } })).status, 200);
  });
});

test('refusals in the Rust host order and wording; nothing reaches the .so', async () => {
  await withServer(async ({ url, delivered, logger }) => {
    const get = await post(url, { method: 'GET' });
    assert.deepEqual([get.status, get.json, get.headers.get('allow')], [405, { success: false, message: 'use POST' }, 'POST']);
    assert.deepEqual(await post(url).then((r) => [r.status, r.json.message]), [401, 'missing timestamp or sign header']);
    assert.equal((await post(url, { headers: { timestamp: String(Date.now()), sign: '  ' } })).status, 401);
    assert.deepEqual(await post(url, { headers: { ...signed(), sign: 'AAAA' } }).then((r) => [r.status, r.json.message]), [403, 'bad signature']);
    assert.deepEqual(await post(url, { headers: signed(Date.now() - 2 * 3600 * 1000) }).then((r) => [r.status, r.json.message]), [403, 'timestamp is more than one hour off']);
    assert.deepEqual(await post(url, { headers: { timestamp: 'yesterday', sign: 'x' } }).then((r) => [r.status, r.json.message]), [403, 'timestamp is not a number']);
    // the signature is checked before the body is looked at
    assert.equal((await post(url, { headers: { ...signed(), sign: 'AAAA' }, body: 'x'.repeat(65) })).status, 403);
    assert.deepEqual(await post(url, { headers: signed(), body: 'x'.repeat(65) }).then((r) => [r.status, r.json.message]), [413, 'body too large']);
    const bad = await fetch(url, { method: 'POST', headers: signed(), body: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]) });
    assert.deepEqual([bad.status, (await bad.json()).message], [400, 'body is not UTF-8']);
    assert.equal(delivered.length, 0);
    assert.ok(logger.lines.some((l) => l.level === 'warn' && /refused with 403: bad signature/.test(l.msg)));
    assert.ok(!logger.lines.some((l) => l.msg.includes(SECRET)), 'the secret never reaches the log');
  });
});

test('the .so refusals map to 400 / 503 / 500', async () => {
  await withServer(async ({ url, delivered }) => {
    assert.deepEqual(await post(url, { headers: signed(), body: '' }).then((r) => [r.status, r.json.message]), [400, 'event_json: EOF while parsing']);
    const down = await post(url, { headers: signed(), body: '{"state":"down"}' });
    assert.deepEqual([down.status, down.json.message, down.headers.get('retry-after')], [503, 'shutting down', '5']);
    assert.deepEqual(await post(url, { headers: signed(), body: '{"x":"boom"}' }).then((r) => [r.status, r.json.message]), [500, 'koffi exploded']);
    assert.equal(delivered.length, 3);
  });
});

test('a chunked body over the cap is 413 even without Content-Length', async () => {
  await withServer(async ({ url, delivered }) => {
    const status = await new Promise((resolve, reject) => {
      const req = http.request(url, { method: 'POST', headers: { ...signed(), 'transfer-encoding': 'chunked' } }, (res) => {
        res.resume();
        resolve(res.statusCode);
      });
      req.on('error', reject);
      for (let i = 0; i < 10; i++) req.write('0123456789');
      req.end();
    });
    assert.equal(status, 413);
    assert.equal(delivered.length, 0);
  });
});
