// The log pump: the plugin's records are pulled with next_log (one caller at a time, timeout 0,
// timer backoff) into the gateway logger with their levels and targets; dropped records are
// reported. With the real .so: the records arrive, and replies never wait for the host to take
// them (the event loop is blocked while replies run at trace level).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import test from 'node:test';

import { LogLevel, SkillLibrary, Status } from '../src/abi.js';
import { loadKoffi } from '../src/koffi-loader.js';
import { formatRecord, forward, levelNumber, processLogPump } from '../src/log-pump.js';
import { SO_PATH, botMessage, nativeMissing, recordingLogger, startPeers, waitFor, writeSkillDir } from './helpers.mjs';

/** A stand-in SkillLibrary whose next_log replays `queue` (records, or Errors to throw). */
function fakeLib(queue) {
  const calls = { pulls: 0, concurrent: 0, maxConcurrent: 0, timeouts: [] };
  return {
    calls,
    queue,
    async nextLog(timeout) {
      calls.pulls++;
      calls.timeouts.push(timeout);
      calls.concurrent++;
      calls.maxConcurrent = Math.max(calls.maxConcurrent, calls.concurrent);
      await new Promise((r) => setImmediate(r));
      calls.concurrent--;
      const next = queue.shift();
      if (next instanceof Error) throw next;
      if (next && next.status !== undefined) return next;
      return next ? { status: Status.OK, record: { droppedBefore: 0, ...next } } : { status: Status.TIMEOUT, record: null };
    },
  };
}

test('levels and targets as the gateway log shows them', () => {
  assert.equal(levelNumber('warn'), LogLevel.warn);
  assert.equal(levelNumber('TRACE'), LogLevel.trace);
  assert.equal(levelNumber('nonsense'), LogLevel.info);
  assert.equal(formatRecord('openclaw_dingtalk::conversation::reply', 'm'), '[conversation::reply] m');
  assert.equal(formatRecord('openclaw_dingtalk', 'm'), '[skill] m');
  assert.equal(formatRecord('reqwest::connect', 'm'), '[reqwest::connect] m');
  const logger = recordingLogger();
  for (const level of [1, 2, 3, 4, 5, 9]) forward(logger, level, 'openclaw_dingtalk::x', `l${level}`);
  assert.deepEqual(
    logger.lines.map((l) => [l.level, l.msg]),
    [
      ['error', '[x] l1'],
      ['warn', '[x] l2'],
      ['info', '[x] l3'],
      ['debug', '[x] l4'],
      ['debug', '[x] l5'],
      ['info', '[x] l9'],
    ],
  );
  const noDebug = { lines: [], info(m) { this.lines.push(m); } };
  forward(noDebug, 4, 'openclaw_dingtalk', 'd');
  assert.deepEqual(noDebug.lines, ['[skill] d'], 'debug falls back to info');
});

test('records are pulled one at a time with timeout 0, dropped ones reported, stop drains', async () => {
  const lib = fakeLib([
    { level: 3, target: 'openclaw_dingtalk::a', message: 'one' },
    { level: 2, target: 'openclaw_dingtalk::b', message: 'two', droppedBefore: 7 },
  ]);
  const pump = processLogPump(lib, { minDelayMs: 2, maxDelayMs: 8 });
  const logger = recordingLogger();
  pump.start(logger);
  pump.start(logger); // a second start does not start a second loop
  await waitFor(() => logger.lines.length === 3, { what: 'the records' });
  assert.deepEqual(
    logger.lines.map((l) => [l.level, l.msg]),
    [
      ['info', '[a] one'],
      ['warn', '7 skill log record(s) were dropped: the log queue of the skill library was full (the gateway did not take them fast enough)'],
      ['warn', '[b] two'],
    ],
  );
  // idle: the loop polls on a timer, never with a blocking wait
  const before = lib.calls.pulls;
  await new Promise((r) => setTimeout(r, 60));
  assert.ok(lib.calls.pulls > before, 'still polling');
  assert.ok(lib.calls.pulls - before < 40, `backs off (${lib.calls.pulls - before} pulls in 60 ms)`);
  lib.queue.push({ level: 1, target: 'openclaw_dingtalk::c', message: 'late' });
  await pump.stop();
  assert.ok(logger.lines.some((l) => l.level === 'error' && l.msg === '[c] late'), 'stop() forwards what is queued');
  const stopped = lib.calls.pulls;
  await new Promise((r) => setTimeout(r, 40));
  assert.equal(lib.calls.pulls, stopped, 'no pull after stop()');
  assert.equal(lib.calls.maxConcurrent, 1, 'one next_log caller at a time');
  assert.ok(lib.calls.timeouts.every((t) => t === 0));
  assert.deepEqual(pump.stats(), { records: 3, dropped: 7, pulls: lib.calls.pulls, running: false });

  // a later start (a plugin reload) forwards to the new logger
  const second = recordingLogger();
  lib.queue.push({ level: 3, target: 'openclaw_dingtalk', message: 'again' });
  pump.start(second);
  await waitFor(() => second.lines.length === 1, { what: 'the record after a restart' });
  assert.equal(second.lines[0].msg, '[skill] again');
  await pump.stop();
});

test('a next_log failure stops the loop with one error line; a throwing logger does not', async () => {
  const lib = fakeLib([{ level: 3, target: 'openclaw_dingtalk', message: 'x' }, { level: 3, target: 'openclaw_dingtalk', message: 'y' }, { status: Status.PANICKED }]);
  const pump = processLogPump(lib, { minDelayMs: 1, maxDelayMs: 2 });
  const lines = [];
  const logger = {
    info(m) {
      lines.push(m);
      if (m.endsWith('x')) throw new Error('logger broke');
    },
    warn: (m) => lines.push(m),
    error: (m) => lines.push(`E ${m}`),
  };
  pump.start(logger);
  await waitFor(() => lines.some((l) => l.startsWith('E ')), { what: 'the error line' });
  assert.deepEqual(lines, ['[skill] x', '[skill] y', "E stopped forwarding the skill's log: next_log returned PANICKED"]);
  assert.equal(pump.stats().running, false);
  await pump.stop();
});

/** Whether every card of `convs` is Finished, asked synchronously (the event loop stays blocked). */
function allFinishedSync(emulatorUrl, convs) {
  const script = `const r = await fetch(${JSON.stringify(`${emulatorUrl}/__emulator/cards`)}); process.stdout.write(await r.text());`;
  const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  const cards = JSON.parse(out.stdout || '[]');
  return convs.every((c) => cards.some((x) => x.open_space_id.endsWith(c) && x.state === 'Finished'));
}

test('the real .so: records reach the logger; replies never wait for the host to take them', { skip: nativeMissing() ?? false, timeout: 120_000 }, async (t) => {
  const peers = await startPeers();
  t.after(() => peers.stop());
  const { koffi } = loadKoffi();
  const lib = SkillLibrary.open(koffi, fs.realpathSync(SO_PATH));
  const { manifestPath } = writeSkillDir({ dingtalkUrl: peers.emulator.url, gatewayUrl: peers.gateway.url });
  const text = fs.readFileSync(manifestPath, 'utf8');
  const logger = recordingLogger();
  const pump = processLogPump(lib);
  lib.setLogLevel(LogLevel.trace);
  pump.start(logger);
  const skill = await lib.init(text, manifestPath);
  t.after(async () => {
    lib.setLogLevel(LogLevel.info);
    await lib.shutdown(skill, 1000);
    await lib.skillFree(skill);
    await pump.stop();
  });
  await waitFor(() => logger.lines.some((l) => l.level === 'info' && /^\[skill\] skill test-bot 1\.0 ready/.test(l.msg)), { what: 'the ready line in the logger' });

  // Many replies at trace level while the event loop is blocked: nobody takes a log record,
  // nobody reads a chunk, and the replies still finish (before ABI v2, a plugin thread waited
  // for the event loop to run each log callback).
  const convs = Array.from({ length: 12 }, (_, i) => `cidLogBurst${i}`);
  const events = [];
  for (const c of convs) events.push(await botMessage(peers.emulator.url, { conversationId: c, text: 'TOKENS:6' }));
  const streams = [];
  for (const e of events) {
    const r = await lib.handleEvent(skill, e);
    assert.equal(r.status, Status.OK);
    streams.push(r.stream);
  }
  const recordsBefore = pump.stats().records;
  const t0 = Date.now();
  let finished = false;
  while (!finished && Date.now() - t0 < 30_000) finished = allFinishedSync(peers.emulator.url, convs); // blocks the loop
  const blockedMs = Date.now() - t0;
  assert.ok(finished, `the replies did not finish within ${blockedMs} ms while the event loop was blocked`);
  assert.equal(pump.stats().records, recordsBefore, 'no record was forwarded while the loop was blocked');
  for (const s of streams) await lib.streamFree(s);

  // and now the records of those replies arrive, each reply's line at info
  await waitFor(() => convs.every((c) => logger.lines.some((l) => l.level === 'info' && new RegExp(`conv=${c}( |$)`).test(l.msg) && /outcome=finished/.test(l.msg))), { what: 'the reply lines of the burst' });
  assert.ok(logger.lines.some((l) => l.level === 'debug'), 'trace/debug records arrive as debug');
  assert.equal(logger.lines.filter((l) => l.level === 'error').length, 0, JSON.stringify(logger.lines.filter((l) => l.level === 'error')));
});
