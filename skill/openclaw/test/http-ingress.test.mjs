// The callback route handler on a real node:http server, against the Rust host's contract
// (skill/host/src/ingress/http.rs): status codes and their order, {"success":false,"message"}
// refusals, the raw event handed to the .so before the 200.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
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

async function withServer(fn, options = {}) {
  const delivered = [];
  const logger = recordingLogger();
  const handler = createCallbackHandler({ appSecret: () => SECRET, maxBodyBytes: 64, deliver: fakeDeliver(delivered), logger, ...options });
  const server = http.createServer(async (req, res) => assert.equal(await handler(req, res), true));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  try {
    await fn({ url: `http://127.0.0.1:${server.address().port}/cb`, port: server.address().port, delivered, logger, handler });
  } finally {
    handler.close();
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

const warnings = (logger, re) => logger.lines.filter((l) => l.level === 'warn' && re.test(l.msg));

test('a replayed callback is refused (403) and never reaches the .so; one log line per source', async () => {
  await withServer(async ({ url, delivered, logger, handler }) => {
    const headers = signed();
    assert.equal((await post(url, { headers, body: '{"msgId":"m1"}' })).status, 200);
    const again = await post(url, { headers, body: '{"msgId":"m1"}' });
    assert.deepEqual([again.status, again.json.message], [403, 'replayed callback: this timestamp and sign were accepted before']);
    // the captured headers on a forged body
    assert.equal((await post(url, { headers, body: '{"msgId":"forged","conversationId":"other"}' })).status, 403);
    assert.deepEqual(delivered, ['{"msgId":"m1"}']);
    assert.equal(warnings(logger, /refused with 403: replayed/).length, 1, 'two replays, one line');
    handler.close();
    assert.equal(warnings(logger, /1 more refused with 403 \(replayed/).length, 1, 'the summary line');
  });
});

test('a signed callback refused for another reason keeps its pair usable (DingTalk may retry it)', async () => {
  await withServer(async ({ url, delivered }) => {
    const headers = signed(Date.now() - 5);
    assert.equal((await post(url, { headers, body: 'x'.repeat(65) })).status, 413);
    assert.equal((await post(url, { headers, body: '{"state":"down"}' })).status, 503);
    assert.equal((await post(url, { headers, body: '{"msgId":"m2"}' })).status, 200);
    assert.equal((await post(url, { headers, body: '{"msgId":"m2"}' })).status, 403);
    assert.equal(delivered.at(-1), '{"msgId":"m2"}');
  });
});

test('ingress.http.signature_window_secs narrows the accepted timestamps', async () => {
  await withServer(
    async ({ url }) => {
      const old = await post(url, { headers: signed(Date.now() - 120_000) });
      assert.deepEqual([old.status, old.json.message], [403, 'timestamp is more than 60 s off (ingress.http.signature_window_secs)']);
      assert.equal((await post(url, { headers: signed(Date.now() - 30_000) })).status, 200);
    },
    { signatureWindowSecs: 60 },
  );
});

test('refusal warnings are rate limited per source and reason', async () => {
  await withServer(async ({ url, logger }) => {
    for (let i = 0; i < 5; i++) assert.equal((await post(url, { headers: { ...signed(), sign: 'AAAA' } })).status, 403);
    assert.equal((await post(url)).status, 401);
    assert.equal(warnings(logger, /refused with 403: bad signature/).length, 1);
    assert.equal(warnings(logger, /refused with 401/).length, 1);
  });
});

test('a body that stops short is 408 after ingress.http.read_timeout_ms; others are served meanwhile', async () => {
  await withServer(
    async ({ url, port, delivered }) => {
      const ts = Date.now() - 10;
      const socket = net.connect(port, '127.0.0.1');
      const reply = new Promise((resolve) => {
        let got = '';
        socket.on('data', (d) => (got += d));
        socket.on('close', () => resolve(got));
        socket.on('error', () => resolve(got));
      });
      const t0 = Date.now();
      socket.write(`POST /cb HTTP/1.1\r\nHost: x\r\ntimestamp: ${ts}\r\nsign: ${callbackSignature(SECRET, ts)}\r\nContent-Length: 50\r\n\r\n{"msgId":`);
      assert.equal((await post(url, { headers: signed(), body: '{"msgId":"fast"}' })).status, 200, 'served while the slow one hangs');
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
    appSecret: () => SECRET,
    maxBodyBytes: 64,
    maxConnections: 1,
    readTimeoutMs: 300,
    logger,
    deliver: async (event) => {
      delivered.push(event);
      if (event.includes('slow')) await gate;
      return { outcome: 'ok' };
    },
  });
  const server = http.createServer((req, res) => handler(req, res));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}/cb`;
  try {
    const slow = post(url, { headers: signed(Date.now() - 20), body: '{"msgId":"slow"}' });
    await new Promise((r) => setTimeout(r, 50));
    const busy = await post(url, { headers: signed(Date.now() - 10), body: '{"msgId":"second"}' });
    assert.deepEqual([busy.status, busy.json.message], [503, 'more than 1 callbacks at once (ingress.http.max_connections)']);
    // a callback that arrives while the slot is taken waits for it
    const waiting = post(url, { headers: signed(), body: '{"msgId":"third"}' });
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
