// Stream mode with the official SDK (dingtalk-stream 2.1.5) against a small in-test fake of
// DingTalk's Stream gateway (connections/open + WebSocket), which lets the test send any frame
// and watch the connections: the skill library's open body on every (re)connect, ACK-first,
// ping, `disconnect`, the silence watchdog, failed opens, stop; several apps, one connection
// each, a refused app beside a working one. (plugin.test.mjs runs Stream mode
// end to end with the real .so against the emulator's Stream server.)
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import test from 'node:test';

import { WebSocketServer } from 'ws';

import { createNetwork } from '../src/network.js';
import { TOPIC_CARD, TOPIC_ROBOT, clientClass, describeStreamApps, loadStreamSdk, startStreamApps, startStreamIngress, streamApps } from '../src/stream-ingress.js';
import { companyPki, connectProxy, recordingLogger, waitFor } from './helpers.mjs';

test('a missing SDK gives an actionable error', async () => {
  await assert.rejects(
    loadStreamSdk(() => Promise.reject(Object.assign(new Error('nope'), { code: 'ERR_MODULE_NOT_FOUND' }))),
    /dingtalk-stream is not installed.*npm install --omit=dev --omit=peer/,
  );
  const sdk = await loadStreamSdk();
  assert.equal(typeof sdk.DWClient, 'function');
});

/** Fake DingTalk Stream gateway; the first `failOpens` opens are answered 401. With `tls`
 *  ({key, cert}) the WebSocket endpoint it hands out is wss://localhost on a TLS server. */
async function fakeStreamGateway({ failOpens = 0, tls = null } = {}) {
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
      if (failOpens > 0) {
        failOpens--;
        opens.push({ body: JSON.parse(body), failed: true });
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ code: 'authFailed', message: 'clientId or clientSecret is wrong' }));
        return;
      }
      const ticket = `ticket-${opens.filter((o) => !o.failed).length + 1}`;
      opens.push({ body: JSON.parse(body), accept: req.headers.accept, ticket });
      res.writeHead(200, { 'content-type': 'application/json' });
      const endpoint = tls ? `wss://localhost:${tlsServer.address().port}/connect` : `ws://127.0.0.1:${server.address().port}/connect`;
      res.end(JSON.stringify({ endpoint, ticket }));
    });
  });
  const tlsServer = tls ? https.createServer({ key: tls.key, cert: tls.cert }) : null;
  if (tlsServer) await new Promise((r) => tlsServer.listen(0, '127.0.0.1', r));
  const wss = new WebSocketServer({ server: tlsServer ?? server, path: '/connect' });
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
      for (const srv of [server, tlsServer].filter(Boolean)) {
        srv.closeAllConnections();
        await new Promise((r) => srv.close(r));
      }
    },
  };
}

/** The open body the skill library gives (stream_open_request), fresh per call; `made` keeps
 *  every Buffer handed out (to see that they were zeroed). */
function openBodies(clientId = 'app-key', clientSecret = 'app-secret: 秘密') {
  const made = [];
  const body = () => {
    const b = Buffer.from(JSON.stringify({ clientId, clientSecret, subscriptions: [{ type: 'CALLBACK', topic: TOPIC_ROBOT }], ua: 'openclaw-dingtalk/test' }));
    made.push(b);
    return b;
  };
  return { body, made };
}

const robotFrame = (messageId, data, topic = TOPIC_ROBOT) => ({
  specVersion: '1.0',
  type: 'CALLBACK',
  headers: { appId: 'a', connectionId: 'c', contentType: 'application/json', messageId, time: String(Date.now()), topic },
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

test('robot messages and card callbacks are ACKed first, then handed over raw; pings answered', { timeout: 30_000 }, async (t) => {
  const gw = await fakeStreamGateway();
  t.after(() => gw.close());
  const order = [];
  const delivered = [];
  const logger = recordingLogger();
  const bodies = openBodies();
  const ingress = startStreamIngress({
    sdk: await spiedSdk(order),
    clientId: 'app-key',
    openUrl: `${gw.base}/v1.0/gateway/connections/open`,
    openBody: bodies.body,
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
  assert.deepEqual(open.body, { clientId: 'app-key', clientSecret: 'app-secret: 秘密', subscriptions: [{ type: 'CALLBACK', topic: TOPIC_ROBOT }], ua: 'openclaw-dingtalk/test' }, "exactly the skill library's body");
  assert.equal(bodies.made.length, 1);
  assert.ok(bodies.made.every((b) => b.every((byte) => byte === 0)), 'the body (it holds the secret) was zeroed once sent');
  assert.ok(!logger.lines.some((l) => l.msg.includes('秘密')), 'the secret is never logged');

  const data = JSON.stringify({ msgId: 'msg1', text: { content: ' 你好' } });
  gw.send(sock, robotFrame('mid-1', data));
  await waitFor(() => delivered.length === 1, { what: 'the hand-over' });
  assert.deepEqual(order, ['ack:mid-1', 'deliver']);
  assert.equal(delivered[0], data, 'the frame data is handed over as is');
  const ack = await waitFor(() => gw.received.find((r) => r.frame.headers?.messageId === 'mid-1'), { what: 'the ACK frame' });
  assert.equal(ack.frame.code, 200);
  assert.deepEqual(JSON.parse(ack.frame.data), { response: { success: true } });

  // A press of a card's stop button (card-callback topic): ACKed and handed over the same way.
  const press = JSON.stringify({ type: 'actionCallback', outTrackId: 'card_1', userId: '提问者', content: '{"cardPrivateData":{"actionIds":["btn_stop"],"params":{}}}' });
  gw.send(sock, robotFrame('mid-card', press, TOPIC_CARD));
  await waitFor(() => delivered.length === 2, { what: 'the card callback hand-over' });
  assert.deepEqual(order, ['ack:mid-1', 'deliver', 'ack:mid-card', 'deliver']);
  assert.equal(delivered[1], press);

  gw.send(sock, { specVersion: '1.0', type: 'SYSTEM', headers: { topic: 'ping', messageId: 'p1', contentType: 'application/json' }, data: '{"opaque":"o-1"}' });
  const pong = await waitFor(() => gw.received.find((r) => r.frame.headers?.messageId === 'p1'), { what: 'the ping answer' });
  assert.equal(pong.frame.data, '{"opaque":"o-1"}');
  assert.equal(ingress.state().acked, 2);
});

test('a DingTalk disconnect or a silent socket gets a fresh connection; stop() closes it', { timeout: 30_000 }, async (t) => {
  const gw = await fakeStreamGateway();
  t.after(() => gw.close());
  const logger = recordingLogger();
  const delivered = [];
  const bodies = openBodies('k', 's');
  const ingress = startStreamIngress({
    sdk: await loadStreamSdk(),
    clientId: 'k',
    openUrl: `${gw.base}/v1.0/gateway/connections/open`,
    openBody: bodies.body,
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
  assert.ok(logger.lines.some((l) => /^dingtalk stream: replacing connection #2: no traffic for/.test(l.msg)));
  assert.ok(logger.lines.some((l) => /^dingtalk stream: replacing connection #1: DingTalk announced a disconnect/.test(l.msg)));
  // the operator's lines: connected once, then each replacement with how long it took
  const info = logger.lines.filter((l) => l.level === 'info').map((l) => l.msg);
  assert.match(info.find((m) => m.includes('connected (')), /^dingtalk stream: connected \(app k, ws:\/\/127\.0\.0\.1:\d+\/connect, connection #1\)$/);
  assert.ok(info.some((m) => /^dingtalk stream: replaced connection #1 after \d+ ms \(DingTalk announced a disconnect\); connected \(app k, ws:\/\/127\.0\.0\.1:\d+\/connect, connection #2\)$/.test(m)), info.join('\n'));
  assert.ok(info.some((m) => /^dingtalk stream: replaced connection #2 after \d+ ms \(no traffic for \d+ s\); connected \(.*connection #3\)$/.test(m)), info.join('\n'));
  assert.ok(!logger.lines.some((l) => l.msg.includes('ticket-')), 'tickets are never logged');
  ingress.stop();
  await waitFor(() => third.closed, { what: 'stop() to close connection 3' });
  const opened = gw.opens.length;
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(gw.opens.length, opened, 'no reconnect after stop()');
  assert.ok(ingress.state().replaced >= 2);
  assert.equal(bodies.made.length, gw.opens.length, 'a fresh open body from the skill library for every connection');
  assert.ok(gw.opens.every((o) => o.body.clientId === 'k' && o.body.clientSecret === 's'));
});

test('a refused open is logged once (without the body) and retried; so is a skill that cannot give a body', { timeout: 30_000 }, async (t) => {
  const gw = await fakeStreamGateway({ failOpens: 2 });
  t.after(() => gw.close());
  const logger = recordingLogger();
  const bodies = openBodies('k', 'the-secret');
  let bodyFails = 1;
  const ingress = startStreamIngress({
    sdk: await loadStreamSdk(),
    clientId: 'k',
    openUrl: `${gw.base}/v1.0/gateway/connections/open`,
    openBody: () => {
      if (bodyFails-- > 0) throw new Error('the DingTalk skill is not running');
      return bodies.body();
    },
    logger,
    deliver: () => {},
  });
  t.after(() => ingress.stop());
  // the SDK retries every second: no body, then 401, 401, then connected
  await waitFor(() => gw.sockets[0], { what: 'the connection after the failures', timeoutMs: 10_000 });
  assert.equal(gw.opens.filter((o) => o.failed).length, 2);
  const warnings = logger.lines.filter((l) => l.level === 'warn' && /opening a connection via .* failed/.test(l.msg));
  assert.equal(warnings.length, 1, 'one line a minute');
  assert.match(warnings[0].msg, /^dingtalk stream: opening a connection via .* failed: the DingTalk skill is not running; the SDK retries/);
  assert.equal(ingress.state().openFailures, 3);
  assert.ok(!logger.lines.some((l) => l.msg.includes('the-secret')));
  assert.ok(bodies.made.every((b) => b.every((byte) => byte === 0)), 'refused bodies are zeroed too');
});

test('the adapter client gives the SDK no secret; a retired client never connects', async () => {
  const sdk = await loadStreamSdk();
  const Client = clientClass(sdk);
  const c = new Client({ clientId: 'k' }, { url: 'http://127.0.0.1:9/x', body: () => Buffer.alloc(0) });
  assert.ok(c instanceof sdk.DWClient);
  assert.equal(c.getConfig().clientId, 'k');
  assert.equal(c.getConfig().clientSecret, 'held-by-the-skill-library');
  c.retire();
  assert.equal(c.retired, true);
  await c.connect(); // a retired client never connects
});

test('a connection closed by the server: the SDK reconnects and the adapter says after how long', { timeout: 30_000 }, async (t) => {
  const gw = await fakeStreamGateway();
  t.after(() => gw.close());
  const logger = recordingLogger();
  const ingress = startStreamIngress({ sdk: await loadStreamSdk(), clientId: 'k', openUrl: `${gw.base}/v1.0/gateway/connections/open`, openBody: openBodies('k', 's').body, logger, deliver: () => {} });
  t.after(() => ingress.stop());
  const first = await waitFor(() => gw.sockets[0], { what: 'connection 1' });
  await waitFor(() => logger.lines.some((l) => /^dingtalk stream: connected \(app k, /.test(l.msg)), { what: 'the connected line' });
  first.ws.close(1011, 'server restart');
  await waitFor(() => gw.sockets[1], { what: 'the SDK reconnect', timeoutMs: 10_000 });
  await waitFor(() => logger.lines.some((l) => /^dingtalk stream: reconnected after \d+ ms \(app k, ws:\/\/127\.0\.0\.1:\d+\/connect, connection #1\)$/.test(l.msg)), { what: 'the reconnected line' });
  assert.ok(logger.lines.some((l) => l.level === 'warn' && l.msg === 'dingtalk stream: connection #1 closed (code 1011, server restart); the SDK reconnects'), JSON.stringify(logger.lines));
  assert.equal(ingress.state().reconnects, 1);
});

test('WSS through a company CA: refused without network.ca_file (the log line names the host and the fix), connected with it, also through HTTPS_PROXY', { timeout: 60_000 }, async (t) => {
  const pki = companyPki();
  const gw = await fakeStreamGateway({ tls: pki });
  t.after(() => gw.close());
  const sdk = await loadStreamSdk();
  const start = (network, logger) => startStreamIngress({ sdk, clientId: 'k', openUrl: `${gw.base}/v1.0/gateway/connections/open`, openBody: openBodies('k', 's').body, logger, deliver: () => {}, network });

  const refusedLog = recordingLogger();
  const refused = start(createNetwork({ env: {} }), refusedLog);
  const warn = await waitFor(() => refusedLog.lines.find((l) => l.level === 'warn' && /WebSocket/.test(l.msg)), { what: 'the certificate warning' });
  refused.stop();
  assert.match(warn.msg, /^dingtalk stream: the WebSocket to wss:\/\/localhost:\d+\/connect failed: the certificate of localhost:\d+ is not trusted \(UNABLE_TO_GET_ISSUER_CERT_LOCALLY\): add your company's CA with network\.ca_file in the manifest, or NODE_EXTRA_CA_CERTS; the SDK retries$/);
  assert.equal(gw.sockets.length, 0);
  assert.ok(!refusedLog.lines.some((l) => /connected \(/.test(l.msg)));

  const okLog = recordingLogger();
  const accepted = start(createNetwork({ caFile: pki.rootPem, env: {} }), okLog);
  t.after(() => accepted.stop());
  await waitFor(() => gw.sockets.length === 1, { what: 'the WSS connection with the CA file' });
  await waitFor(() => okLog.lines.some((l) => /^dingtalk stream: connected \(app k, wss:\/\/localhost:\d+\/connect, connection #1\)$/.test(l.msg)), { what: 'the connected line' });
  accepted.stop();

  // HTTPS_PROXY: the WebSocket goes through the proxy (a CONNECT tunnel, TLS end to end with the
  // CA file); the open POST here is plain http: and HTTP_PROXY is unset, so it goes direct
  const proxy = await connectProxy();
  t.after(() => proxy.close());
  const proxied = start(createNetwork({ caFile: pki.rootPem, env: { HTTPS_PROXY: proxy.url } }), recordingLogger());
  t.after(() => proxied.stop());
  await waitFor(() => gw.sockets.length === 2, { what: 'the WSS connection through the proxy' });
  assert.equal(proxy.tunnels.length, 1, JSON.stringify(proxy.tunnels));
  assert.match(proxy.tunnels[0], /^localhost:\d+$/);
});

/** Two apps of a host_settings document, each at its own fake gateway. */
function twoApps(hr, it) {
  return streamApps({
    app_key: 'k-hr',
    ingress: { stream: { open_url: `${hr.base}/v1.0/gateway/connections/open` } },
    apps: [
      { name: 'hr', app_key: 'k-hr', robot_code: 'k-hr', open_url: `${hr.base}/v1.0/gateway/connections/open` },
      { name: 'it', app_key: 'k-it', robot_code: 'k-it', open_url: `${it.base}/v1.0/gateway/connections/open` },
    ],
  });
}

test('host_settings apps: one Stream app per entry; a document without apps is its one app', () => {
  const settings = { app_key: 'k', ingress: { stream: { open_url: 'https://api.example/v1.0/gateway/connections/open' } } };
  assert.deepEqual(streamApps(settings), [{ name: null, appKey: 'k', openUrl: 'https://api.example/v1.0/gateway/connections/open' }]);
  const two = streamApps({ ...settings, apps: [{ name: 'hr', app_key: 'k', open_url: 'http://a/o' }, { name: 'it', app_key: 'k2', open_url: 'http://b/o' }] });
  assert.deepEqual(two, [
    { name: 'hr', appKey: 'k', openUrl: 'http://a/o' },
    { name: 'it', appKey: 'k2', openUrl: 'http://b/o' },
  ]);
  assert.equal(describeStreamApps(streamApps(settings)), 'via https://api.example/v1.0/gateway/connections/open');
  assert.equal(describeStreamApps(two), 'for 2 apps: hr (k) via http://a/o, it (k2) via http://b/o');
});

test('startStreamApps: one app starts as before; several each with their own options; one whose start throws leaves the others running', () => {
  const calls = [];
  const fakeStart = (opts) => {
    calls.push(opts);
    if (opts.clientId === 'k-broken') throw new Error('坏了');
    let stopped = false;
    return { stop: () => (stopped = true), state: () => ({ connected: !stopped, generation: 1, frames: 2, acked: 2, replaced: 0, openFailures: 1, connects: 1, reconnects: 0 }) };
  };
  const logger = recordingLogger();
  const common = { sdk: {}, logger, deliver: () => {}, silenceTimeoutMs: 1234, openBody: (name) => Buffer.from(`body of ${name}`) };
  const one = startStreamApps({ ...common, start: fakeStart, apps: [{ name: 'default', appKey: 'k', openUrl: 'http://a/o' }] });
  assert.equal(calls.length, 1);
  assert.equal(calls[0].app, null, 'one app: no app in its lines');
  assert.deepEqual([calls[0].clientId, calls[0].openUrl, calls[0].silenceTimeoutMs, String(calls[0].openBody())], ['k', 'http://a/o', 1234, 'body of default']);
  assert.deepEqual(Object.keys(one.state()), ['connected', 'generation', 'frames', 'acked', 'replaced', 'openFailures', 'connects', 'reconnects'], "the one app's own state");

  calls.length = 0;
  const apps = [
    { name: 'hr', appKey: 'k-hr', openUrl: 'http://a/o' },
    { name: 'broken', appKey: 'k-broken', openUrl: 'http://b/o' },
    { name: 'it', appKey: 'k-it', openUrl: 'http://c/o' },
  ];
  const several = startStreamApps({ ...common, start: fakeStart, apps });
  assert.deepEqual(calls.map((c) => [c.clientId, c.openUrl, c.app, String(c.openBody())]), [
    ['k-hr', 'http://a/o', { name: 'hr', appKey: 'k-hr' }, 'body of hr'],
    ['k-broken', 'http://b/o', { name: 'broken', appKey: 'k-broken' }, 'body of broken'],
    ['k-it', 'http://c/o', { name: 'it', appKey: 'k-it' }, 'body of it'],
  ]);
  assert.deepEqual(logger.lines, [{ level: 'error', msg: 'dingtalk stream app broken (k-broken): not started: 坏了' }]);
  const state = several.state();
  assert.equal(state.connected, false, 'not every app is connected');
  assert.deepEqual([state.frames, state.acked, state.openFailures], [4, 4, 2], 'summed over the running apps');
  assert.deepEqual(state.apps.map((a) => [a.name, a.app_key, a.connected]), [
    ['hr', 'k-hr', true],
    ['it', 'k-it', true],
  ]);
  several.stop();
  assert.ok(several.state().apps.every((a) => !a.connected), 'stop() stops every app');
  // every app's start throwing is the start's failure
  assert.throws(() => startStreamApps({ ...common, start: fakeStart, apps: [apps[1], { ...apps[1], name: 'b2' }] }), /坏了/);
});

test('two apps: one connection each, opened with its own body at its own URL; lines name the app; stop() closes both', { timeout: 30_000 }, async (t) => {
  const hr = await fakeStreamGateway();
  const it = await fakeStreamGateway();
  t.after(() => Promise.all([hr.close(), it.close()]));
  const bodies = { hr: openBodies('k-hr', '人事的密钥'), it: openBodies('k-it', 'it-secret') };
  const logger = recordingLogger();
  const delivered = [];
  const apps = twoApps(hr, it);
  const ingress = startStreamApps({ sdk: await loadStreamSdk(), apps, openBody: (name) => bodies[name].body(), logger, deliver: (d) => delivered.push(d) });
  t.after(() => ingress.stop());
  const [hrSock, itSock] = await Promise.all([waitFor(() => hr.sockets[0], { what: 'the hr connection' }), waitFor(() => it.sockets[0], { what: 'the it connection' })]);
  assert.deepEqual([hr.opens.length, it.opens.length], [1, 1], 'one connection per app');
  assert.deepEqual([hr.opens[0].body.clientId, hr.opens[0].body.clientSecret], ['k-hr', '人事的密钥']);
  assert.deepEqual([it.opens[0].body.clientId, it.opens[0].body.clientSecret], ['k-it', 'it-secret']);
  assert.ok([...bodies.hr.made, ...bodies.it.made].every((b) => b.every((byte) => byte === 0)), 'both bodies zeroed once sent');
  await waitFor(() => ingress.state().connected, { what: 'both apps connected' });
  const info = logger.lines.filter((l) => l.level === 'info').map((l) => l.msg);
  assert.ok(info.includes(`dingtalk stream app hr (k-hr): connecting (start) via ${apps[0].openUrl}`), info.join('\n'));
  assert.ok(info.includes(`dingtalk stream app it (k-it): connecting (start) via ${apps[1].openUrl}`), info.join('\n'));
  assert.ok(info.some((m) => /^dingtalk stream app hr \(k-hr\): connected \(ws:\/\/127\.0\.0\.1:\d+\/connect, connection #1\)$/.test(m)), info.join('\n'));
  assert.ok(info.some((m) => /^dingtalk stream app it \(k-it\): connected \(ws:\/\/127\.0\.0\.1:\d+\/connect, connection #1\)$/.test(m)), info.join('\n'));
  // each app's frames are ACKed on its own connection and handed over
  hr.send(hrSock, robotFrame('mid-hr', '{"msgId":"m-hr","text":{"content":"请假流程"}}'));
  it.send(itSock, robotFrame('mid-it', '{"msgId":"m-it","text":{"content":"电脑坏了"}}'));
  await waitFor(() => delivered.length === 2, { what: 'both hand-overs' });
  assert.deepEqual(delivered.map((d) => JSON.parse(d).msgId).sort(), ['m-hr', 'm-it']);
  await waitFor(() => hr.received.some((r) => r.frame.headers?.messageId === 'mid-hr') && it.received.some((r) => r.frame.headers?.messageId === 'mid-it'), { what: 'the ACKs' });
  const state = ingress.state();
  assert.equal(state.acked, 2);
  assert.deepEqual(state.apps.map((a) => [a.name, a.app_key, a.connected, a.acked]), [
    ['hr', 'k-hr', true, 1],
    ['it', 'k-it', true, 1],
  ]);
  assert.ok(!logger.lines.some((l) => l.msg.includes('密钥') || l.msg.includes('it-secret')), 'no secret is logged');
  ingress.stop();
  await waitFor(() => hrSock.closed && itSock.closed, { what: 'stop() to close both connections' });
  await new Promise((r) => setTimeout(r, 1500));
  assert.deepEqual([hr.opens.length, it.opens.length], [1, 1], 'no reconnect after stop()');
});

test('an app whose credentials are refused does not stop or delay the other', { timeout: 30_000 }, async (t) => {
  const hr = await fakeStreamGateway({ failOpens: Infinity });
  const it = await fakeStreamGateway();
  t.after(() => Promise.all([hr.close(), it.close()]));
  const bodies = { hr: openBodies('k-hr', 'wrong secret'), it: openBodies('k-it', 'it-secret') };
  const logger = recordingLogger();
  const delivered = [];
  const ingress = startStreamApps({ sdk: await loadStreamSdk(), apps: twoApps(hr, it), openBody: (name) => bodies[name].body(), logger, deliver: (d) => delivered.push(d) });
  t.after(() => ingress.stop());
  const t0 = Date.now();
  const itSock = await waitFor(() => it.sockets[0], { what: 'the it connection' });
  assert.ok(Date.now() - t0 < 1000, 'it connects at once, not after a retry of hr');
  // hr is refused and retried every second, on its own; it stays up and serves meanwhile
  await waitFor(() => hr.opens.length >= 3, { what: 'hr retrying', timeoutMs: 10_000 });
  it.send(itSock, robotFrame('mid-it', '{"msgId":"m-it","text":{"content":"打印机没纸了"}}'));
  await waitFor(() => delivered.length === 1, { what: 'the it hand-over' });
  assert.equal(it.opens.length, 1, 'it was never reopened');
  assert.equal(itSock.closed, false);
  const warnings = logger.lines.filter((l) => l.level === 'warn').map((l) => l.msg);
  assert.deepEqual(warnings, [`dingtalk stream app hr (k-hr): opening a connection via ${hr.base}/v1.0/gateway/connections/open failed: connections/open answered HTTP 401 (authFailed: clientId or clientSecret is wrong); the SDK retries`], 'one line a minute, naming the app');
  const state = ingress.state();
  assert.equal(state.connected, false);
  assert.deepEqual(state.apps.map((a) => [a.name, a.connected]), [
    ['hr', false],
    ['it', true],
  ]);
  assert.ok(state.apps[0].openFailures >= 3 && state.apps[1].openFailures === 0);
  assert.ok(bodies.hr.made.every((b) => b.every((byte) => byte === 0)), 'refused bodies are zeroed too');
  assert.ok(!logger.lines.some((l) => l.msg.includes('wrong secret') || l.msg.includes('it-secret')));
  ingress.stop();
  await waitFor(() => itSock.closed, { what: 'stop() to close it' });
  const opened = hr.opens.length;
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(hr.opens.length, opened, 'stop() ends the retries of the refused app too');
});
