// log-sink.js: the OcLogSink handed to init, wired to the gateway's plugin logger.
//
// FFI boundary rules:
// - Ownership: the callback is a koffi *registered* callback. The .so copies the sink and may
//   call it from any of its threads until the process exits (the library is never unloaded),
//   so the callback is registered once per process and never unregistered; a plugin reload
//   only swaps the logger it forwards to. `user` is null (the JS closure is the context).
// - Threads: koffi 3.2.1 relays a call from a plugin thread to the event loop through a
//   threadsafe function and blocks that plugin thread until the loop has run the callback
//   (call.cc RelayAsync). That is safe as long as the event loop never waits on a plugin
//   thread, which is why abi.js makes every such call asynchronous. It also means each record
//   costs a loop turn and stalls a plugin thread meanwhile: keep max_level at info or lower in
//   production (debug/trace log every HTTP request of the .so).
// - The strings are valid only during the call: they are copied here.
// - The callback never throws into native code (koffi would return 0/NULL, but a pending
//   exception would surface in an unrelated place).

import { LogLevel } from './abi.js';

const SINK = Symbol.for('openclaw-dingtalk.log-sink.v1');

/** Maps a plugin config level name to the OcLogLevel number (unknown names: info). */
export function levelNumber(name) {
  return LogLevel[String(name ?? 'info').toLowerCase()] ?? LogLevel.info;
}

/** Formats one record the way it appears in the gateway log. */
export function formatRecord(target, message) {
  const short = target.replace(/^openclaw_dingtalk(::|$)/, '') || 'skill';
  return `[${short}] ${message}`;
}

/** Routes one record to a PluginLogger (error/warn/info/debug). */
export function forward(logger, level, target, message) {
  const line = formatRecord(target, message);
  if (level <= LogLevel.error) logger.error(line);
  else if (level === LogLevel.warn) logger.warn(line);
  else if (level === LogLevel.info) logger.info(line);
  else (logger.debug ?? logger.info).call(logger, line);
}

/**
 * The process-wide sink for one koffi instance: returns {setLogger, sink(maxLevel), stats}.
 * `sink(maxLevel)` is the OcLogSink object to pass to init.
 */
export function processLogSink(koffi, types) {
  let state = globalThis[SINK];
  if (!state) {
    state = { logger: null, records: 0, dropped: 0, pointer: null };
    const decode = (s) => {
      const n = Number(s.len);
      return s.ptr && n ? Buffer.from(koffi.view(s.ptr, n)).toString('utf8') : '';
    };
    const callback = (_user, level, target, message) => {
      try {
        state.records++;
        const logger = state.logger;
        if (!logger) {
          state.dropped++;
          return;
        }
        forward(logger, level, decode(target), decode(message));
      } catch {
        state.dropped++;
      }
    };
    state.pointer = koffi.register(callback, koffi.pointer(types.LogFn));
    globalThis[SINK] = state;
  }
  return {
    setLogger(logger) {
      state.logger = logger;
    },
    sink(maxLevel) {
      return { user: null, max_level: maxLevel >>> 0, log: maxLevel > 0 ? state.pointer : null };
    },
    stats() {
      return { records: state.records, dropped: state.dropped };
    },
  };
}
