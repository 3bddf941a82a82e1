// The callback route handler on a real node:http server: the route's own limits (405, the
// concurrency limit, 413, 408, 400 not UTF-8), the order of the checks, {"success":false,
// "message"} refusals, and how the .so's verdicts (verify_callback before the body,
// handle_callback with it) become answers. The verdicts here are stand-ins; the real ones are
// in plugin.test.mjs (and the signature rules in the Rust tests of the .so).
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import test from 'node:test';

import { createCallbackHandler } from '../src/http-ingress.js';
import { recordingLogger } from './helpers.mjs';

/** verify() stand-in: the .so's verdict on the headers (`sign` says which). */
function fakeVerify(seen) {
  return (headersJson) => {
    const h = JSON.parse(headersJson);
    seen.push(h);
    if (!h.sign) return { outcome: 'refused', status: 401, kind: 'missing_signature', reason: 'missing timestamp or sign header' };
    if (h.sign === 'bad') return { outcome: 'refused', status: 403, kind: 'bad_signature', reason: 'bad signature' };
    if (h.sign === 'down') return { outcome: 'unavailable', reason: 'the DingTalk skill is not running' };
    if (h.sign === 'throw') throw new Error('koffi exploded');
    return { outcome: 'ok' };
  };
}

/** deliver() stand-in: the outcome handle_callback would give, by event text. */
function fakeDeliver(delivered) {
  return async (headersJson, body) => {
    assert.ok(Buffer.isBuffer(body), 'the body is handed over as bytes');
    const event = body.toString('utf8');
    delivered.push(event);
    if (event === '') return { outcome: 'invalid', reason: 'event_json: EOF while parsing' };
    if (event.includes('"replay"')) return { outcome: 'refused', status: 403, kind: 'replay', reason: 'replayed callback: this timestamp and sign were accepted before' };
    if (event.includes('"down"')) return { outcome: 'unavailable', reason: 'shutting down' };
    if (event.includes('"boom"')) throw new Error('koffi exploded');
    if (event.includes('"fail"')) return { outcome: 'failed', reason: 'PANICKED: plugin panic' };
    return { outcome: 'ok' };
  };
}

async function withServer(fn, options = {}) {
  const delivered = [];
  const seen = [];
  const logger = recordingLogger();
  const handler = createCallbackHandler({ maxBodyBytes: 64, verify: fakeVerify(seen), deliver: fakeDeliver(delivered), logger, ...options });
  const server = http.createServer(async (req, res) => assert.equal(await handler(req, res), true));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  try {
    await fn({ url: `http://127.0.0.1:${server.address().port}/cb`, port: server.address().port, delivered, seen, logger, handler });
  } finally {
    handler.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

const signed = { timestamp: '1700000000000', sign: 'good' };

async function post(url, { headers = {}, body = '{"msgId":"m1"}', method = 'POST' } = {}) {
  const res = await fetch(url, { method, headers: { 'content-type': 'application/json', ...headers }, body: method === 'GET' ? undefined : body });
  return { status: res.status, json: await res.json().catch(() => null), headers: res.headers };
}

test('an accepted callback: the headers go to verify, headers and raw body to the .so, then 200', async () => {
  await withServer(async ({ url, delivered, seen }) => {
    const body = '{"msgId":"m1","text":{"content":" 你好"}}';
    const r = await post(url, { headers: { ...signed, 'X-Other': 'kept' }, body });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { success: true });
    assert.deepEqual(delivered, [body], 'handed over untouched');
    assert.equal(seen[0].timestamp, signed.timestamp);
    assert.equal(seen[0].sign, 'good');
    assert.equal(seen[0]['x-other'], 'kept', 'all request headers, as Node names them');
  });
});

test('refusals in the Rust host order and wording; nothing reaches the .so', async () => {
  await withServer(async ({ url, delivered, seen, logger }) => {
    const get = await post(url, { method: 'GET' });
    assert.deepEqual([get.status, get.json, get.headers.get('allow')], [405, { success: false, message: 'use POST' }, 'POST']);
    assert.equal(seen.length, 0, 'a GET is not verified');
    assert.deepEqual(await post(url).then((r) => [r.status, r.json.message]), [401, 'missing timestamp or sign header']);
    assert.deepEqual(await post(url, { headers: { ...signed, sign: 'bad' } }).then((r) => [r.status, r.json.message]), [403, 'bad signature']);
    // the headers are checked before the body is looked at
    assert.equal((await post(url, { headers: { ...signed, sign: 'bad' }, body: 'x'.repeat(65) })).status, 403);
    assert.deepEqual(await post(url, { headers: signed, body: 'x'.repeat(65) }).then((r) => [r.status, r.json.message]), [413, 'body too large']);
    const bad = await fetch(url, { method: 'POST', headers: signed, body: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]) });
    assert.deepEqual([bad.status, (await bad.json()).message], [400, 'body is not UTF-8']);
    const down = await post(url, { headers: { ...signed, sign: 'down' } });
    assert.deepEqual([down.status, down.json.message, down.headers.get('retry-after')], [503, 'the DingTalk skill is not running', '5']);
    assert.deepEqual(await post(url, { headers: { ...signed, sign: 'throw' } }).then((r) => [r.status, r.json.message]), [500, 'koffi exploded']);
    assert.equal(delivered.length, 0);
    assert.ok(logger.lines.some((l) => l.level === 'warn' && /refused with 403: bad signature/.test(l.msg)));
  });
});

test('the .so verdicts with the body map to 403 / 400 / 503 / 500', async () => {
  await withServer(async ({ url, delivered }) => {
    assert.deepEqual(await post(url, { headers: signed, body: '{"x":"replay"}' }).then((r) => [r.status, r.json.message]), [403, 'replayed callback: this timestamp and sign were accepted before']);
    assert.deepEqual(await post(url, { headers: signed, body: '' }).then((r) => [r.status, r.json.message]), [400, 'event_json: EOF while parsing']);
    const down = await post(url, { headers: signed, body: '{"state":"down"}' });
    assert.deepEqual([down.status, down.json.message, down.headers.get('retry-after')], [503, 'shutting down', '5']);
    assert.deepEqual(await post(url, { headers: signed, body: '{"x":"boom"}' }).then((r) => [r.status, r.json.message]), [500, 'koffi exploded']);
    assert.deepEqual(await post(url, { headers: signed, body: '{"x":"fail"}' }).then((r) => [r.status, r.json.message]), [500, 'PANICKED: plugin panic']);
    assert.equal(delivered.length, 5);
  });
});

test('a chunked body over the cap is 413 even without Content-Length', async () => {
  await withServer(async ({ url, delivered }) => {
    const status = await new Promise((resolve, reject) => {
      const req = http.request(url, { method: 'POST', headers: { ...signed, 'transfer-encoding': 'chunked' } }, (res) => {
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

const warnings = (logger, re) => logger.lines.filter((l) => l.level === 'warn' && re.test(l.msg));

test('refusal warnings are rate limited per source and reason', async () => {
  await withServer(async ({ url, logger, handler }) => {
    for (let i = 0; i < 5; i++) assert.equal((await post(url, { headers: { ...signed, sign: 'bad' } })).status, 403);
    assert.equal((await post(url)).status, 401);
    assert.equal(warnings(logger, /refused with 403: bad signature/).length, 1);
    assert.equal(warnings(logger, /refused with 401/).length, 1);
    handler.close();
    assert.equal(warnings(logger, /4 more refused with 403 \(bad signature\)/).length, 1, 'the summary line');
  });
});

test('a body that stops short is 408 after ingress.http.read_timeout_ms; others are served meanwhile', async () => {
  await withServer(
    async ({ url, port, delivered }) => {
      const socket = net.connect(port, '127.0.0.1');
      const reply = new Promise((resolve) => {
        let got = '';
        socket.on('data', (d) => (got += d));
        socket.on('close', () => resolve(got));
        socket.on('error', () => resolve(got));
      });
      const t0 = Date.now();
      socket.write(`POST /cb HTTP/1.1\r\nHost: x\r\ntimestamp: 1\r\nsign: good\r\nContent-Length: 50\r\n\r\n{"msgId":`);
      assert.equal((await post(url, { headers: signed, body: '{"msgId":"fast"}' })).status, 200, 'served while the slow one hangs');
      const answer = await reply;
      assert.match(answer, /^HTTP\/1\.1 408/);
      assert.match(answer, /body not received within 300 ms/);
      const took = Date.now() - t0;
      assert.ok(took >= 250 && took < 2000, `${took} ms`);
      assert.deepEqual(delivered, ['{"msgId":"fast"}']);
    },
    { readTimeoutMs: 300 },
  );
});

test('at most ingress.http.max_connections callbacks at once; a callback waits for a slot, then 503', async () => {
  let unblock;
  const gate = new Promise((r) => (unblock = r));
  const delivered = [];
  const logger = recordingLogger();
  const handler = createCallbackHandler({
    maxBodyBytes: 64,
    maxConnections: 1,
    readTimeoutMs: 300,
    logger,
    verify: () => ({ outcome: 'ok' }),
    deliver: async (_headers, body) => {
      const event = body.toString('utf8');
      delivered.push(event);
      if (event.includes('slow')) await gate;
      return { outcome: 'ok' };
    },
  });
  const server = http.createServer((req, res) => handler(req, res));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}/cb`;
  try {
    const slow = post(url, { headers: signed, body: '{"msgId":"slow"}' });
    await new Promise((r) => setTimeout(r, 50));
    const busy = await post(url, { headers: signed, body: '{"msgId":"second"}' });
    assert.deepEqual([busy.status, busy.json.message], [503, 'more than 1 callbacks at once (ingress.http.max_connections)']);
    // a callback that arrives while the slot is taken waits for it
    const waiting = post(url, { headers: signed, body: '{"msgId":"third"}' });
    await new Promise((r) => setTimeout(r, 50));
    unblock();
    assert.equal((await slow).status, 200);
    assert.equal((await waiting).status, 200);
    assert.deepEqual(delivered, ['{"msgId":"slow"}', '{"msgId":"third"}']);
  } finally {
    handler.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});
