// register(api) with a stand-in gateway api: what is registered in which mode, the operator
// errors (an ABI v1 library among them), and the whole path without openclaw: the route with the
// .so's callback verdicts and host_settings' limits → .so → emulator card → stop finalizes;
// Stream mode through the real SDK against the emulator's Stream server with the .so's open
// body, and with two apps against two emulators (one connection each); the .so's log records in
// the gateway logger.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import test from 'node:test';

import { PLUGIN_ID, SERVICE_ID, STATS_PATH, registerPlugin } from '../src/plugin.js';
import { loadKoffi } from '../src/koffi-loader.js';
import { PACKAGED_LIBRARY, libraryCandidates } from '../src/skill-host.js';
import { ABI_V1_LIB, APP_KEY, APP_SECRET, EMULATOR_BIN, PLUGIN_DIR, SO_PATH, TEST_CALLBACK_PATH, botMessage, companyPki, emulatorCards, nativeMissing, rawYaml, recordingLogger, signedHeaders, startPeers, startServer, tempDir, waitFor, writeSkillDir } from './helpers.mjs';

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

test('npm package: published (not private), carries native/ and the licenses', () => {
  assert.equal(packageJson.private, undefined, 'installable with openclaw plugins install npm-pack:');
  for (const f of ['openclaw.plugin.json', 'src/', 'native/', 'README.md']) assert.ok(packageJson.files.includes(f), f);
  assert.equal(path.relative(PLUGIN_DIR, PACKAGED_LIBRARY), `native/${process.platform}-${process.arch}/libopenclaw_dingtalk.so`);
  assert.equal(packageJson.devDependencies.ws !== undefined, true, 'ws is for the tests only');
});

test('library search order: config library (alone), next to the manifest, the packaged copy', () => {
  assert.deepEqual(
    libraryCandidates({ configured: '/x/lib.so', manifestDir: '/m', packaged: '/p/lib.so' }).map((c) => c.path),
    ['/x/lib.so'],
  );
  assert.deepEqual(
    libraryCandidates({ configured: null, manifestDir: '/m', packaged: '/p/lib.so' }).map((c) => [c.path, c.why]),
    [
      ['/m/libopenclaw_dingtalk.so', 'next to the manifest'],
      ['/p/lib.so', `packaged with the plugin (native/${process.platform}-${process.arch})`],
    ],
  );
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
  assert.throws(() => registerPlugin(fakeApi({ manifest: 'x.yaml', library: '' }).api), /config\.library must be the path of libopenclaw_dingtalk\.so/);
  assert.throws(() => registerPlugin(fakeApi({ manifest: '/nonexistent/openclaw-skill.yaml' }).api), /cannot read the skill manifest \/nonexistent\/openclaw-skill\.yaml \(ENOENT\)/);
  const dir = tempDir('ocdt-nolib-');
  fs.writeFileSync(path.join(dir, 'openclaw-skill.yaml'), 'name: x\n');
  assert.throws(() => registerPlugin(fakeApi({ manifest: path.join(dir, 'openclaw-skill.yaml') }).api), /libopenclaw_dingtalk\.so is missing \(ENOENT\): build it with `cargo build -p openclaw-dingtalk`.*or set plugins\.entries\.<id>\.config\.library/);
});

test('a library built against skill ABI v1 fails the plugin load with the rebuild message', { skip: nativeMissing() ?? (fs.existsSync(ABI_V1_LIB) ? false : `${ABI_V1_LIB} is missing (test/unit.sh builds it)`) }, () => {
  const dir = tempDir('ocdt-v1-');
  fs.symlinkSync(ABI_V1_LIB, path.join(dir, 'libopenclaw_dingtalk.so'));
  fs.writeFileSync(path.join(dir, 'openclaw-skill.yaml'), 'name: x\n');
  const f = fakeApi({ manifest: path.join(dir, 'openclaw-skill.yaml') });
  assert.throws(() => registerPlugin(f.api), /libabi_v1_fixture\.so was built against skill ABI v1; this adapter speaks ABI v2: rebuild the plugin/);
  assert.equal(f.routes.length + f.services.length, 0);
});

test("the manifest's errors come from the .so with its path; its library key is honoured or refused", { skip: nativeMissing() ?? false }, () => {
  const urls = { dingtalkUrl: 'http://127.0.0.1:9', gatewayUrl: 'http://127.0.0.1:9' };
  const bad = writeSkillDir({ ...urls, json: [{ streaming: { card_update_interval_ms: 5 } }] });
  assert.throws(() => registerPlugin(fakeApi({ manifest: bad.manifestPath }).api), (e) => e.message.includes(`check_manifest failed (CONFIG): ${bad.manifestPath}: streaming.card_update_interval_ms (line`));
  // the manifest names a library elsewhere: the adapter cannot read that key before loading one
  const elsewhere = writeSkillDir({ ...urls, json: [{ library: 'lib/libopenclaw_dingtalk.so' }] });
  assert.throws(() => registerPlugin(fakeApi({ manifest: elsewhere.manifestPath }).api), /its library key names .*\/lib\/libopenclaw_dingtalk\.so, but the adapter loaded .*: set plugins\.entries\.<id>\.config\.library to/);
  // ... which the plugin config's library (relative to the manifest) settles
  const viaConfig = writeSkillDir({ ...urls, json: [{ library: 'lib/libopenclaw_dingtalk.so' }] }, { library: false });
  fs.mkdirSync(path.join(viaConfig.dir, 'lib'));
  fs.symlinkSync(SO_PATH, path.join(viaConfig.dir, 'lib/libopenclaw_dingtalk.so'));
  const f = fakeApi({ manifest: viaConfig.manifestPath, library: 'lib/libopenclaw_dingtalk.so' });
  assert.ok(registerPlugin(f.api));
  assert.deepEqual(f.routes.map((r) => r.path), [TEST_CALLBACK_PATH]);
});

test('no library next to the manifest: the packaged copy is loaded; a missing config library is not replaced by it', { skip: nativeMissing() ?? false }, () => {
  const urls = { dingtalkUrl: 'http://127.0.0.1:9', gatewayUrl: 'http://127.0.0.1:9' };
  const bare = writeSkillDir(urls, { library: false });
  const deps = { loadKoffi, packagedLibrary: SO_PATH };
  const f = fakeApi({ manifest: bare.manifestPath });
  assert.ok(registerPlugin(f.api, deps));
  assert.ok(f.logger.lines.some((l) => /^openclaw-dingtalk: loaded .*libopenclaw_dingtalk\.so \(openclaw-dingtalk [\d.]+, skill ABI 2\) packaged with the plugin \(native\/linux-x64\), with koffi 3\./.test(l.msg)), JSON.stringify(f.logger.lines));
  // next to the manifest wins over the packaged copy
  const beside = writeSkillDir(urls);
  const g = fakeApi({ manifest: beside.manifestPath });
  registerPlugin(g.api, { loadKoffi, packagedLibrary: '/nonexistent/packaged.so' });
  assert.ok(g.logger.lines.some((l) => /skill ABI 2\) next to the manifest, with koffi/.test(l.msg)));
  // an explicit library that is missing fails, even with a packaged copy at hand
  assert.throws(() => registerPlugin(fakeApi({ manifest: bare.manifestPath, library: 'nope.so' }).api, deps), /the skill library .*nope\.so is missing \(ENOENT\): fix plugins\.entries\.<id>\.config\.library/);
  // and no library anywhere says where it looked
  assert.throws(() => registerPlugin(fakeApi({ manifest: bare.manifestPath }).api, { loadKoffi, packagedLibrary: '/nonexistent/packaged.so' }), /is missing \(ENOENT\): build it .*this plugin package carries no prebuilt library for linux-x64: \/nonexistent\/packaged\.so/);
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

test('full mode: route + service; signed callbacks end as finished cards; refusals are the .so\'s; stop finalizes', { skip: nativeMissing() ?? false, timeout: 120_000 }, async (t) => {
  const peers = await startPeers();
  t.after(() => peers.stop());
  const { manifestPath } = writeSkillDir({ dingtalkUrl: peers.emulator.url, gatewayUrl: peers.gateway.url, json: [{ ingress: { http: { max_body_bytes: 4096 } } }] });
  const f = fakeApi({ manifest: manifestPath, stats: true, shutdownDeadlineMs: 1500 });
  const host = registerPlugin(f.api);
  assert.deepEqual(
    f.routes.map((r) => [r.path, r.auth, r.match]),
    [
      [TEST_CALLBACK_PATH, 'plugin', 'exact'],
      [STATS_PATH, 'gateway', 'exact'],
    ],
  );
  assert.deepEqual(f.services.map((s) => s.id), [SERVICE_ID]);
  assert.ok(f.logger.lines.some((l) => /^openclaw-dingtalk: loaded .*libopenclaw_dingtalk\.so \(openclaw-dingtalk [\d.]+, skill ABI 2\) next to the manifest, with koffi 3\./.test(l.msg)));
  assert.equal(host.ingress.maxBodyBytes, 4096, 'the limits come from host_settings');
  const server = await serveRoutes(f.routes);
  t.after(() => server.close());
  const cb = `${server.url}${TEST_CALLBACK_PATH}`;

  // before the service started: 503
  assert.equal((await fetch(cb, { method: 'POST', headers: signedHeaders(), body: '{}' })).status, 503);
  await f.services[0].start({});
  assert.ok(f.logger.lines.some((l) => /running: callbacks on POST \/dingtalk\/test-callback/.test(l.msg)));
  // the .so's own log records arrive in the gateway logger (next_log), with their level
  await waitFor(() => f.logger.lines.some((l) => l.level === 'info' && /^openclaw-dingtalk: \[skill\] skill test-bot 1\.0 ready/.test(l.msg)), { what: "the .so's ready line in the gateway log" });

  const event = await botMessage(peers.emulator.url, { conversationId: 'cidPluginOk', text: 'TOKENS:8' });
  const okHeaders = signedHeaders();
  const ok = await fetch(cb, { method: 'POST', headers: okHeaders, body: event });
  assert.equal(ok.status, 200);
  assert.deepEqual(await ok.json(), { success: true });
  const card = await waitFor(async () => (await emulatorCards(peers.emulator.url)).find((c) => c.open_space_id.endsWith('cidPluginOk') && c.state === 'Finished'), { what: 'a finished card' });
  assert.equal(card.param_map.content.trim(), 't1 t2 t3 t4 t5 t6 t7 t8');
  await waitFor(() => f.logger.lines.some((l) => l.level === 'info' && /^openclaw-dingtalk: \[reply\] reply .*conv=cidPluginOk.* outcome=finished/.test(l.msg)), { what: 'the reply line' });

  // refused by the .so, with its status and reason; none reaches the skill or DingTalk
  const cardsBefore = (await emulatorCards(peers.emulator.url)).length;
  const eventsBefore = host.counters.events;
  const other = await botMessage(peers.emulator.url, { conversationId: 'cidPluginRefused', text: 'TOKENS:2' });
  const answer = async (headers, body = other) => {
    const r = await fetch(cb, { method: 'POST', headers, body });
    return [r.status, (await r.json()).message];
  };
  assert.deepEqual(await answer(signedHeaders('wrong secret')), [403, 'bad signature']);
  assert.deepEqual(await answer({ 'content-type': 'application/json' }), [401, 'missing timestamp or sign header']);
  const [staleStatus, staleReason] = await answer(signedHeaders(APP_SECRET, Date.now() - 2 * 3600 * 1000));
  assert.equal(staleStatus, 403);
  assert.match(staleReason, /timestamp/);
  assert.deepEqual(await answer(okHeaders, other), [403, 'replayed callback: this timestamp and sign were accepted before'], 'the accepted headers again, on another body');
  assert.deepEqual(await answer(signedHeaders(), 'x'.repeat(5000)), [413, 'body too large'], 'ingress.http.max_body_bytes from host_settings');
  assert.deepEqual(await answer(signedHeaders(), '{"not":"an event"}').then(([st]) => st), 400);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await emulatorCards(peers.emulator.url)).length, cardsBefore, 'no card for refused callbacks');
  assert.equal(host.counters.events, eventsBefore + 1, 'only the invalid event reached handle_callback as an event');
  assert.ok(f.logger.lines.some((l) => l.level === 'warn' && /DingTalk callback from .* refused with 403: bad signature/.test(l.msg)));
  assert.ok(!f.logger.lines.some((l) => l.msg.includes(APP_SECRET)), 'the secret is never logged');

  // the same message again with fresh headers: the .so dedups it (SKIPPED), no second card
  assert.equal((await fetch(cb, { method: 'POST', headers: signedHeaders(), body: event })).status, 200);
  await waitFor(() => host.counters.skipped === 1, { what: 'the duplicate to be skipped' });

  await waitFor(() => host.counters.finished === 1, { what: 'the pump to read FINISHED' });
  const stats = await (await fetch(`${server.url}${STATS_PATH}`)).json();
  assert.equal(stats.running, true);
  assert.equal(stats.counters.finished, 1);
  assert.ok(stats.eventLoop.samples > 0);
  assert.ok(stats.eventLoop.lagP99Ms >= stats.eventLoop.lagP50Ms);
  assert.equal(stats.skill.skill.name, 'test-bot');
  assert.ok(stats.logs.records > 0 && stats.logs.running);

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
  assert.equal(host.logs.stats().running, false, 'the log pump stopped with the service');
  assert.equal((await fetch(cb, { method: 'POST', headers: signedHeaders(), body: event })).status, 503);
  assert.equal(host.pumps.size, 0);
  assert.equal(f.logger.lines.filter((l) => l.level === 'error').length, 0, JSON.stringify(f.logger.lines.filter((l) => l.level === 'error')));
});

test('Stream mode: the SDK gets the app key, the open URL and the .so\'s open body; its frames reach the .so', { skip: nativeMissing() ?? false, timeout: 120_000 }, async (t) => {
  const peers = await startPeers();
  t.after(() => peers.stop());
  process.env.OCDT_TEST_APP_SECRET = APP_SECRET;
  const { manifestPath } = writeSkillDir({
    dingtalkUrl: peers.emulator.url,
    gatewayUrl: peers.gateway.url,
    appSecret: rawYaml('"${OCDT_TEST_APP_SECRET}"'),
    json: [{ ingress: { mode: 'stream', stream: { silence_timeout_ms: 45000 } } }],
  });
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
  const f = fakeApi({ manifest: manifestPath });
  const host = registerPlugin(f.api, deps);
  assert.equal(f.routes.length, 0, 'no HTTP route in Stream mode');
  assert.equal(host.network.caFile, null);
  assert.equal(host.network.describe(), null);
  assert.throws(() => host.streamOpenBody(), /not running/);
  await f.services[0].start({});
  assert.equal(started.clientId, APP_KEY);
  assert.equal(started.app, null, 'one app: its lines do not name it, as before several apps');
  assert.equal(started.openUrl, `${peers.emulator.url}/v1.0/gateway/connections/open`);
  assert.equal(started.silenceTimeoutMs, 45000);
  const body = started.openBody();
  assert.ok(Buffer.isBuffer(body));
  const open = JSON.parse(body.toString('utf8'));
  assert.equal(open.clientId, APP_KEY);
  assert.equal(open.clientSecret, APP_SECRET, 'the secret as the .so reads it (${VAR} from this process)');
  assert.ok(open.subscriptions.some((s) => s.topic === '/v1.0/im/bot/messages/get'));
  await started.deliver(await botMessage(peers.emulator.url, { conversationId: 'cidStreamPath', text: 'TOKENS:3' }));
  const card = await waitFor(async () => (await emulatorCards(peers.emulator.url)).find((c) => c.open_space_id.endsWith('cidStreamPath') && c.state === 'Finished'), { what: 'the Stream-delivered reply' });
  assert.equal(card.param_map.content.trim(), 't1 t2 t3');
  await f.services[0].stop({});
  assert.equal(stopped, 1);
  assert.throws(() => host.streamOpenBody(), /not running/, 'no open body once stopped');

  // network.ca_file (relative to the manifest): host_settings resolves it, the Stream clients trust it
  const pki = companyPki();
  const withCa = writeSkillDir({
    dingtalkUrl: peers.emulator.url,
    gatewayUrl: peers.gateway.url,
    json: [{ ingress: { mode: 'stream' }, network: { ca_file: 'certs/company-root.pem' } }],
  });
  fs.mkdirSync(path.join(withCa.dir, 'certs'));
  fs.copyFileSync(pki.rootPem, path.join(withCa.dir, 'certs/company-root.pem'));
  const h = fakeApi({ manifest: withCa.manifestPath });
  const caHost = registerPlugin(h.api, deps);
  assert.equal(caHost.network.caFile, path.join(withCa.dir, 'certs/company-root.pem'));
  assert.ok(h.logger.lines.some((l) => /^openclaw-dingtalk: network of the Stream connection: trusting 1 extra CA certificate\(s\) from network\.ca_file .*certs\/company-root\.pem in addition to Node's default roots$/.test(l.msg)), JSON.stringify(h.logger.lines));
  await h.services[0].start({});
  assert.equal(started.network, caHost.network, 'startStreamIngress gets that network');
  await h.services[0].stop({});

  // a missing SDK fails the start and leaves no skill running
  const g = fakeApi({ manifest: manifestPath });
  const failed = registerPlugin(g.api, { ...deps, loadStreamSdk: () => Promise.reject(new Error('dingtalk-stream is not installed')) });
  await assert.rejects(g.services[0].start({}), /dingtalk-stream is not installed/);
  assert.equal(failed.skill, null);
  assert.equal(failed.accepting, false);
});

test("Stream mode end to end: the real SDK opens the emulator's Stream connection with the .so's body; a pushed message becomes a card", { skip: nativeMissing() ?? false, timeout: 120_000 }, async (t) => {
  const peers = await startPeers();
  t.after(() => peers.stop());
  const { manifestPath } = writeSkillDir({ dingtalkUrl: peers.emulator.url, gatewayUrl: peers.gateway.url, json: [{ ingress: { mode: 'stream' } }] });
  const f = fakeApi({ manifest: manifestPath, stats: true });
  const host = registerPlugin(f.api);
  await f.services[0].start({});
  t.after(() => f.services[0].stop({}));
  // the emulator accepts the connection only with the app's real key and secret
  await waitFor(async () => (await (await fetch(`${peers.emulator.url}/__emulator/stream/connections`)).json()).length > 0, { what: 'the Stream connection' });
  await waitFor(() => host.stream.state().connected, { what: 'the SDK to be connected' });
  // the one app logs as before several apps
  await waitFor(() => f.logger.lines.some((l) => new RegExp(`^openclaw-dingtalk: dingtalk stream: connected \\(app ${APP_KEY}, ws://127\\.0\\.0\\.1:\\d+/connect, connection #1\\)$`).test(l.msg)), { what: 'the connected line' });
  const push = await fetch(`${peers.emulator.url}/__emulator/stream/push`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ chat: { Group: { conversation_id: 'cidStreamE2e', title: 'node test' } }, sender: { staff_id: 'u-node', nick: 'node' }, content: { Text: 'TOKENS:4' }, quoted_text: null, msg_id: null }),
  });
  assert.equal(push.status, 200, await push.clone().text());
  const card = await waitFor(async () => (await emulatorCards(peers.emulator.url)).find((c) => c.open_space_id.endsWith('cidStreamE2e') && c.state === 'Finished'), { what: 'the card of the pushed message' });
  assert.equal(card.param_map.content.trim(), 't1 t2 t3 t4');
  assert.equal(host.stream.state().acked, 1, 'ACKed');
  const opens = (await (await fetch(`${peers.emulator.url}/__emulator/calls`)).json()).filter((c) => c.kind === 'StreamConnectionOpen');
  assert.ok(opens.length >= 1 && opens.every((c) => c.status === 200), JSON.stringify(opens));
  assert.ok(!f.logger.lines.some((l) => l.msg.includes(APP_SECRET)), 'the secret is never logged');
});

/** An `apps:` entry for the app of the emulator at `url` (its template and content key). */
const emulatorApp = (name, appKey, appSecret, url) => ({ name, app_key: appKey, app_secret: appSecret, api_base_url: url, oapi_base_url: url, card_template_id: 'emulator-ai-card.schema', card_content_key: 'content' });

/** Pushes a robot message from the emulator at `url` over its Stream connection. */
async function streamPush(url, conversationId, text) {
  const push = await fetch(`${url}/__emulator/stream/push`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ chat: { Group: { conversation_id: conversationId, title: 'node test' } }, sender: { staff_id: 'u-node', nick: 'node' }, content: { Text: text }, quoted_text: null, msg_id: null }),
  });
  assert.equal(push.status, 200, await push.clone().text());
}

test("Stream mode with two apps: one connection each, at its app's emulator with the .so's body of that app; a message to either becomes that app's card", { skip: nativeMissing() ?? false, timeout: 120_000 }, async (t) => {
  const peers = await startPeers(); // the emulator of app hr, and the gateway
  t.after(() => peers.stop());
  const itKey = 'ocdt-it-app';
  const itSecret = 'IT 部门的密钥';
  const itEmulator = await startServer(EMULATOR_BIN, ['--app-key', itKey, '--app-secret', itSecret, '--qps', '0']);
  t.after(() => itEmulator.stop());
  const { manifestPath } = writeSkillDir({
    dingtalkUrl: peers.emulator.url,
    gatewayUrl: peers.gateway.url,
    json: [{ ingress: { mode: 'stream' }, dingtalk: null, apps: [emulatorApp('hr', APP_KEY, APP_SECRET, peers.emulator.url), emulatorApp('it', itKey, itSecret, itEmulator.url)] }],
  });
  const f = fakeApi({ manifest: manifestPath, stats: true });
  const host = registerPlugin(f.api);
  const openUrl = (url) => `${url}/v1.0/gateway/connections/open`;
  assert.deepEqual(host.ingress.apps, [
    { name: 'hr', appKey: APP_KEY, openUrl: openUrl(peers.emulator.url) },
    { name: 'it', appKey: itKey, openUrl: openUrl(itEmulator.url) },
  ]);
  const loaded = f.logger.lines.find((l) => / manifest .*: skill test-bot 1\.0, ingress stream /.test(l.msg));
  assert.ok(loaded.msg.endsWith(`ingress stream for 2 apps: hr (${APP_KEY}) via ${openUrl(peers.emulator.url)}, it (${itKey}) via ${openUrl(itEmulator.url)} (${host.timings.prepareMs} ms)`), loaded.msg);
  await f.services[0].start({});
  t.after(() => f.services[0].stop({}));
  // each emulator accepts a connection only with its own app's key and secret
  const connections = async (url) => (await (await fetch(`${url}/__emulator/stream/connections`)).json()).length;
  await waitFor(async () => (await connections(peers.emulator.url)) === 1 && (await connections(itEmulator.url)) === 1, { what: 'one Stream connection per app' });
  await waitFor(() => host.stream.state().connected, { what: 'both apps connected' });
  for (const [name, key] of [
    ['hr', APP_KEY],
    ['it', itKey],
  ]) {
    await waitFor(() => f.logger.lines.some((l) => l.level === 'info' && new RegExp(`^openclaw-dingtalk: dingtalk stream app ${name} \\(${key}\\): connected \\(ws://127\\.0\\.0\\.1:\\d+/connect, connection #1\\)$`).test(l.msg)), { what: `the connected line of ${name}` });
  }
  assert.ok(f.logger.lines.some((l) => /running: Stream mode for 2 apps: hr /.test(l.msg)));

  await streamPush(peers.emulator.url, 'cidStreamHr', 'TOKENS:3');
  await streamPush(itEmulator.url, 'cidStreamIt', 'TOKENS:4');
  const finished = (url, cid) => waitFor(async () => (await emulatorCards(url)).find((c) => c.open_space_id.endsWith(cid) && c.state === 'Finished'), { what: `the card of ${cid}` });
  assert.equal((await finished(peers.emulator.url, 'cidStreamHr')).param_map.content.trim(), 't1 t2 t3');
  assert.equal((await finished(itEmulator.url, 'cidStreamIt')).param_map.content.trim(), 't1 t2 t3 t4', "the it app's card, on the it app's DingTalk");
  assert.deepEqual((await emulatorCards(peers.emulator.url)).map((c) => c.open_space_id).filter((id) => id.endsWith('cidStreamIt')), [], 'nothing of it on the hr app');
  const state = host.stream.state();
  assert.equal(state.acked, 2);
  assert.deepEqual(state.apps.map((a) => [a.name, a.app_key, a.acked]), [
    ['hr', APP_KEY, 1],
    ['it', itKey, 1],
  ]);
  assert.ok(!f.logger.lines.some((l) => l.msg.includes(APP_SECRET) || l.msg.includes(itSecret)), 'no secret is logged');
});
