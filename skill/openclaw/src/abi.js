// abi.js: koffi declarations of include/openclaw_skill.h (ABI v1) and a thin binding to the
// vtable of libopenclaw_dingtalk.so. No business logic: every call goes straight to the .so.
//
// FFI boundary rules (koffi 3.2.1, the version openclaw 2026.9.6 ships):
// - Ownership: handles (OcSkill*, OcChunkStream*) are BigInt pointers owned by the caller of
//   this module, released with skillFree / streamFree exactly once. OcOwnedStr results are
//   copied into JS strings on the main thread and released at once with string_free.
//   Borrowed inputs (OcStr) point into Buffers that stay referenced until the call returns.
// - Threads: every call that can touch state shared with plugin threads (init, handle_event,
//   next_chunk, stream_free, info, shutdown, skill_free) runs as a koffi async call on a libuv
//   worker thread, never on the event loop. Reason: the .so logs from its own threads through a
//   koffi registered callback, which koffi relays to the event loop and *blocks the plugin
//   thread until the loop has run it*; a synchronous call that waits on a plugin thread (init's
//   journal recovery, shutdown's drain, any lock a logging thread holds) would deadlock the
//   gateway. Only check_manifest (pure parsing, no plugin threads) and string_free (a dealloc)
//   run synchronously.
// - next_chunk is only ever called with timeout 0 (see pump.js): a blocking wait would park a
//   libuv threadpool thread (4 by default, shared with the gateway's fs/dns/crypto work).
// - Never unloaded: koffi 3 dlcloses a library once its LibraryHandle is garbage-collected, and
//   the vtable functions (decoded from raw pointers) do not keep it alive. A collected handle
//   made the gateway jump into unmapped memory (SIGSEGV, about 1 start in 20). So the handle is
//   kept for the life of the process and the library is pinned with RTLD_NODELETE.
// - Stack: koffi runs every native call on its own mmap'ed stack without a guard page (1 MiB for
//   sync calls, 128 KiB for async calls by default). The debug .so uses about 61 KiB at most.

/** ABI version this adapter was written against (`OC_SKILL_ABI_VERSION`). */
export const ABI_VERSION = 1;

/** `OcStatus` values. */
export const Status = Object.freeze({
  OK: 0,
  TIMEOUT: 1,
  END: 2,
  INVALID_ARGUMENT: 3,
  CONFIG: 4,
  SHUTTING_DOWN: 5,
  PANICKED: 6,
  INTERNAL: 7,
});

/** `OcChunkKind` values. */
export const ChunkKind = Object.freeze({
  STARTED: 1,
  DELTA: 2,
  REASONING: 3,
  FINISHED: 4,
  FAILED: 5,
  REPLIED: 6,
  SKIPPED: 7,
});

/** `OcFailureKind` values. */
export const FailureKind = Object.freeze({
  NONE: 0,
  GATEWAY: 1,
  GATEWAY_UNREACHABLE: 2,
  TIMEOUT: 3,
  STOPPED: 4,
  DING_TALK: 5,
  SHUTTING_DOWN: 6,
  INTERNAL: 7,
});

/** `OcLogLevel` values by name (as accepted in the plugin config). */
export const LogLevel = Object.freeze({ off: 0, error: 1, warn: 2, info: 3, debug: 4, trace: 5 });

const TERMINAL = new Set([ChunkKind.FINISHED, ChunkKind.FAILED, ChunkKind.REPLIED, ChunkKind.SKIPPED]);

/** True for the kinds after which a stream has nothing more. */
export function isTerminal(kind) {
  return TERMINAL.has(kind);
}

/** Name of an `OcStatus` value, for messages. */
export function statusName(status) {
  return Object.keys(Status).find((k) => Status[k] === status) ?? `status ${status}`;
}

/** Name of an `OcChunkKind` value. */
export function chunkKindName(kind) {
  return Object.keys(ChunkKind).find((k) => ChunkKind[k] === kind) ?? `kind ${kind}`;
}

/** Name of an `OcFailureKind` value. */
export function failureKindName(kind) {
  return Object.keys(FailureKind).find((k) => FailureKind[k] === kind) ?? `failure ${kind}`;
}

/** `sizeof(OcSkillVTable)` for ABI v1 on LP64: 2×u32 + 2×OcStr + 9 function pointers. */
export const VTABLE_V1_SIZE = 112;

const TYPES = Symbol.for('openclaw-dingtalk.abi-types.v1');

/**
 * The koffi types of the header. koffi type names are global per koffi instance, so they are
 * declared once and cached on the koffi module (a plugin reload re-imports this file).
 */
export function declareTypes(koffi) {
  if (koffi[TYPES]) return koffi[TYPES];
  const OcStr = koffi.struct('OcDtStr', { ptr: 'const uint8_t *', len: 'size_t' });
  const OcOwnedStr = koffi.struct('OcDtOwnedStr', { ptr: 'uint8_t *', len: 'size_t' });
  const LogFn = koffi.proto('void OcDtLogFn(void *user, uint32_t level, OcDtStr target, OcDtStr message)');
  const OcLogSink = koffi.struct('OcDtLogSink', {
    user: 'void *',
    max_level: 'uint32_t',
    log: koffi.pointer(LogFn),
  });
  const OcUsage = koffi.struct('OcDtUsage', {
    known: 'bool',
    prompt_tokens: 'uint64_t',
    completion_tokens: 'uint64_t',
    total_tokens: 'uint64_t',
  });
  const OcChunk = koffi.struct('OcDtChunk', {
    kind: 'uint32_t',
    failure: 'uint32_t',
    text: OcStr,
    usage: OcUsage,
  });
  const fns = {
    check_manifest: koffi.proto(
      'uint32_t OcDtCheckManifest(OcDtStr yaml, OcDtStr dir, _Out_ OcDtOwnedStr *summary, _Out_ OcDtOwnedStr *error)',
    ),
    init: koffi.proto(
      'uint32_t OcDtInit(OcDtStr yaml, OcDtStr dir, const OcDtLogSink *sink, _Out_ void **skill, _Out_ OcDtOwnedStr *error)',
    ),
    handle_event: koffi.proto(
      'uint32_t OcDtHandleEvent(void *skill, OcDtStr json, _Out_ void **stream, _Out_ OcDtOwnedStr *error)',
    ),
    next_chunk: koffi.proto('uint32_t OcDtNextChunk(void *stream, uint32_t timeout_ms, _Out_ OcDtChunk *chunk)'),
    stream_free: koffi.proto('void OcDtStreamFree(void *stream)'),
    info: koffi.proto('uint32_t OcDtInfo(void *skill, _Out_ OcDtOwnedStr *json)'),
    shutdown: koffi.proto('uint32_t OcDtShutdown(void *skill, uint32_t deadline_ms)'),
    skill_free: koffi.proto('void OcDtSkillFree(void *skill)'),
    string_free: koffi.proto('void OcDtStringFree(OcDtOwnedStr s)'),
  };
  const vtableFields = {
    struct_size: 'uint32_t',
    abi_version: 'uint32_t',
    plugin_name: OcStr,
    plugin_version: OcStr,
  };
  for (const [name, proto] of Object.entries(fns)) vtableFields[name] = koffi.pointer(proto);
  const OcSkillVTable = koffi.struct('OcDtSkillVTable', vtableFields);
  const types = { OcStr, OcOwnedStr, LogFn, OcLogSink, OcUsage, OcChunk, OcSkillVTable, fns };
  Object.defineProperty(koffi, TYPES, { value: types });
  return types;
}

/** A borrowed OcStr over a Buffer (the Buffer must outlive the call). */
function borrow(buf) {
  return { ptr: buf.length ? buf : null, len: buf.length };
}

/** Copies `len` UTF-8 bytes at `ptr` into a JS string (the memory is not retained). */
function copyUtf8(koffi, ptr, len) {
  const n = Number(len);
  if (!ptr || n === 0) return '';
  return Buffer.from(koffi.view(ptr, n)).toString('utf8');
}

/** An error carrying the `OcStatus` and the plugin's one-line reason. */
export class SkillError extends Error {
  constructor(call, status, reason) {
    super(`${call} failed (${statusName(status)})${reason ? `: ${reason}` : ''}`);
    this.name = 'SkillError';
    this.status = status;
    this.reason = reason;
  }
}

/** Limits the number of koffi async calls in flight (koffi's own cap is 256 per thread, and the
 *  plugin's log relays count against it too). Extra calls wait in a FIFO. */
class AsyncGate {
  constructor(max) {
    this.max = max;
    this.active = 0;
    this.waiting = [];
  }

  async run(fn) {
    if (this.active >= this.max) await new Promise((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

const LIBS = Symbol.for('openclaw-dingtalk.loaded-libraries');

const RTLD_NOW = 0x2;
const RTLD_NOLOAD = 0x4;
const RTLD_NODELETE = 0x1000; // glibc values (Linux)

/** Marks an already loaded library RTLD_NODELETE, so no dlclose can unmap it. Returns true when
 *  pinned; best effort (false on a libc without dlopen in libc.so.6/libdl.so.2). */
export function pinLibrary(koffi, realPath) {
  for (const libc of ['libc.so.6', 'libdl.so.2']) {
    try {
      const dlopen = koffi.load(libc).func('void *dlopen(const char *path, int flags)');
      // The handle this returns holds one more reference; it is deliberately never closed.
      if (dlopen(realPath, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE)) return true;
    } catch {
      /* try the next name */
    }
  }
  return false;
}

/**
 * The vtable of one loaded libopenclaw_dingtalk.so. The library is never unloaded (the header
 * requires it), so bindings are cached per real path for the life of the process.
 */
export class SkillLibrary {
  /** Loads (or reuses) the library at `realPath` with the given koffi module. */
  static open(koffi, realPath, { maxAsyncCalls = 128 } = {}) {
    const cache = (globalThis[LIBS] ??= new Map());
    let lib = cache.get(realPath);
    if (!lib) {
      lib = new SkillLibrary(koffi, realPath, maxAsyncCalls);
      cache.set(realPath, lib);
    }
    return lib;
  }

  constructor(koffi, realPath, maxAsyncCalls) {
    this.koffi = koffi;
    this.path = realPath;
    this.types = declareTypes(koffi);
    this.gate = new AsyncGate(maxAsyncCalls);
    const handle = koffi.load(realPath);
    // Kept forever (see the header comment): this object is cached for the process.
    this.handle = handle;
    this.pinned = pinLibrary(koffi, realPath);
    let entry;
    try {
      entry = handle.func('void *openclaw_skill_vtable_v1(void)');
    } catch (e) {
      throw new Error(`${realPath} has no openclaw_skill_vtable_v1 symbol (not an openclaw-dingtalk plugin library?): ${e.message}`);
    }
    this.entry = entry;
    const vtPtr = entry();
    if (!vtPtr) throw new Error(`${realPath}: openclaw_skill_vtable_v1() returned null`);
    // Check the two leading u32 before decoding the whole table (fields are only ever appended).
    const structSize = koffi.decode(vtPtr, 'uint32_t');
    const abiVersion = koffi.decode(vtPtr, 4, 'uint32_t');
    if (abiVersion !== ABI_VERSION) {
      throw new Error(`${realPath} implements skill ABI ${abiVersion}, this adapter needs ABI ${ABI_VERSION}`);
    }
    if (structSize < VTABLE_V1_SIZE) {
      throw new Error(`${realPath}: vtable is ${structSize} bytes, ABI ${ABI_VERSION} needs at least ${VTABLE_V1_SIZE}`);
    }
    const vt = koffi.decode(vtPtr, this.types.OcSkillVTable);
    this.structSize = structSize;
    this.abiVersion = abiVersion;
    this.pluginName = copyUtf8(koffi, vt.plugin_name.ptr, vt.plugin_name.len);
    this.pluginVersion = copyUtf8(koffi, vt.plugin_version.ptr, vt.plugin_version.len);
    this.fn = {};
    for (const [name, proto] of Object.entries(this.types.fns)) {
      if (!vt[name]) throw new Error(`${realPath}: vtable entry ${name} is null`);
      this.fn[name] = koffi.decode(vt[name], proto);
    }
  }

  /** Copies and releases an OcOwnedStr filled in by the plugin (main thread, synchronous). */
  take(owned) {
    if (!owned || !owned.ptr) return '';
    try {
      return copyUtf8(this.koffi, owned.ptr, owned.len);
    } finally {
      this.fn.string_free(owned);
    }
  }

  /** Runs `fn.name` as a koffi async call (libuv worker thread). */
  callAsync(name, ...args) {
    return this.gate.run(
      () =>
        new Promise((resolve, reject) => {
          // `args` (and the Buffers they reference) stay reachable from this closure until
          // koffi calls back, so borrowed memory outlives the native call.
          this.fn[name].async(...args, (err, result) => {
            void args;
            if (err) reject(err);
            else resolve(result);
          });
        }),
    );
  }

  /** check_manifest: synchronous (pure parsing inside the .so, no plugin threads). */
  checkManifest(yamlText, manifestDir) {
    const yaml = Buffer.from(yamlText, 'utf8');
    const dir = Buffer.from(manifestDir, 'utf8');
    const summary = {};
    const error = {};
    const status = this.fn.check_manifest(borrow(yaml), borrow(dir), summary, error);
    const summaryText = this.take(summary);
    const errorText = this.take(error);
    if (status !== Status.OK) throw new SkillError('check_manifest', status, errorText);
    return JSON.parse(summaryText);
  }

  /** init on a worker thread; resolves to the skill handle (BigInt). `sink` is an OcLogSink
   *  object ({user, max_level, log}) or null. */
  async init(yamlText, manifestDir, sink) {
    const yaml = Buffer.from(yamlText, 'utf8');
    const dir = Buffer.from(manifestDir, 'utf8');
    const out = [null];
    const error = {};
    const status = await this.callAsync('init', borrow(yaml), borrow(dir), sink, out, error);
    const errorText = this.take(error);
    if (status !== Status.OK) throw new SkillError('init', status, errorText);
    if (!out[0]) throw new SkillError('init', Status.INTERNAL, 'returned OK without a skill handle');
    return out[0];
  }

  /** handle_event on a worker thread; resolves to {status, stream, error}. Never throws for a
   *  refused event (INVALID_ARGUMENT, SHUTTING_DOWN): the caller decides what to log. */
  async handleEvent(skill, eventJson) {
    const json = Buffer.isBuffer(eventJson) ? eventJson : Buffer.from(eventJson, 'utf8');
    const out = [null];
    const error = {};
    const status = await this.callAsync('handle_event', skill, borrow(json), out, error);
    const errorText = this.take(error);
    return { status, stream: status === Status.OK ? out[0] : null, error: errorText };
  }

  /** next_chunk on a worker thread. The chunk's text is copied before this resolves (it is
   *  only valid until the next call on the stream). */
  async nextChunk(stream, timeoutMs = 0) {
    const chunk = {};
    const status = await this.callAsync('next_chunk', stream, timeoutMs >>> 0, chunk);
    if (status !== Status.OK) return { status, chunk: null };
    const usage = chunk.usage.known
      ? {
          prompt: Number(chunk.usage.prompt_tokens),
          completion: Number(chunk.usage.completion_tokens),
          total: Number(chunk.usage.total_tokens),
        }
      : null;
    return {
      status,
      chunk: {
        kind: chunk.kind,
        failure: chunk.failure,
        text: copyUtf8(this.koffi, chunk.text.ptr, chunk.text.len),
        usage,
      },
    };
  }

  /** stream_free on a worker thread (the reply itself carries on inside the .so). */
  streamFree(stream) {
    return this.callAsync('stream_free', stream);
  }

  /** info as parsed JSON; `skill` may be null for the static part. */
  async info(skill) {
    const out = {};
    const status = await this.callAsync('info', skill, out);
    const text = this.take(out);
    if (status !== Status.OK) throw new SkillError('info', status, '');
    return JSON.parse(text);
  }

  /** shutdown on a worker thread: resolves when the .so has finalized (or interrupted) every
   *  reply, within about `deadlineMs`. */
  async shutdown(skill, deadlineMs) {
    const status = await this.callAsync('shutdown', skill, deadlineMs >>> 0);
    if (status !== Status.OK) throw new SkillError('shutdown', status, '');
  }

  /** skill_free on a worker thread. Call once, after shutdown, with no other call in flight. */
  skillFree(skill) {
    return this.callAsync('skill_free', skill);
  }
}
