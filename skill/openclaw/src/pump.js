// pump.js: reads each reply's chunk stream on libuv worker threads (koffi async calls) so the
// gateway's event loop never blocks, and keeps counters. The reply and its card are driven by
// the .so whether or not the stream is read; the chunks only feed counters and debug lines.
//
// Threads and ownership: one pull at a time per stream (the ABI allows one thread at a time
// per stream), each `next_chunk(stream, 0, …)` returns at once ("just look"); when nothing is
// there the pump waits on a JS timer with a backoff, instead of parking a threadpool thread
// in a blocking wait. The pump owns the stream handle and frees it exactly once when it ends.

import { ChunkKind, Status, chunkKindName, failureKindName, isTerminal, statusName } from './abi.js';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Counters shared by every pump of one skill. */
export function newCounters() {
  return {
    events: 0,
    refused: 0,
    started: 0,
    finished: 0,
    failed: 0,
    replied: 0,
    skipped: 0,
    abandoned: 0,
    chunks: 0,
    pulls: 0,
    inFlight: 0,
  };
}

/** Backoff after an empty pull: min, doubling, capped at max. */
export function nextDelay(previous, { minDelayMs, maxDelayMs }) {
  return previous ? Math.min(previous * 2, maxDelayMs) : minDelayMs;
}

const KIND_COUNTER = {
  [ChunkKind.STARTED]: 'started',
  [ChunkKind.FINISHED]: 'finished',
  [ChunkKind.FAILED]: 'failed',
  [ChunkKind.REPLIED]: 'replied',
  [ChunkKind.SKIPPED]: 'skipped',
};

/**
 * Pulls one stream to its end. `lib` is a SkillLibrary (or a test double with nextChunk /
 * streamFree). `abandon()` returning true makes the pump stop early (shutdown timeout).
 * Resolves to the terminal chunk (or null when abandoned).
 */
export async function pumpStream(lib, stream, { counters, logger, label, minDelayMs = 5, maxDelayMs = 160, abandon = () => false }) {
  counters.inFlight++;
  let delay = 0;
  let terminal = null;
  let text = 0;
  try {
    for (;;) {
      if (abandon()) {
        counters.abandoned++;
        break;
      }
      counters.pulls++;
      const { status, chunk } = await lib.nextChunk(stream, 0);
      if (status === Status.OK) {
        delay = 0;
        counters.chunks++;
        const counter = KIND_COUNTER[chunk.kind];
        if (counter) counters[counter]++;
        if (chunk.kind === ChunkKind.DELTA) text += chunk.text.length;
        if (chunk.kind === ChunkKind.STARTED) logger.debug?.(`${label}: card ${chunk.text} created`);
        if (isTerminal(chunk.kind)) {
          terminal = chunk;
          if (chunk.kind === ChunkKind.FAILED) {
            // The .so's own reply line says outcome=failed; the reason is only in this chunk.
            logger.warn(`${label}: reply failed (${failureKindName(chunk.failure)}): ${chunk.text}; ${text} chars had been streamed`);
          } else {
            logger.debug?.(`${label}: ${chunkKindName(chunk.kind)}, ${text} chars streamed`);
          }
          break;
        }
        continue;
      }
      if (status === Status.END) break;
      if (status === Status.TIMEOUT) {
        delay = nextDelay(delay, { minDelayMs, maxDelayMs });
        await sleep(delay);
        continue;
      }
      logger.warn(`${label}: next_chunk returned ${statusName(status)}; no longer following this reply`);
      break;
    }
  } catch (e) {
    logger.warn(`${label}: reading the reply stream failed: ${e.message}`);
  } finally {
    counters.inFlight--;
    try {
      await lib.streamFree(stream);
    } catch (e) {
      logger.warn(`${label}: stream_free failed: ${e.message}`);
    }
  }
  return terminal;
}
