// The binding layer: koffi struct layouts against include/openclaw_skill.h, then the real
// libopenclaw_dingtalk.so (debug build) through every vtable entry, with the emulator and the
// fake gateway as peers.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';

import { ChunkKind, FailureKind, SkillError, SkillLibrary, Status, VTABLE_V1_SIZE, declareTypes, isTerminal } from '../src/abi.js';
import { loadKoffi } from '../src/koffi-loader.js';
import { processLogSink } from '../src/log-sink.js';
import { APP_SECRET, REPO_DIR, SO_PATH, botMessage, emulatorCards, nativeMissing, recordingLogger, startPeers, waitFor, writeSkillDir } from './helpers.mjs';

const HEADER = fs.readFileSync(path.join(REPO_DIR, 'include/openclaw_skill.h'), 'utf8');
const missing = nativeMissing();
let koffi;
try {
  ({ koffi } = loadKoffi());
} catch {
  koffi = null;
}

/** `PREFIX_NAME = N` constants of one C enum in the header. */
function headerEnum(prefix) {
  const out = {};
  for (const m of HEADER.matchAll(new RegExp(`\\b${prefix}_([A-Z_]+) = (\\d+)`, 'g'))) out[m[1]] = Number(m[2]);
  return out;
}

test('enum values match the C header', () => {
  assert.deepEqual(headerEnum('OC_STATUS'), { ...Status });
  assert.deepEqual(headerEnum('OC_CHUNK_KIND'), { ...ChunkKind });
  assert.deepEqual(headerEnum('OC_FAILURE_KIND'), { ...FailureKind });
  assert.match(HEADER, /#define OC_SKILL_ABI_VERSION 1\b/);
  for (const k of [ChunkKind.FINISHED, ChunkKind.FAILED, ChunkKind.REPLIED, ChunkKind.SKIPPED]) assert.ok(isTerminal(k));
  for (const k of [ChunkKind.STARTED, ChunkKind.DELTA, ChunkKind.REASONING]) assert.ok(!isTerminal(k));
});

test('koffi struct layouts match the C header (LP64)', { skip: koffi ? false : 'koffi not found' }, () => {
  const t = declareTypes(koffi);
  assert.equal(declareTypes(koffi), t, 'types are declared once per koffi instance');
  assert.equal(koffi.sizeof(t.OcStr), 16);
  assert.equal(koffi.sizeof(t.OcOwnedStr), 16);
  assert.deepEqual([koffi.offsetof(t.OcLogSink, 'user'), koffi.offsetof(t.OcLogSink, 'max_level'), koffi.offsetof(t.OcLogSink, 'log'), koffi.sizeof(t.OcLogSink)], [0, 8, 16, 24]);
  assert.deepEqual([koffi.offsetof(t.OcUsage, 'known'), koffi.offsetof(t.OcUsage, 'prompt_tokens'), koffi.offsetof(t.OcUsage, 'total_tokens'), koffi.sizeof(t.OcUsage)], [0, 8, 24, 32]);
  assert.deepEqual(['kind', 'failure', 'text', 'usage'].map((f) => koffi.offsetof(t.OcChunk, f)), [0, 4, 8, 24]);
  assert.equal(koffi.sizeof(t.OcChunk), 56);
  assert.equal(koffi.sizeof(t.OcSkillVTable), VTABLE_V1_SIZE);
  // Function pointers in the header's order, right after the two OcStr.
  const body = HEADER.slice(HEADER.indexOf('typedef struct OcSkillVTable {'), HEADER.indexOf('} OcSkillVTable;'));
  const order = [...body.matchAll(/\(\*(\w+)\)\(/g)].map((m) => m[1]);
  assert.deepEqual(order, Object.keys(t.fns));
  order.forEach((name, i) => assert.equal(koffi.offsetof(t.OcSkillVTable, name), 40 + 8 * i, name));
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
  assert.deepEqual(JSON.parse(out.trim().split('\n').at(-1)), { pinned: true, mapped: true, abi: 1 });
});

test('the real .so through every vtable entry', { skip: missing ?? false, timeout: 120_000 }, async (t) => {
  const peers = await startPeers();
  t.after(() => peers.stop());
  process.env.OCDT_TEST_APP_SECRET = APP_SECRET;
  const lib = SkillLibrary.open(koffi, fs.realpathSync(SO_PATH));
  assert.equal(SkillLibrary.open(koffi, fs.realpathSync(SO_PATH)), lib, 'one binding per library for the process');
  const cargo = fs.readFileSync(path.join(REPO_DIR, 'Cargo.toml'), 'utf8');
  assert.equal(lib.pluginName, 'openclaw-dingtalk');
  assert.equal(lib.pluginVersion, /\[package\][^[]*?version = "([^"]+)"/.exec(cargo)[1]);
  assert.equal(lib.abiVersion, 1);
  assert.ok(lib.structSize >= VTABLE_V1_SIZE);

  const dir = writeSkillDir({ emulatorUrl: peers.emulator.url, gatewayUrl: peers.gateway.url });
  const text = fs.readFileSync(path.join(dir, 'openclaw-skill.yaml'), 'utf8');

  await t.test('check_manifest: summary with secrets redacted, errors name key and line', () => {
    const summary = lib.checkManifest(text, dir);
    assert.equal(summary.name, 'test-bot');
    assert.equal(summary.dingtalk.app_secret, '***');
    assert.equal(summary.ingress.mode, 'http');
    assert.equal(summary.ingress.http_path, '/dingtalk/test-callback');
    assert.ok(!JSON.stringify(summary).includes(APP_SECRET));
    const bad = text.replace('card_update_interval_ms: 100', 'card_update_interval_ms: 5');
    assert.throws(() => lib.checkManifest(bad, dir), (e) => e instanceof SkillError && e.status === Status.CONFIG && /streaming\.card_update_interval_ms \(line \d+\)/.test(e.message));
    assert.throws(() => lib.checkManifest(text.replace('OCDT_TEST_APP_SECRET', 'OCDT_UNSET_VAR'), dir), /OCDT_UNSET_VAR is not set/);
  });

  await t.test('init refuses a bad manifest with the reason', async () => {
    await assert.rejects(lib.init('name: x\n', dir, null), (e) => e instanceof SkillError && e.status === Status.CONFIG);
  });

  const logger = recordingLogger();
  const sink = processLogSink(koffi, lib.types);
  sink.setLogger(logger);
  const skill = await lib.init(text, dir, sink.sink(3));
  assert.equal(typeof skill, 'bigint');

  await t.test('plugin log records reach the logger from plugin threads', async () => {
    await waitFor(() => logger.lines.some((l) => l.level === 'info' && /\[skill\] skill test-bot 0\.1 ready/.test(l.msg)), { what: 'the ready line' });
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
    const chunks = [];
    for (;;) {
      const { status, chunk } = await lib.nextChunk(r.stream, 0);
      if (status === Status.END) break;
      if (status === Status.TIMEOUT) {
        await new Promise((res) => setTimeout(res, 10));
        continue;
      }
      assert.equal(status, Status.OK);
      chunks.push(chunk);
    }
    await lib.streamFree(r.stream);
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
      return i.replies.finished >= 2 && i.replies.in_flight === 0 && i;
    }, { what: `finished >= 2 in ${JSON.stringify(await lib.info(skill))}` });
    assert.equal(info.plugin.name, 'openclaw-dingtalk');
    assert.equal(info.skill.name, 'test-bot');
    const stat = await lib.info(null);
    assert.equal(stat.abi_version, 1);
    assert.equal(stat.skill, undefined);
  });

  await t.test('shutdown, then events are refused; skill_free; a second init works', async () => {
    await lib.shutdown(skill, 2000);
    const event = await botMessage(peers.emulator.url, { conversationId: 'cidAbiLate', text: 'late' });
    const r = await lib.handleEvent(skill, event);
    assert.equal(r.status, Status.SHUTTING_DOWN);
    await lib.skillFree(skill);
    const again = await lib.init(text, dir, sink.sink(2));
    await lib.shutdown(again, 1000);
    await lib.skillFree(again);
  });
  assert.equal(logger.lines.filter((l) => l.level === 'error').length, 0, JSON.stringify(logger.lines.filter((l) => l.level === 'error')));
});
