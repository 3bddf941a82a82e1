// bench-adapter.mjs: the adapter's own share of event-loop lag, without openclaw. The plugin is
// registered with a stand-in api in this Node process (its routes on a node:http server); the
// .so talks to the fake gateway (gateway mode) and the DingTalk emulator. N concurrent signed
// callbacks, each answered with TOKENS:T PACE:P; prints one JSON line.
//
//   NODE_PATH=<openclaw>/node_modules node test/bench-adapter.mjs [N=50] [T=40] [P=50] [logLevel=info]

import http from 'node:http';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

import { registerPlugin } from '../src/plugin.js';
import { callbackSignature } from '../src/signature.js';
import { APP_SECRET, PLUGIN_DIR, botMessage, emulatorCards, startPeers, waitFor, writeSkillDir } from './helpers.mjs';

const [n = 50, tokens = 40, pace = 50] = process.argv.slice(2, 5).map(Number);
const logLevel = process.argv[5] ?? 'info';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const peers = await startPeers();
process.env.OCDT_TEST_APP_SECRET = APP_SECRET;
const dir = writeSkillDir({ emulatorUrl: peers.emulator.url, gatewayUrl: peers.gateway.url });
const routes = [];
const services = [];
const quiet = { info() {}, warn() {}, error: (m) => console.error(m), debug() {} };
const host = registerPlugin({
  registrationMode: 'full',
  pluginConfig: { manifest: path.join(dir, 'openclaw-skill.yaml'), stats: true, logLevel },
  rootDir: PLUGIN_DIR,
  logger: quiet,
  registerHttpRoute: (r) => routes.push(r),
  registerService: (s) => services.push(s),
});
const server = http.createServer(async (req, res) => {
  const route = routes.find((r) => r.path === new URL(req.url, 'http://x').pathname);
  if (!route || !(await route.handler(req, res))) res.writeHead(404).end();
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${server.address().port}/dingtalk/test-callback`;
await services[0].start({});

const events = [];
for (let i = 0; i < n; i++) events.push(await botMessage(peers.emulator.url, { conversationId: `cidAdapterBench${i}`, text: `bench ${i} TOKENS:${tokens} PACE:${pace}` }));
await host.stats({ reset: true });
await sleep(3000);
const idle = (await host.stats({ reset: true })).eventLoop;
const t0 = performance.now();
const statuses = await Promise.all(
  events.map(async (body) => {
    const ts = Date.now();
    const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', timestamp: String(ts), sign: callbackSignature(APP_SECRET, ts) }, body });
    return r.status;
  }),
);
const cards = await waitFor(
  async () => {
    const c = (await emulatorCards(peers.emulator.url)).filter((x) => x.open_space_id.includes('cidAdapterBench'));
    return c.length >= n && c.every((x) => x.state === 'Finished' || x.state === 'Failed') && c;
  },
  { timeoutMs: 600_000, intervalMs: 250, what: 'all cards' },
);
await waitFor(() => host.counters.inFlight === 0, { what: 'the pumps' });
const wallMs = Math.round(performance.now() - t0);
const loaded = await host.stats({ reset: true });
await services[0].stop({});
server.closeAllConnections();
server.close();
await peers.stop();
console.log(
  JSON.stringify({
    setup: 'adapter only (no openclaw): plugin in a plain Node 24 process, .so -> fake gateway (gateway mode) + emulator',
    replies: n,
    tokens,
    paceMs: pace,
    logLevel,
    accepted: statuses.filter((s) => s === 200).length,
    finished: cards.filter((c) => c.state === 'Finished').length,
    wallMs,
    eventLoopIdle: idle,
    eventLoopUnderLoad: loaded.eventLoop,
    logRecords: loaded.logSink,
    pulls: loaded.counters.pulls,
    chunks: loaded.counters.chunks,
  }),
);
