// Stream mode with the official SDK (dingtalk-stream 2.1.5) against a small in-test fake of
// DingTalk's Stream gateway (connections/open + WebSocket). The emulator has no Stream
// server yet, so this is where the Stream code path is exercised.
import assert from 'node:assert/strict';
import http from 'node:http';
import test from 'node:test';

import { WebSocketServer } from 'ws';

import { TOPIC_ROBOT, clientClass, loadStreamSdk, openConnectionUrl, startStreamIngress } from '../src/stream-ingress.js';
import { recordingLogger, waitFor } from './helpers.mjs';

test('the SDK open-connection URL is replaced only for a non-public api base', () => {
  assert.equal(openConnectionUrl('https://api.dingtalk.com'), null);
  assert.equal(openConnectionUrl('https://api.dingtalk.com/'), null);
  assert.equal(openConnectionUrl(''), null);
  assert.equal(openConnectionUrl('http://127.0.0.1:9/'), 'http://127.0.0.1:9/v1.0/gateway/connections/open');
});

test('a missing SDK gives an actionable error', async () => {
  await assert.rejects(
    loadStreamSdk(() => Promise.reject(Object.assign(new Error('nope'), { code: 'ERR_MODULE_NOT_FOUND' }))),
    /dingtalk-stream is not installed.*npm install --omit=dev --omit=peer/,
  );
  const sdk = await loadStreamSdk();
  assert.equal(typeof sdk.DWClient, 'function');
});

/** Fake DingTalk Stream gateway. */
async function fakeStreamGateway() {
  const opens = [];
  const sockets = [];
  const received = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1.0/gateway/connections/open') {
        res.writeHead(404).end();
        return;
      }
      const ticket = `ticket-${opens.length + 1}`;
      opens.push({ body: JSON.parse(body), accept: req.headers.accept, ticket });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ endpoint: `ws://127.0.0.1:${server.address().port}/connect`, ticket }));
    });
  });
  const wss = new WebSocketServer({ server, path: '/connect' });
  wss.on('connection', (ws, req) => {
    const entry = { ws, ticket: new URL(req.url, 'http://x').searchParams.get('ticket'), closed: false, openedAt: performance.now(), closedAt: null };
    sockets.push(entry);
    ws.on('message', (d) => received.push({ ticket: entry.ticket, frame: JSON.parse(String(d)) }));
    ws.on('close', () => {
      entry.closed = true;
      entry.closedAt = performance.now();
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    base: `http://127.0.0.1:${server.address().port}`,
    opens,
    sockets,
    received,
    send(entry, frame) {
      entry.ws.send(JSON.stringify(frame));
    },
    async close() {
      for (const s of sockets) s.ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

const robotFrame = (messageId, data) => ({
  specVersion: '1.0',
  type: 'CALLBACK',
  headers: { appId: 'a', connectionId: 'c', contentType: 'application/json', messageId, time: String(Date.now()), topic: TOPIC_ROBOT },
  data,
});

/** The real SDK with a spy on the ACK, so the test sees ACK/deliver order. */
async function spiedSdk(order) {
  const real = await loadStreamSdk();
  return {
    DWClient: class extends real.DWClient {
      socketCallBackResponse(messageId, result) {
        order.push(`ack:${messageId}`);
        return super.socketCallBackResponse(messageId, result);
      }
    },
  };
}

test('robot messages are ACKed first, then handed over raw; pings answered', { timeout: 30_000 }, async (t) => {
  const gw = await fakeStreamGateway();
  t.after(() => gw.close());
  const order = [];
  const delivered = [];
  const logger = recordingLogger();
  const ingress = startStreamIngress({
    sdk: await spiedSdk(order),
    clientId: 'app-key',
    clientSecret: 'app-secret',
    apiBaseUrl: gw.base,
    logger,
    deliver: (data) => {
      order.push('deliver');
      delivered.push(data);
    },
  });
  t.after(() => ingress.stop());
  const sock = await waitFor(() => gw.sockets[0], { what: 'the WebSocket' });
  assert.equal(sock.ticket, 'ticket-1');
  const open = gw.opens[0];
  assert.equal(open.accept, 'application/json');
  assert.equal(open.body.clientId, 'app-key');
  assert.equal(open.body.clientSecret, 'app-secret');
  assert.ok(open.body.subscriptions.some((s) => s.type === 'CALLBACK' && s.topic === TOPIC_ROBOT));

  const data = JSON.stringify({ msgId: 'msg1', text: { content: ' 你好' } });
  gw.send(sock, robotFrame('mid-1', data));
  await waitFor(() => delivered.length === 1, { what: 'the hand-over' });
  assert.deepEqual(order, ['ack:mid-1', 'deliver']);
  assert.equal(delivered[0], data, 'the frame data is handed over as is');
  const ack = await waitFor(() => gw.received.find((r) => r.frame.headers?.messageId === 'mid-1'), { what: 'the ACK frame' });
  assert.equal(ack.frame.code, 200);
  assert.deepEqual(JSON.parse(ack.frame.data), { response: { success: true } });

  gw.send(sock, { specVersion: '1.0', type: 'SYSTEM', headers: { topic: 'ping', messageId: 'p1', contentType: 'application/json' }, data: '{"opaque":"o-1"}' });
  const pong = await waitFor(() => gw.received.find((r) => r.frame.headers?.messageId === 'p1'), { what: 'the ping answer' });
  assert.equal(pong.frame.data, '{"opaque":"o-1"}');
  assert.equal(ingress.state().acked, 1);
});

test('a DingTalk disconnect or a silent socket gets a fresh connection; stop() closes it', { timeout: 30_000 }, async (t) => {
  const gw = await fakeStreamGateway();
  t.after(() => gw.close());
  const logger = recordingLogger();
  const delivered = [];
  const ingress = startStreamIngress({
    sdk: await loadStreamSdk(),
    clientId: 'k',
    clientSecret: 's',
    apiBaseUrl: gw.base,
    silenceTimeoutMs: 600,
    logger,
    deliver: (d) => delivered.push(d),
  });
  const first = await waitFor(() => gw.sockets[0], { what: 'connection 1' });
  // keep it alive with pings for a while: no replacement
  for (let i = 0; i < 4; i++) {
    gw.send(first, { type: 'SYSTEM', headers: { topic: 'ping', messageId: `k${i}` }, data: '{}' });
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal(gw.opens.length, 1);
  gw.send(first, { type: 'SYSTEM', headers: { topic: 'disconnect', messageId: 'd1' }, data: '{"reason":"connection is expired"}' });
  const second = await waitFor(() => gw.sockets[1], { what: 'connection 2 after disconnect' });
  assert.equal(second.ticket, 'ticket-2');
  await waitFor(() => first.closed, { what: 'connection 1 to close' });
  assert.ok(first.closedAt >= second.openedAt, 'warm: the new connection was up before the old one closed');
  // frames on the retired connection are ignored
  gw.send(second, robotFrame('m2', '{"msgId":"m2"}'));
  await waitFor(() => delivered.length === 1, { what: 'delivery on connection 2' });
  // now stay silent: the watchdog replaces connection 2
  const third = await waitFor(() => gw.sockets[2], { what: 'connection 3 after silence', timeoutMs: 5000 });
  await waitFor(() => second.closed, { what: 'connection 2 to close' });
  assert.ok(logger.lines.some((l) => /replacing the connection: no traffic for/.test(l.msg)));
  assert.ok(logger.lines.some((l) => /replacing the connection: DingTalk announced a disconnect/.test(l.msg)));
  ingress.stop();
  await waitFor(() => third.closed, { what: 'stop() to close connection 3' });
  const opened = gw.opens.length;
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(gw.opens.length, opened, 'no reconnect after stop()');
  assert.ok(ingress.state().replaced >= 2);
});

test('the adapter client keeps the SDK connection for the public endpoint', async () => {
  const sdk = await loadStreamSdk();
  const Client = clientClass(sdk);
  const c = new Client({ clientId: 'k', clientSecret: 's' }, null);
  assert.ok(c instanceof sdk.DWClient);
  assert.equal(c.openUrl, null);
  c.retire();
  assert.equal(c.retired, true);
  await c.connect(); // a retired client never connects
});
