// register(api) with a stand-in gateway api: what is registered in which mode, the operator
// errors, and the whole path (route → .so → emulator card → stop finalizes) without openclaw.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import test from 'node:test';

import { PLUGIN_ID, SERVICE_ID, STATS_PATH, registerPlugin } from '../src/plugin.js';
import { callbackSignature } from '../src/signature.js';
import { APP_SECRET, PLUGIN_DIR, botMessage, emulatorCards, nativeMissing, recordingLogger, startPeers, tempDir, waitFor, writeSkillDir } from './helpers.mjs';

const manifestJson = JSON.parse(fs.readFileSync(path.join(PLUGIN_DIR, 'openclaw.plugin.json'), 'utf8'));
const packageJson = JSON.parse(fs.readFileSync(path.join(PLUGIN_DIR, 'package.json'), 'utf8'));

function fakeApi(pluginConfig, registrationMode = 'full') {
  const logger = recordingLogger();
  const routes = [];
  const services = [];
  return {
    api: {
      id: PLUGIN_ID,
      registrationMode,
      pluginConfig,
      rootDir: PLUGIN_DIR,
      logger,
      registerHttpRoute: (r) => routes.push(r),
      registerService: (s) => services.push(s),
    },
    logger,
    routes,
    services,
  };
}

test('package metadata: id, activation, schema, entry, peers', () => {
  assert.equal(manifestJson.id, PLUGIN_ID);
  assert.notEqual(manifestJson.id, 'dingtalk');
  assert.equal(manifestJson.activation.onStartup, true);
  assert.deepEqual(manifestJson.configSchema.required, ['manifest']);
  assert.equal(manifestJson.configSchema.additionalProperties, false);
  assert.equal(packageJson.type, 'module');
  assert.deepEqual(packageJson.openclaw.extensions, ['./src/index.js']);
  for (const peer of ['koffi', 'openclaw']) {
    assert.ok(packageJson.peerDependencies[peer], `${peer} is a peer dependency`);
    assert.equal(packageJson.peerDependenciesMeta[peer].optional, true, `${peer} is never installed next to the plugin`);
    assert.equal(packageJson.dependencies?.[peer], undefined);
  }
  assert.ok(packageJson.dependencies['dingtalk-stream']);
});

test('discovery and other non-full modes register nothing and load nothing', () => {
  for (const mode of ['discovery', 'tool-discovery', 'setup-only', 'cli-metadata']) {
    const f = fakeApi({ manifest: '/nonexistent.yaml' }, mode);
    assert.equal(registerPlugin(f.api), undefined);
    assert.equal(f.routes.length + f.services.length, 0);
  }
});

test('operator errors say what to fix', () => {
  assert.throws(() => registerPlugin(fakeApi({}).api), /plugins\.entries\.openclaw-dingtalk\.config\.manifest is not set/);
  assert.throws(() => registerPlugin(fakeApi({ manifest: 'x.yaml', logLevel: 'loud' }).api), /logLevel must be one of/);
  assert.throws(() => registerPlugin(fakeApi({ manifest: '/nonexistent/openclaw-skill.yaml' }).api), /cannot read the skill manifest \/nonexistent\/openclaw-skill\.yaml \(ENOENT\)/);
  const dir = tempDir('ocdt-nolib-');
  fs.writeFileSync(path.join(dir, 'openclaw-skill.yaml'), 'name: x\n');
  assert.throws(() => registerPlugin(fakeApi({ manifest: path.join(dir, 'openclaw-skill.yaml') }).api), /libopenclaw_dingtalk\.so is missing \(ENOENT\): build it with `cargo build -p openclaw-dingtalk`/);
});

/** Serves the registered route handlers on a real node:http server. */
async function serveRoutes(routes) {
  const server = http.createServer(async (req, res) => {
    const route = routes.find((r) => r.path === new URL(req.url, 'http://x').pathname);
    if (!route || !(await route.handler(req, res))) res.writeHead(404).end();
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

const signedHeaders = (secret = APP_SECRET, ts = Date.now()) => ({ 'content-type': 'application/json', timestamp: String(ts), sign: callbackSignature(secret, ts) });

test('full mode: route + service; a signed callback ends as a finished card; stop finalizes', { skip: nativeMissing() ?? false, timeout: 120_000 }, async (t) => {
  const peers = await startPeers();
  t.after(() => peers.stop());
  process.env.OCDT_TEST_APP_SECRET = APP_SECRET;
  const dir = writeSkillDir({ emulatorUrl: peers.emulator.url, gatewayUrl: peers.gateway.url });
  const f = fakeApi({ manifest: path.join(dir, 'openclaw-skill.yaml'), stats: true, shutdownDeadlineMs: 1500 });
  const host = registerPlugin(f.api);
  assert.deepEqual(
    f.routes.map((r) => [r.path, r.auth, r.match]),
    [
      ['/dingtalk/test-callback', 'plugin', 'exact'],
      [STATS_PATH, 'gateway', 'exact'],
    ],
  );
  assert.deepEqual(f.services.map((s) => s.id), [SERVICE_ID]);
  assert.ok(f.logger.lines.some((l) => /^openclaw-dingtalk: loaded .*libopenclaw_dingtalk\.so \(openclaw-dingtalk [\d.]+, skill ABI 1\) with koffi 3\./.test(l.msg)));
  const server = await serveRoutes(f.routes);
  t.after(() => server.close());
  const cb = `${server.url}/dingtalk/test-callback`;

  // before the service started: 503
  assert.equal((await fetch(cb, { method: 'POST', headers: signedHeaders(), body: '{}' })).status, 503);
  await f.services[0].start({});
  assert.ok(f.logger.lines.some((l) => /running: callbacks on POST \/dingtalk\/test-callback/.test(l.msg)));

  const event = await botMessage(peers.emulator.url, { conversationId: 'cidPluginOk', text: 'TOKENS:8' });
  const ok = await fetch(cb, { method: 'POST', headers: signedHeaders(), body: event });
  assert.equal(ok.status, 200);
  assert.deepEqual(await ok.json(), { success: true });
  const card = await waitFor(async () => (await emulatorCards(peers.emulator.url)).find((c) => c.open_space_id.endsWith('cidPluginOk') && c.state === 'Finished'), { what: 'a finished card' });
  assert.equal(card.param_map.content.trim(), 't1 t2 t3 t4 t5 t6 t7 t8');

  const bad = await fetch(cb, { method: 'POST', headers: signedHeaders('wrong secret'), body: event });
  assert.equal(bad.status, 403);

  // the same message again: the .so dedups it (SKIPPED), no second card
  assert.equal((await fetch(cb, { method: 'POST', headers: signedHeaders(), body: event })).status, 200);
  await waitFor(() => host.counters.skipped === 1, { what: 'the duplicate to be skipped' });

  await waitFor(() => host.counters.finished === 1, { what: 'the pump to read FINISHED' });
  const stats = await (await fetch(`${server.url}${STATS_PATH}`)).json();
  assert.equal(stats.running, true);
  assert.equal(stats.counters.finished, 1);
  assert.ok(stats.eventLoop.samples > 0);
  assert.ok(stats.eventLoop.lagP99Ms >= stats.eventLoop.lagP50Ms);
  assert.equal(stats.skill.skill.name, 'test-bot');

  // a slow reply in flight when the service stops is finalized, never left streaming
  const slow = await botMessage(peers.emulator.url, { conversationId: 'cidPluginSlow', text: 'SLOW TOKENS:30' });
  assert.equal((await fetch(cb, { method: 'POST', headers: signedHeaders(), body: slow })).status, 200);
  await waitFor(async () => (await emulatorCards(peers.emulator.url)).find((c) => c.open_space_id.endsWith('cidPluginSlow') && c.state === 'Inputting'), { what: 'the slow card to stream' });
  const t0 = Date.now();
  await f.services[0].stop({});
  assert.ok(Date.now() - t0 < 8000, 'stop returns within the deadline plus grace');
  const slowCard = (await emulatorCards(peers.emulator.url)).find((c) => c.open_space_id.endsWith('cidPluginSlow'));
  assert.ok(['Finished', 'Failed'].includes(slowCard.state), slowCard.state);
  assert.ok(f.logger.lines.some((l) => /DingTalk skill stopped in \d+/.test(l.msg)));
  assert.equal((await fetch(cb, { method: 'POST', headers: signedHeaders(), body: event })).status, 503);
  assert.equal(host.pumps.size, 0);
});

test('Stream mode: the SDK gets the app credentials and api base; its frames reach the .so', { skip: nativeMissing() ?? false, timeout: 120_000 }, async (t) => {
  const peers = await startPeers();
  t.after(() => peers.stop());
  process.env.OCDT_TEST_APP_SECRET = APP_SECRET;
  const dir = writeSkillDir({ emulatorUrl: peers.emulator.url, gatewayUrl: peers.gateway.url, ingress: 'stream', overlay: { ingress: { stream: { silence_timeout_ms: 45000 } } } });
  let started = null;
  let stopped = 0;
  const deps = {
    loadKoffi: (await import('../src/koffi-loader.js')).loadKoffi,
    loadStreamSdk: async () => ({ DWClient: class {} }),
    startStreamIngress: (opts) => {
      started = opts;
      return { stop: () => stopped++, state: () => ({ connected: true }) };
    },
  };
  const f = fakeApi({ manifest: path.join(dir, 'openclaw-skill.yaml') });
  registerPlugin(f.api, deps);
  assert.equal(f.routes.length, 0, 'no HTTP route in Stream mode');
  await f.services[0].start({});
  assert.equal(started.clientId, 'ocdt-test-app');
  assert.equal(started.clientSecret, APP_SECRET, 'the secret as the .so reads it (${VAR} with special characters)');
  assert.equal(started.apiBaseUrl, peers.emulator.url);
  assert.equal(started.silenceTimeoutMs, 45000);
  await started.deliver(await botMessage(peers.emulator.url, { conversationId: 'cidStreamPath', text: 'TOKENS:3' }));
  const card = await waitFor(async () => (await emulatorCards(peers.emulator.url)).find((c) => c.open_space_id.endsWith('cidStreamPath') && c.state === 'Finished'), { what: 'the Stream-delivered reply' });
  assert.equal(card.param_map.content.trim(), 't1 t2 t3');
  await f.services[0].stop({});
  assert.equal(stopped, 1);

  // a missing SDK fails the start and leaves no skill running
  const g = fakeApi({ manifest: path.join(dir, 'openclaw-skill.yaml') });
  const host = registerPlugin(g.api, { ...deps, loadStreamSdk: () => Promise.reject(new Error('dingtalk-stream is not installed')) });
  await assert.rejects(g.services[0].start({}), /dingtalk-stream is not installed/);
  assert.equal(host.skill, null);
  assert.equal(host.accepting, false);
});
