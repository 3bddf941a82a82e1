// The binding layer: koffi struct layouts against include/openclaw_skill.h (ABI v2), the refusal
// of an ABI v1 library, then the real libopenclaw_dingtalk.so (debug build) through every vtable
// entry, with the emulator and the fake gateway as peers.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';

import { ABI_VERSION, APPENDED_FIELDS, APPENDED_UNUSED, ChunkKind, FailureKind, LogLevel, SkillError, SkillLibrary, Status, VTABLE_V2_SIZE, appendedOffset, declareTypes, isTerminal } from '../src/abi.js';
import { loadKoffi } from '../src/koffi-loader.js';
import { ABI_V1_LIB, APP_KEY, APP_SECRET, REPO_DIR, SO_PATH, botMessage, emulatorCards, nativeMissing, signedHeaders, startPeers, waitFor, writeSkillDir } from './helpers.mjs';

const HEADER = fs.readFileSync(path.join(REPO_DIR, 'include/openclaw_skill.h'), 'utf8');
const missing = nativeMissing();
let koffi;
try {
  ({ koffi } = loadKoffi());
} catch {
  koffi = null;
}

/** `#define PREFIX_NAME N` constants of the header. */
function headerConstants(prefix) {
  const out = {};
  for (const m of HEADER.matchAll(new RegExp(`#define ${prefix}_([A-Z_]+) (\\d+)\\b`, 'g'))) out[m[1]] = Number(m[2]);
  return out;
}

test('constants match the C header', () => {
  assert.deepEqual(headerConstants('OC_STATUS'), { ...Status });
  assert.deepEqual(headerConstants('OC_CHUNK_KIND'), { ...ChunkKind });
  assert.deepEqual(headerConstants('OC_FAILURE_KIND'), { ...FailureKind });
  assert.deepEqual(headerConstants('OC_LOG_LEVEL'), Object.fromEntries(Object.entries(LogLevel).map(([k, v]) => [k.toUpperCase(), v])));
  assert.match(HEADER, new RegExp(`#define OC_SKILL_ABI_VERSION ${ABI_VERSION}\\b`));
  assert.match(HEADER, /openclaw_skill_vtable_v2\(void\)/);
  for (const k of [ChunkKind.FINISHED, ChunkKind.FAILED, ChunkKind.REPLIED, ChunkKind.SKIPPED]) assert.ok(isTerminal(k));
  for (const k of [ChunkKind.STARTED, ChunkKind.DELTA, ChunkKind.REASONING, 99]) assert.ok(!isTerminal(k), `kind ${k}`);
});

test('koffi struct layouts match the C header (LP64)', { skip: koffi ? false : 'koffi not found' }, () => {
  const t = declareTypes(koffi);
  assert.equal(declareTypes(koffi), t, 'types are declared once per koffi instance');
  assert.equal(koffi.sizeof(t.OcStr), 16);
  assert.equal(koffi.sizeof(t.OcOwnedStr), 16);
  assert.deepEqual([koffi.offsetof(t.OcRefusal, 'http_status'), koffi.offsetof(t.OcRefusal, 'kind'), koffi.sizeof(t.OcRefusal)], [0, 8, 24]);
  assert.deepEqual([koffi.offsetof(t.OcUsage, 'known'), koffi.offsetof(t.OcUsage, 'prompt_tokens'), koffi.offsetof(t.OcUsage, 'total_tokens'), koffi.sizeof(t.OcUsage)], [0, 8, 24, 32]);
  assert.deepEqual(['kind', 'failure', 'text', 'usage'].map((f) => koffi.offsetof(t.OcChunk, f)), [0, 4, 8, 24]);
  assert.equal(koffi.sizeof(t.OcChunk), 56);
  assert.deepEqual(['level', 'target', 'message', 'dropped_before'].map((f) => koffi.offsetof(t.OcLogRecord, f)), [0, 8, 24, 40]);
  assert.equal(koffi.sizeof(t.OcLogRecord), 48);
  assert.equal(koffi.sizeof(t.OcSkillVTable), VTABLE_V2_SIZE);
  // Function pointers in the header's order, right after the two OcStr.
  const body = HEADER.slice(HEADER.indexOf('typedef struct OcSkillVTable {'), HEADER.indexOf('} OcSkillVTable;'));
  const order = [...body.matchAll(/\(\*(\w+)\)\(/g)].map((m) => m[1]);
  assert.deepEqual(order, [...Object.keys(t.fns), ...APPENDED_FIELDS], 'the base entries, then the appended ones');
  Object.keys(t.fns).forEach((name, i) => assert.equal(koffi.offsetof(t.OcSkillVTable, name), 40 + 8 * i, name));
  // The appended entries follow the base table, 8 bytes each; the adapter decodes the ones it calls.
  APPENDED_FIELDS.forEach((name, i) => assert.equal(appendedOffset(name), VTABLE_V2_SIZE + 8 * i, name));
  assert.deepEqual(Object.keys(t.appended), APPENDED_FIELDS.filter((name) => !APPENDED_UNUSED.includes(name)));
  assert.deepEqual(APPENDED_UNUSED, ['post_prompt']);
});

test('a library built against skill ABI v1 is refused with a rebuild message', { skip: !koffi ? 'koffi not found' : !fs.existsSync(ABI_V1_LIB) ? `${ABI_V1_LIB} is missing (test/unit.sh builds tests/fixtures/abi-v1)` : false }, () => {
  const real = fs.realpathSync(ABI_V1_LIB);
  assert.throws(
    () => SkillLibrary.open(koffi, real),
    (e) => {
      assert.equal(e.message, `${real} was built against skill ABI v1; this adapter speaks ABI v2: rebuild the plugin from the same release as this adapter (cargo build --release -p openclaw-dingtalk)`);
      return true;
    },
  );
  // not cached: the same answer again, no half-made binding
  assert.throws(() => SkillLibrary.open(koffi, real), /built against skill ABI v1/);
});

test('a library without the entry symbol is not taken for a plugin', { skip: koffi ? false : 'koffi not found' }, () => {
  const libc = ['/lib/x86_64-linux-gnu/libc.so.6', '/usr/lib/x86_64-linux-gnu/libc.so.6', '/lib64/libc.so.6'].find((p) => fs.existsSync(p));
  if (!libc) return;
  assert.throws(() => SkillLibrary.open(koffi, fs.realpathSync(libc)), /has no openclaw_skill_vtable_v2 symbol: it is not an openclaw-dingtalk plugin library/);
});

test('the library can never be unloaded: handle kept, RTLD_NODELETE pin survives unload() + GC', { skip: missing ?? false, timeout: 60_000 }, () => {
  // In a child: koffi 3 dlcloses a library whose LibraryHandle was collected or unloaded; the
  // vtable calls would then jump into unmapped memory and kill the process (SIGSEGV).
  const abiUrl = new URL('../src/abi.js', import.meta.url).href;
  const loaderUrl = new URL('../src/koffi-loader.js', import.meta.url).href;
  const script = `
    import v8 from 'node:v8'; import vm from 'node:vm'; import fs from 'node:fs';
    const { SkillLibrary } = await import(${JSON.stringify(abiUrl)});
    const { loadKoffi } = await import(${JSON.stringify(loaderUrl)});
    const { koffi } = loadKoffi();
    const lib = SkillLibrary.open(koffi, fs.realpathSync(${JSON.stringify(SO_PATH)}));
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc');
    lib.handle.unload();
    for (let i = 0; i < 5; i++) gc();
    const mapped = fs.readFileSync('/proc/self/maps', 'utf8').includes('libopenclaw_dingtalk.so');
    const info = await lib.info(null);
    console.log(JSON.stringify({ pinned: lib.pinned, mapped, abi: info.abi_version }));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: process.env });
  assert.deepEqual(JSON.parse(out.trim().split('\n').at(-1)), { pinned: true, mapped: true, abi: 2 });
});

/** Pulls every queued plugin log record (one caller: this test). */
async function drainLogs(lib) {
  const records = [];
  for (;;) {
    const { status, record } = await lib.nextLog(0);
    if (status === Status.TIMEOUT) return records;
    assert.equal(status, Status.OK);
    records.push(record);
  }
}

/** Reads a stream to its end (timeout-0 pulls with a short sleep), frees it, returns its chunks. */
async function readStream(lib, stream) {
  const chunks = [];
  for (;;) {
    const { status, chunk } = await lib.nextChunk(stream, 0);
    if (status === Status.END) break;
    if (status === Status.TIMEOUT) {
      await new Promise((res) => setTimeout(res, 10));
      continue;
    }
    assert.equal(status, Status.OK);
    chunks.push(chunk);
  }
  await lib.streamFree(stream);
  return chunks;
}

test('the real .so through every vtable entry', { skip: missing ?? false, timeout: 120_000 }, async (t) => {
  const peers = await startPeers();
  t.after(() => peers.stop());
  const lib = SkillLibrary.open(koffi, fs.realpathSync(SO_PATH));
  assert.equal(SkillLibrary.open(koffi, fs.realpathSync(SO_PATH)), lib, 'one binding per library for the process');
  const cargo = fs.readFileSync(path.join(REPO_DIR, 'Cargo.toml'), 'utf8');
  assert.equal(lib.pluginName, 'openclaw-dingtalk');
  assert.equal(lib.pluginVersion, /\[package\][^[]*?version = "([^"]+)"/.exec(cargo)[1]);
  assert.equal(lib.abiVersion, 2);
  assert.ok(lib.structSize >= VTABLE_V2_SIZE);
  lib.setLogLevel(LogLevel.info);

  const { dir, manifestPath } = writeSkillDir({ dingtalkUrl: peers.emulator.url, gatewayUrl: peers.gateway.url, json: [{ ingress: { http: { max_body_bytes: 4096, read_timeout_ms: 1500, max_connections: 8 } } }] });
  const text = fs.readFileSync(manifestPath, 'utf8');

  await t.test('check_manifest: summary with secrets redacted; errors name the file, key and line', () => {
    const summary = lib.checkManifest(text, manifestPath);
    assert.equal(summary.name, 'test-bot');
    assert.equal(summary.apps[0].app_secret, '***');
    assert.ok(!JSON.stringify(summary).includes(APP_SECRET));
    assert.equal(summary.library, path.join(dir, 'libopenclaw_dingtalk.so'));
    const bad = text.replace('card_update_interval_ms: 100', 'card_update_interval_ms: 5');
    assert.throws(
      () => lib.checkManifest(bad, manifestPath),
      (e) => e instanceof SkillError && e.status === Status.CONFIG && e.message.includes(manifestPath) && /streaming\.card_update_interval_ms \(line \d+\)/.test(e.message),
    );
    assert.throws(() => lib.checkManifest(`${text}\nextra: "\${OCDT_UNSET_VAR}"\n`, manifestPath), /OCDT_UNSET_VAR is not set/);
  });

  await t.test('host_settings: resolved ingress settings, defaults applied, no secrets', () => {
    const s = lib.hostSettings(text, manifestPath);
    assert.equal(s.ingress.mode, 'http');
    assert.equal(s.ingress.http.path, '/dingtalk/test-callback');
    assert.deepEqual([s.ingress.http.max_body_bytes, s.ingress.http.read_timeout_ms, s.ingress.http.max_connections], [4096, 1500, 8]);
    assert.equal(s.ingress.stream.open_url, `${peers.emulator.url}/v1.0/gateway/connections/open`);
    assert.equal(typeof s.ingress.stream.silence_timeout_ms, 'number');
    assert.equal(s.app_key, APP_KEY);
    assert.deepEqual(s.apps, [{ name: 'default', app_key: APP_KEY, robot_code: APP_KEY, open_url: s.ingress.stream.open_url }], 'the dingtalk: block is the one app, named default');
    assert.equal(s.state_dir, path.join(dir, 'state'), 'relative to the manifest');
    assert.ok(!JSON.stringify(s).includes(APP_SECRET));
    // ${VAR} resolved by the library, from this process's environment
    process.env.OCDT_TEST_PATH = '/from-env';
    const viaEnv = text.replace('path: "/dingtalk/test-callback"', 'path: "${OCDT_TEST_PATH}"');
    assert.notEqual(viaEnv, text);
    assert.equal(lib.hostSettings(viaEnv, manifestPath).ingress.http.path, '/from-env');
    assert.throws(() => lib.hostSettings('name: x\n', manifestPath), (e) => e instanceof SkillError && e.status === Status.CONFIG && e.message.includes(manifestPath));
  });

  await t.test('init refuses a bad manifest with the reason', async () => {
    await assert.rejects(lib.init('name: x\n', manifestPath), (e) => e instanceof SkillError && e.status === Status.CONFIG);
  });

  await drainLogs(lib);
  const skill = await lib.init(text, manifestPath);
  assert.equal(typeof skill, 'bigint');

  await t.test('next_log: the plugin log records are pulled with level, target and message', async () => {
    const records = await waitFor(async () => {
      const r = await drainLogs(lib);
      return r.length > 0 && r;
    }, { what: 'the ready line' });
    const ready = records.find((r) => /skill test-bot 1\.0 ready/.test(r.message));
    assert.ok(ready, JSON.stringify(records));
    assert.equal(ready.level, LogLevel.info);
    assert.match(ready.target, /^openclaw_dingtalk/);
    assert.equal(ready.droppedBefore, 0);
    assert.ok(!records.some((r) => r.message.includes(APP_SECRET)));
  });

  await t.test('stream_open_request: the Stream open body with the app credentials and subscriptions', () => {
    const body = lib.streamOpenRequest(skill);
    assert.ok(Buffer.isBuffer(body));
    const json = JSON.parse(body.toString('utf8'));
    body.fill(0);
    assert.equal(json.clientId, APP_KEY);
    assert.equal(json.clientSecret, APP_SECRET, 'the secret as written (its ${ stays literal)');
    assert.ok(json.subscriptions.some((s) => s.type === 'CALLBACK' && s.topic === '/v1.0/im/bot/messages/get'));
    // the one app by its name: the same body
    assert.ok(lib.has('stream_open_request_app'));
    const byName = lib.streamOpenRequestApp(skill, 'default');
    assert.deepEqual(JSON.parse(byName.toString('utf8')), json);
    byName.fill(0);
  });

  await t.test('verify_callback: signature and timestamp, refusals with status, kind and reason', () => {
    assert.deepEqual(lib.verifyCallback(skill, JSON.stringify(signedHeaders())), { status: Status.OK, refusal: null, error: '' });
    const cases = [
      [{}, 401, 'missing_signature'],
      [{ ...signedHeaders(), sign: 'AAAA' }, 403, 'bad_signature'],
      [signedHeaders('wrong secret'), 403, 'bad_signature'],
      [signedHeaders(APP_SECRET, Date.now() - 2 * 3600 * 1000), 403, 'stale_timestamp'],
      [{ timestamp: 'yesterday', sign: 'x' }, 403, 'bad_timestamp'],
    ];
    for (const [headers, httpStatus, kind] of cases) {
      const r = lib.verifyCallback(skill, JSON.stringify(headers));
      assert.equal(r.status, Status.REFUSED, JSON.stringify(headers));
      assert.deepEqual(r.refusal, { httpStatus, kind });
      assert.ok(r.error.length > 0 && !r.error.includes(APP_SECRET), r.error);
    }
    // header names in any case
    const h = signedHeaders();
    assert.equal(lib.verifyCallback(skill, JSON.stringify({ TimeStamp: h.timestamp, SIGN: h.sign })).status, Status.OK);
    assert.notEqual(lib.verifyCallback(skill, 'not json').status, Status.OK);
  });

  await t.test('handle_callback: a signed callback streams its reply; its replay is refused', async () => {
    const headers = JSON.stringify(signedHeaders());
    const event = await botMessage(peers.emulator.url, { conversationId: 'cidAbiCallback', text: 'TOKENS:4' });
    const r = await lib.handleCallback(skill, headers, Buffer.from(event));
    assert.equal(r.status, Status.OK, r.error);
    assert.equal(r.refusal, null);
    const chunks = await readStream(lib, r.stream);
    assert.equal(chunks.at(-1).kind, ChunkKind.FINISHED, JSON.stringify(chunks.at(-1)));
    const again = await lib.handleCallback(skill, headers, event);
    assert.deepEqual([again.status, again.refusal, again.stream], [Status.REFUSED, { httpStatus: 403, kind: 'replay' }, null]);
    assert.match(again.error, /replay/);
    assert.equal(lib.verifyCallback(skill, headers).refusal.kind, 'replay');
    // a callback refused for another reason (not an event) keeps its timestamp usable
    const other = JSON.stringify(signedHeaders(APP_SECRET, Date.now() - 7));
    const invalid = await lib.handleCallback(skill, other, '{"not":"an event"}');
    assert.equal(invalid.status, Status.INVALID_ARGUMENT);
    assert.ok(invalid.error.length > 0);
    assert.equal(lib.verifyCallback(skill, other).status, Status.OK, 'the claim was given back');
  });

  await t.test('handle_event refuses a non-event with INVALID_ARGUMENT and a reason', async () => {
    const r = await lib.handleEvent(skill, '{"not":"an event"}');
    assert.equal(r.status, Status.INVALID_ARGUMENT);
    assert.ok(r.error.length > 0);
    assert.equal(r.stream, null);
  });

  await t.test('a reply streams STARTED, DELTA… FINISHED; copied text equals the card (UTF-8)', async () => {
    const event = await botMessage(peers.emulator.url, { conversationId: 'cidAbiReply', text: 'please answer LONG:300' });
    const r = await lib.handleEvent(skill, event);
    assert.equal(r.status, Status.OK);
    const chunks = await readStream(lib, r.stream);
    assert.equal(chunks[0].kind, ChunkKind.STARTED);
    assert.match(chunks[0].text, /\S/);
    const last = chunks.at(-1);
    assert.equal(last.kind, ChunkKind.FINISHED, JSON.stringify(last));
    assert.ok(last.usage && last.usage.total > 0);
    const answer = chunks.filter((c) => c.kind === ChunkKind.DELTA).map((c) => c.text).join('');
    assert.equal([...answer].length, 300);
    assert.match(answer, /[\u4e00-\u9fff]/, 'the fake answer has CJK text');
    const card = (await emulatorCards(peers.emulator.url)).find((c) => c.out_track_id === chunks[0].text);
    assert.ok(card, 'the card id of STARTED is the emulator card');
    assert.equal(card.state, 'Finished');
    assert.equal(card.param_map.content, answer);
  });

  await t.test('a stream freed unread: the reply and its card still finish', async () => {
    const event = await botMessage(peers.emulator.url, { conversationId: 'cidAbiUnread', text: 'TOKENS:6' });
    const r = await lib.handleEvent(skill, event);
    assert.equal(r.status, Status.OK);
    await lib.streamFree(r.stream);
    const card = await waitFor(async () => (await emulatorCards(peers.emulator.url)).find((c) => c.open_space_id.endsWith('cidAbiUnread') && c.state === 'Finished'), { what: 'the unread reply to finish' });
    assert.equal(card.param_map.content.trim(), 't1 t2 t3 t4 t5 t6');
  });

  await t.test('info reports the counters', async () => {
    // the counter moves when the reply task ends, just after the card's last update
    const info = await waitFor(async () => {
      const i = await lib.info(skill);
      return i.replies.finished >= 3 && i.replies.in_flight === 0 && i;
    }, { what: `finished >= 3 in ${JSON.stringify(await lib.info(skill))}` });
    assert.equal(info.plugin.name, 'openclaw-dingtalk');
    assert.equal(info.skill.name, 'test-bot');
    const stat = await lib.info(null);
    assert.equal(stat.abi_version, 2);
    assert.equal(stat.skill, undefined);
  });

  await t.test('shutdown, then events and callbacks are refused; skill_free; a second init works', async () => {
    await lib.shutdown(skill, 2000);
    const event = await botMessage(peers.emulator.url, { conversationId: 'cidAbiLate', text: 'late' });
    const r = await lib.handleEvent(skill, event);
    assert.equal(r.status, Status.SHUTTING_DOWN);
    const c = await lib.handleCallback(skill, JSON.stringify(signedHeaders()), event);
    assert.equal(c.status, Status.SHUTTING_DOWN);
    await lib.skillFree(skill);
    const again = await lib.init(text, manifestPath);
    await lib.shutdown(again, 1000);
    await lib.skillFree(again);
  });

  await t.test('set_log_level: off records nothing', async () => {
    await drainLogs(lib);
    lib.setLogLevel(LogLevel.off);
    const quiet = await lib.init(text, manifestPath);
    await lib.shutdown(quiet, 1000);
    await lib.skillFree(quiet);
    assert.deepEqual(await drainLogs(lib), []);
    lib.setLogLevel(LogLevel.info);
  });
  const errors = (await drainLogs(lib)).filter((r) => r.level === LogLevel.error);
  assert.deepEqual(errors, []);
});

test('stream_open_request_app: each app of a two-app manifest gets its own body; an unknown name is refused naming the apps', { skip: missing ?? false, timeout: 60_000 }, async () => {
  const lib = SkillLibrary.open(koffi, fs.realpathSync(SO_PATH));
  const nowhere = 'http://127.0.0.1:9';
  const apps = [
    { name: 'hr', app_key: 'ocdt-hr-app', app_secret: '人事部的密钥 #1', api_base_url: nowhere, oapi_base_url: nowhere },
    { name: 'it', app_key: 'ocdt-it-app', app_secret: 'it secret ${literal}', api_base_url: nowhere, oapi_base_url: nowhere },
  ];
  const { manifestPath } = writeSkillDir({ dingtalkUrl: nowhere, gatewayUrl: nowhere, json: [{ dingtalk: null, apps }] });
  const text = fs.readFileSync(manifestPath, 'utf8');
  const settings = lib.hostSettings(text, manifestPath);
  assert.deepEqual(
    settings.apps.map((a) => [a.name, a.app_key, a.open_url]),
    apps.map((a) => [a.name, a.app_key, `${nowhere}/v1.0/gateway/connections/open`]),
  );
  assert.equal(settings.app_key, 'ocdt-hr-app', 'the top-level app_key is the first app\'s');
  assert.ok(!JSON.stringify(settings).includes('密钥'));
  await drainLogs(lib);
  const skill = await lib.init(text, manifestPath);
  try {
    for (const app of apps) {
      const body = lib.streamOpenRequestApp(skill, app.name);
      assert.ok(Buffer.isBuffer(body));
      const json = JSON.parse(body.toString('utf8'));
      body.fill(0);
      assert.equal(json.clientId, app.app_key, app.name);
      assert.equal(json.clientSecret, app.app_secret, `${app.name}: its own secret, as written`);
    }
    // stream_open_request is the first app's
    const first = lib.streamOpenRequest(skill);
    assert.equal(JSON.parse(first.toString('utf8')).clientId, 'ocdt-hr-app');
    first.fill(0);
    assert.throws(
      () => lib.streamOpenRequestApp(skill, '财务'),
      (e) => e instanceof SkillError && e.status === Status.INVALID_ARGUMENT && e.message === 'stream_open_request_app failed (INVALID_ARGUMENT): no app is named `财务` (apps: hr, it)',
    );
    // A plugin built before the entry (its struct_size ends short of it) has it not decoded, and
    // its one app's body comes from stream_open_request.
    const older = Object.assign(Object.create(SkillLibrary.prototype), {
      koffi,
      types: lib.types,
      structSize: appendedOffset('stream_open_request_app'),
      fn: Object.fromEntries(Object.entries(lib.fn).filter(([name]) => name !== 'stream_open_request_app')),
    });
    older.decodeAppended(lib.entry());
    assert.equal(older.has('stream_open_request_app'), false);
    const fallback = older.streamOpenRequestApp(skill, 'it');
    assert.equal(JSON.parse(fallback.toString('utf8')).clientId, 'ocdt-hr-app', "stream_open_request's body");
    fallback.fill(0);
  } finally {
    await lib.shutdown(skill, 1000);
    await lib.skillFree(skill);
  }
  const records = await drainLogs(lib);
  assert.ok(!records.some((r) => r.message.includes('密钥') || r.message.includes('it secret')), 'no secret in the log records');
});
