// The chunk pump: one pull at a time, non-blocking pulls with a timer backoff, counters, the
// stream freed exactly once whatever happens.
import assert from 'node:assert/strict';
import test from 'node:test';

import { ChunkKind, FailureKind, Status } from '../src/abi.js';
import { newCounters, nextDelay, pumpStream } from '../src/pump.js';
import { recordingLogger } from './helpers.mjs';

/** A stand-in SkillLibrary replaying `script` (statuses / chunks / errors). */
function fakeLib(script) {
  const calls = { pulls: [], freed: [] };
  let active = 0;
  return {
    calls,
    async nextChunk(stream, timeout) {
      assert.equal(active, 0, 'one pull at a time per stream');
      active++;
      calls.pulls.push({ stream, timeout });
      await new Promise((r) => setImmediate(r));
      active--;
      const step = script.shift() ?? { status: Status.END };
      if (step instanceof Error) throw step;
      return step;
    },
    async streamFree(stream) {
      calls.freed.push(stream);
    },
  };
}

const ok = (kind, text = '', extra = {}) => ({ status: Status.OK, chunk: { kind, failure: FailureKind.NONE, text, usage: null, ...extra } });

test('backoff doubles from the minimum up to the cap', () => {
  const o = { minDelayMs: 5, maxDelayMs: 40 };
  const seq = [];
  let d = 0;
  for (let i = 0; i < 6; i++) seq.push((d = nextDelay(d, o)));
  assert.deepEqual(seq, [5, 10, 20, 40, 40, 40]);
});

test('a finished reply: counters, stops at the terminal chunk, frees once, never blocks', async () => {
  const lib = fakeLib([
    { status: Status.TIMEOUT },
    ok(ChunkKind.STARTED, 'card_1'),
    ok(ChunkKind.DELTA, 'Hel'),
    { status: Status.TIMEOUT },
    { status: Status.TIMEOUT },
    ok(ChunkKind.DELTA, 'lo'),
    ok(ChunkKind.FINISHED, '', { usage: { prompt: 1, completion: 2, total: 3 } }),
    ok(ChunkKind.DELTA, 'never read'),
  ]);
  const counters = newCounters();
  const logger = recordingLogger();
  const terminal = await pumpStream(lib, 7n, { counters, logger, label: 't', minDelayMs: 1, maxDelayMs: 4 });
  assert.equal(terminal.kind, ChunkKind.FINISHED);
  assert.ok(lib.calls.pulls.every((p) => p.stream === 7n && p.timeout === 0), 'always timeout 0');
  assert.equal(lib.calls.pulls.length, 7, 'no pull after the terminal chunk');
  assert.deepEqual(lib.calls.freed, [7n]);
  assert.equal(counters.started, 1);
  assert.equal(counters.finished, 1);
  assert.equal(counters.chunks, 4);
  assert.equal(counters.inFlight, 0);
  assert.ok(logger.lines.some((l) => /FINISHED, 5 chars streamed/.test(l.msg)));
});

test('END without a terminal chunk, errors and odd statuses all free the stream', async () => {
  for (const script of [[{ status: Status.END }], [new Error('boom')], [{ status: Status.PANICKED }]]) {
    const lib = fakeLib([...script]);
    const counters = newCounters();
    const logger = recordingLogger();
    const terminal = await pumpStream(lib, 1n, { counters, logger, label: 'x', minDelayMs: 1 });
    assert.equal(terminal, null);
    assert.deepEqual(lib.calls.freed, [1n]);
    assert.equal(counters.inFlight, 0);
  }
});

test('failed replies are counted with their failure kind', async () => {
  const lib = fakeLib([ok(ChunkKind.STARTED, 'c'), ok(ChunkKind.FAILED, 'gateway down', { failure: FailureKind.GATEWAY_UNREACHABLE })]);
  const counters = newCounters();
  const logger = recordingLogger();
  await pumpStream(lib, 2n, { counters, logger, label: 'f', minDelayMs: 1 });
  assert.equal(counters.failed, 1);
  assert.ok(logger.lines.some((l) => l.level === 'warn' && /reply failed \(GATEWAY_UNREACHABLE\): gateway down; 0 chars had been streamed/.test(l.msg)));
});

test('abandon() stops an endless stream and still frees it', async () => {
  const script = Array.from({ length: 1000 }, () => ({ status: Status.TIMEOUT }));
  const lib = fakeLib(script);
  const counters = newCounters();
  let stop = false;
  setTimeout(() => (stop = true), 30);
  await pumpStream(lib, 3n, { counters, logger: recordingLogger(), label: 'a', minDelayMs: 1, maxDelayMs: 2, abandon: () => stop });
  assert.equal(counters.abandoned, 1);
  assert.deepEqual(lib.calls.freed, [3n]);
});

test('a chunk kind this adapter does not know (a newer plugin) is skipped, not terminal', async () => {
  const lib = fakeLib([ok(ChunkKind.STARTED, 'c'), ok(42, 'from the future'), ok(ChunkKind.DELTA, 'hi'), ok(ChunkKind.FINISHED)]);
  const counters = newCounters();
  const logger = recordingLogger();
  const terminal = await pumpStream(lib, 4n, { counters, logger, label: 'u', minDelayMs: 1 });
  assert.equal(terminal.kind, ChunkKind.FINISHED);
  assert.equal(lib.calls.pulls.length, 4, 'read on past the unknown kind');
  assert.equal(counters.chunks, 4);
  assert.equal(counters.finished, 1);
  assert.deepEqual(lib.calls.freed, [4n]);
  assert.ok(!logger.lines.some((l) => l.level === 'warn' || l.level === 'error'));
});
