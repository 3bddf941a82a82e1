// log-pump.js: moves the plugin's log records into the gateway's plugin logger.
//
// ABI v2 logs are pulled: the plugin queues its records (bounded; when the host falls behind,
// the oldest are dropped and counted) and the host takes them with next_log. No plugin thread
// ever waits for the host, so a burst of records never holds up a reply.
//
// FFI boundary rules:
// - One puller per process: next_log's strings stay valid until the next call, and the queue
//   is process-wide. The loop state lives on globalThis, so a plugin reload (a new SkillHost in
//   the same process) reuses the same loop and only swaps the logger it forwards to.
// - Threads: each next_log is a koffi async call on a libuv worker thread with timeout 0 (just
//   look). While records come, the loop pulls the next one at once; when the queue is empty it
//   waits on a JS timer (backoff 10 → 250 ms) instead of parking a threadpool thread in a
//   blocking wait (as pump.js does for chunks).
// - The record's strings are copied by abi.js before the next pull.

import { LogLevel, Status, statusName } from './abi.js';

const STATE = Symbol.for('openclaw-dingtalk.log-pump.v2');

/** Maps a plugin config level name to the OcLogLevel number (unknown names: info). */
export function levelNumber(name) {
  return LogLevel[String(name ?? 'info').toLowerCase()] ?? LogLevel.info;
}

/** Formats one record the way it appears in the gateway log. */
export function formatRecord(target, message) {
  const short = target.replace(/^openclaw_dingtalk(::|$)/, '') || 'skill';
  return `[${short}] ${message}`;
}

/** Routes one record to a PluginLogger (error/warn/info/debug); an unknown level is info. */
export function forward(logger, level, target, message) {
  const line = formatRecord(target, message);
  if (level === LogLevel.error) logger.error(line);
  else if (level === LogLevel.warn) logger.warn(line);
  else if (level === LogLevel.debug || level === LogLevel.trace) (logger.debug ?? logger.info).call(logger, line);
  else logger.info(line);
}

/**
 * The process-wide log pump for one library: {start(logger), stop(), drain(), stats()}.
 * `lib` is a SkillLibrary (or a test double with nextLog).
 */
export function processLogPump(lib, { minDelayMs = 10, maxDelayMs = 250 } = {}) {
  let state = globalThis[STATE];
  if (!state) {
    state = { logger: null, lib: null, loop: null, running: false, tail: Promise.resolve(), wake: null, records: 0, dropped: 0, pulls: 0 };
    globalThis[STATE] = state;
  }
  state.lib = lib;

  /** Forwards one record; never throws. */
  const emit = (record) => {
    state.records++;
    const logger = state.logger;
    if (!logger) return;
    try {
      if (record.droppedBefore > 0) {
        state.dropped += record.droppedBefore;
        logger.warn(`${record.droppedBefore} skill log record(s) were dropped: the log queue of the skill library was full (the gateway did not take them fast enough)`);
      }
      forward(logger, record.level, record.target, record.message);
    } catch {
      /* a logger that throws loses this line, not the loop */
    }
  };

  /** One next_log(0); every pull of the process goes through this chain, so there is never
   *  more than one caller. */
  const pull = () => {
    const p = state.tail.then(() => {
      state.pulls++;
      return state.lib.nextLog(0);
    });
    state.tail = p.catch(() => {});
    return p;
  };

  /** A timer wait that stop() can cut short. */
  const sleep = (ms) =>
    new Promise((resolve) => {
      const timer = setTimeout(() => {
        state.wake = null;
        resolve();
      }, ms);
      timer.unref?.();
      state.wake = () => {
        clearTimeout(timer);
        state.wake = null;
        resolve();
      };
    });

  /** Pulls until the queue is empty; resolves to the number of records forwarded. */
  const drain = async () => {
    let n = 0;
    for (;;) {
      const { status, record } = await pull();
      if (status !== Status.OK) {
        if (status !== Status.TIMEOUT) throw new Error(`next_log returned ${statusName(status)}`);
        return n;
      }
      emit(record);
      n++;
    }
  };

  const run = async () => {
    let delay = 0;
    while (state.running) {
      try {
        delay = (await drain()) > 0 ? minDelayMs : Math.min(delay ? delay * 2 : minDelayMs, maxDelayMs);
      } catch (e) {
        state.logger?.error(`stopped forwarding the skill's log: ${e.message}`);
        state.running = false;
        return;
      }
      if (state.running) await sleep(delay);
    }
  };

  return {
    /** Starts the loop (once per process) and forwards to `logger` from now on. */
    start(logger) {
      state.logger = logger;
      if (state.running) return;
      state.running = true;
      const previous = state.loop ?? Promise.resolve();
      // A loop being stopped finishes its pull first: one next_log caller at a time.
      state.loop = previous.then(run);
    },
    /** Stops the loop after a last drain (the records of the shutdown itself); the logger
     *  stays, for a later start. */
    async stop() {
      if (!state.running) return state.loop;
      state.running = false;
      state.wake?.();
      await state.loop;
      try {
        await drain();
      } catch {
        /* best effort */
      }
      return undefined;
    },
    stats() {
      return { records: state.records, dropped: state.dropped, pulls: state.pulls, running: state.running };
    },
  };
}
