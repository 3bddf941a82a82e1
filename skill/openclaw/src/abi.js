// abi.js: koffi declarations of include/openclaw_skill.h (skill ABI v2) and a thin binding to
// the vtable of libopenclaw_dingtalk.so. No business logic: every call goes straight to the .so.
//
// FFI boundary rules (koffi 3.2.1, the version openclaw 2026.9.6 ships):
// - Ownership: handles (OcSkill*, OcChunkStream*) are BigInt pointers owned by the caller of
//   this module, released with skillFree / streamFree exactly once. OcOwnedStr results are
//   copied on the main thread and released at once with string_free. Borrowed inputs (OcStr)
//   point into Buffers that stay referenced until the call returns. The Stream open body
//   (stream_open_request, stream_open_request_app) holds an app secret: it is copied into a
//   Buffer, never into a JS string, and the caller zeroes that Buffer once it is sent.
// - Threads: the plugin never calls into the host (ABI v2 has no callbacks; logs are pulled
//   with next_log), so no plugin thread ever waits for the event loop. Still, a call that can
//   wait on plugin threads or block (init's journal recovery, handle_event / handle_callback
//   handing the event to the plugin's runtime, next_chunk / next_log, stream_free, info,
//   shutdown's drain, skill_free) runs as a koffi async call on a libuv worker thread, never
//   on the event loop. Only the pure, short calls run synchronously: check_manifest and
//   host_settings (parsing), stream_open_request and stream_open_request_app (a copy),
//   verify_callback (an HMAC, the clock
//   and a short lock that only host calls take), set_log_level (an atomic) and string_free.
// - next_chunk and next_log are only ever called with timeout 0 (see pump.js, log-pump.js): a
//   blocking wait would park a libuv threadpool thread (4 by default, shared with the
//   gateway's fs/dns/crypto work); an empty pull is retried after a JS timer instead.
// - next_log hands out strings valid until the next next_log: one caller per process
//   (log-pump.js keeps one loop per process), and the record is copied before the next pull.
// - Never unloaded: koffi 3 dlcloses a library once its LibraryHandle is garbage-collected, and
//   the vtable functions (decoded from raw pointers) do not keep it alive. A collected handle
//   made the gateway jump into unmapped memory (SIGSEGV, about 1 start in 20). So the handle is
//   kept for the life of the process and the library is pinned with RTLD_NODELETE.
// - Stack: koffi runs every native call on its own mmap'ed stack without a guard page (1 MiB for
//   sync calls, 128 KiB for async calls by default). The debug .so uses about 61 KiB at most.
// - Forward compatibility: a newer plugin may hand out chunk kinds this adapter does not know;
//   they are skipped (not terminal), never an error.

/** ABI version this adapter was written against (`OC_SKILL_ABI_VERSION`). */
export const ABI_VERSION = 2;

/** The entry symbol of this ABI version, and the one of ABI v1 (plugins of the 0.1 series). */
export const ENTRY_SYMBOL = 'openclaw_skill_vtable_v2';
export const V1_ENTRY_SYMBOL = 'openclaw_skill_vtable_v1';

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
  REFUSED: 8,
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

/** True for the kinds after which a stream has nothing more (unknown kinds are not). */
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

/** `sizeof(OcSkillVTable)` of the first ABI v2 plugins on LP64: 2×u32 + 2×OcStr + 15 function
 *  pointers, through `string_free`. The adapter decodes just these. */
export const VTABLE_V2_SIZE = 160;

/** Vtable fields appended after `string_free`, in the header's order (function pointers, 8
 *  bytes each on LP64). A plugin has the ones its `struct_size` covers; older plugins lack the
 *  later ones. */
export const APPENDED_FIELDS = ['post_prompt', 'stream_open_request_app'];

/** The appended fields the adapter does not call: `post_prompt` (cards nobody asked for:
 *  `openclaw-skill send`; schedules run inside the plugin). The others are decoded when the
 *  plugin has them (`SkillLibrary.has`). */
export const APPENDED_UNUSED = ['post_prompt'];

/** The byte offset of an appended vtable field (after the ABI v2 base table). */
export function appendedOffset(name) {
  const i = APPENDED_FIELDS.indexOf(name);
  if (i < 0) throw new Error(`${name} is not an appended vtable field`);
  return VTABLE_V2_SIZE + 8 * i;
}

const TYPES = Symbol.for('openclaw-dingtalk.abi-types.v2');

/**
 * The koffi types of the header. koffi type names are global per koffi instance, so they are
 * declared once and cached on the koffi module (a plugin reload re-imports this file). The
 * names carry the ABI version so that they never clash with an older adapter's.
 */
export function declareTypes(koffi) {
  if (koffi[TYPES]) return koffi[TYPES];
  const OcStr = koffi.struct('OcDt2Str', { ptr: 'const uint8_t *', len: 'size_t' });
  const OcOwnedStr = koffi.struct('OcDt2OwnedStr', { ptr: 'uint8_t *', len: 'size_t' });
  const OcRefusal = koffi.struct('OcDt2Refusal', { http_status: 'uint32_t', kind: OcStr });
  const OcUsage = koffi.struct('OcDt2Usage', {
    known: 'bool',
    prompt_tokens: 'uint64_t',
    completion_tokens: 'uint64_t',
    total_tokens: 'uint64_t',
  });
  const OcChunk = koffi.struct('OcDt2Chunk', {
    kind: 'uint32_t',
    failure: 'uint32_t',
    text: OcStr,
    usage: OcUsage,
  });
  const OcLogRecord = koffi.struct('OcDt2LogRecord', {
    level: 'uint32_t',
    target: OcStr,
    message: OcStr,
    dropped_before: 'uint64_t',
  });
  // In the header's order (the vtable's field order).
  const fns = {
    check_manifest: koffi.proto(
      'uint32_t OcDt2CheckManifest(OcDt2Str yaml, OcDt2Str path, _Out_ OcDt2OwnedStr *summary, _Out_ OcDt2OwnedStr *error)',
    ),
    host_settings: koffi.proto(
      'uint32_t OcDt2HostSettings(OcDt2Str yaml, OcDt2Str path, _Out_ OcDt2OwnedStr *json, _Out_ OcDt2OwnedStr *error)',
    ),
    init: koffi.proto('uint32_t OcDt2Init(OcDt2Str yaml, OcDt2Str path, _Out_ void **skill, _Out_ OcDt2OwnedStr *error)'),
    handle_event: koffi.proto(
      'uint32_t OcDt2HandleEvent(void *skill, OcDt2Str json, _Out_ void **stream, _Out_ OcDt2OwnedStr *error)',
    ),
    stream_open_request: koffi.proto(
      'uint32_t OcDt2StreamOpenRequest(void *skill, _Out_ OcDt2OwnedStr *body, _Out_ OcDt2OwnedStr *error)',
    ),
    verify_callback: koffi.proto(
      'uint32_t OcDt2VerifyCallback(void *skill, OcDt2Str headers, _Out_ OcDt2Refusal *refusal, _Out_ OcDt2OwnedStr *error)',
    ),
    handle_callback: koffi.proto(
      'uint32_t OcDt2HandleCallback(void *skill, OcDt2Str headers, OcDt2Str body, _Out_ void **stream, _Out_ OcDt2Refusal *refusal, _Out_ OcDt2OwnedStr *error)',
    ),
    next_chunk: koffi.proto('uint32_t OcDt2NextChunk(void *stream, uint32_t timeout_ms, _Out_ OcDt2Chunk *chunk)'),
    stream_free: koffi.proto('void OcDt2StreamFree(void *stream)'),
    info: koffi.proto('uint32_t OcDt2Info(void *skill, _Out_ OcDt2OwnedStr *json)'),
    shutdown: koffi.proto('uint32_t OcDt2Shutdown(void *skill, uint32_t deadline_ms)'),
    skill_free: koffi.proto('void OcDt2SkillFree(void *skill)'),
    set_log_level: koffi.proto('uint32_t OcDt2SetLogLevel(uint32_t max_level)'),
    next_log: koffi.proto('uint32_t OcDt2NextLog(uint32_t timeout_ms, _Out_ OcDt2LogRecord *record)'),
    string_free: koffi.proto('void OcDt2StringFree(OcDt2OwnedStr s)'),
  };
  // The appended entries the adapter calls (APPENDED_FIELDS without APPENDED_UNUSED), decoded
  // by offset, and only when the plugin's struct_size covers them.
  const appended = {
    stream_open_request_app: koffi.proto(
      'uint32_t OcDt2StreamOpenRequestApp(void *skill, OcDt2Str app, _Out_ OcDt2OwnedStr *body, _Out_ OcDt2OwnedStr *error)',
    ),
  };
  const vtableFields = {
    struct_size: 'uint32_t',
    abi_version: 'uint32_t',
    plugin_name: OcStr,
    plugin_version: OcStr,
  };
  for (const [name, proto] of Object.entries(fns)) vtableFields[name] = koffi.pointer(proto);
  const OcSkillVTable = koffi.struct('OcDt2SkillVTable', vtableFields);
  const types = { OcStr, OcOwnedStr, OcRefusal, OcUsage, OcChunk, OcLogRecord, OcSkillVTable, fns, appended };
  Object.defineProperty(koffi, TYPES, { value: types });
  return types;
}

/** A borrowed OcStr over a Buffer (the Buffer must outlive the call). */
function borrow(buf) {
  return { ptr: buf.length ? buf : null, len: buf.length };
}

/** A Buffer of a string argument (Buffers are passed through). */
function bytes(value) {
  return Buffer.isBuffer(value) ? value : Buffer.from(String(value), 'utf8');
}

/** Copies `len` bytes at `ptr` into a new Buffer (the memory is not retained). */
function copyBytes(koffi, ptr, len) {
  const n = Number(len);
  if (!ptr || n === 0) return Buffer.alloc(0);
  // Buffer.from(ArrayBuffer) would only view the plugin's memory; a typed array is copied.
  return Buffer.from(new Uint8Array(koffi.view(ptr, n)));
}

/** Copies `len` UTF-8 bytes at `ptr` into a JS string (the memory is not retained). */
function copyUtf8(koffi, ptr, len) {
  return copyBytes(koffi, ptr, len).toString('utf8');
}

/** An error carrying the `OcStatus` and the plugin's reason. */
export class SkillError extends Error {
  constructor(call, status, reason) {
    super(`${call} failed (${statusName(status)})${reason ? `: ${reason}` : ''}`);
    this.name = 'SkillError';
    this.status = status;
    this.reason = reason;
  }
}

/** Limits the number of koffi async calls in flight (koffi's own cap is 256 per thread). Extra
 *  calls wait in a FIFO. */
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

const LIBS = Symbol.for('openclaw-dingtalk.loaded-libraries.v2');

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

/** Whether the library exports `symbol` (looked up, never called). */
function exports(handle, symbol) {
  try {
    handle.func(`void *${symbol}(void)`);
    return true;
  } catch {
    return false;
  }
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
    // Kept forever (see the header comment): this object is cached for the process; a refused
    // library stays mapped too (nothing of it was ever called).
    this.handle = handle;
    this.pinned = pinLibrary(koffi, realPath);
    if (!exports(handle, ENTRY_SYMBOL)) {
      if (exports(handle, V1_ENTRY_SYMBOL)) {
        throw new Error(
          `${realPath} was built against skill ABI v1; this adapter speaks ABI v${ABI_VERSION}: rebuild the plugin from the same release as this adapter (cargo build --release -p openclaw-dingtalk)`,
        );
      }
      throw new Error(`${realPath} has no ${ENTRY_SYMBOL} symbol: it is not an openclaw-dingtalk plugin library`);
    }
    const entry = handle.func(`void *${ENTRY_SYMBOL}(void)`);
    this.entry = entry;
    const vtPtr = entry();
    if (!vtPtr) throw new Error(`${realPath}: ${ENTRY_SYMBOL}() returned null`);
    // Check the two leading u32 before decoding the whole table (fields are only ever appended).
    const structSize = koffi.decode(vtPtr, 'uint32_t');
    const abiVersion = koffi.decode(vtPtr, 4, 'uint32_t');
    if (abiVersion !== ABI_VERSION) {
      throw new Error(`${realPath} implements skill ABI v${abiVersion}; this adapter speaks ABI v${ABI_VERSION}: use the plugin and the adapter of the same release`);
    }
    if (structSize < VTABLE_V2_SIZE) {
      throw new Error(`${realPath}: its vtable is ${structSize} bytes, ABI v${ABI_VERSION} needs at least ${VTABLE_V2_SIZE}`);
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
    this.decodeAppended(vtPtr);
  }

  /** Decodes the appended entries the adapter calls that this plugin's table has (its
   *  struct_size covers the field and the pointer is set); the others stay absent from `fn`. */
  decodeAppended(vtPtr) {
    for (const [name, proto] of Object.entries(this.types.appended)) {
      const offset = appendedOffset(name);
      if (this.structSize < offset + 8) continue;
      const ptr = this.koffi.decode(vtPtr, offset, 'void *');
      if (ptr) this.fn[name] = this.koffi.decode(ptr, proto);
    }
  }

  /** Whether the plugin has the vtable entry `name` (appended entries are optional). */
  has(name) {
    return typeof this.fn[name] === 'function';
  }

  /** Copies and releases an OcOwnedStr filled in by the plugin (main thread, synchronous). */
  take(owned) {
    return this.takeBytes(owned).toString('utf8');
  }

  /** As `take`, into a Buffer (for text that must not become a JS string). */
  takeBytes(owned) {
    if (!owned || !owned.ptr) return Buffer.alloc(0);
    try {
      return copyBytes(this.koffi, owned.ptr, owned.len);
    } finally {
      this.fn.string_free(owned);
    }
  }

  /** A refusal filled in by the plugin ({http_status, kind}) as {httpStatus, kind}. */
  refusal(raw) {
    return { httpStatus: raw?.http_status ?? 0, kind: raw?.kind ? copyUtf8(this.koffi, raw.kind.ptr, raw.kind.len) : '' };
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

  /** The two manifest calls: synchronous (pure parsing inside the .so, no plugin threads). */
  manifestCall(name, yamlText, manifestPath) {
    const yaml = bytes(yamlText);
    const where = bytes(manifestPath);
    const out = {};
    const error = {};
    const status = this.fn[name](borrow(yaml), borrow(where), out, error);
    const outText = this.take(out);
    const errorText = this.take(error);
    if (status !== Status.OK) throw new SkillError(name, status, errorText);
    return JSON.parse(outText);
  }

  /** check_manifest: the manifest's summary (secrets redacted). Throws a SkillError (CONFIG:
   *  one problem per line, each naming the file, key and line). */
  checkManifest(yamlText, manifestPath) {
    return this.manifestCall('check_manifest', yamlText, manifestPath);
  }

  /** host_settings: {ingress: {mode, http: {listen, path, max_body_bytes, read_timeout_ms,
   *  max_connections}, stream: {open_url, silence_timeout_ms}, metrics_listen}, app_key,
   *  apps: [{name, app_key, robot_code, open_url}], state_dir}, resolved and validated, without
   *  secrets (`apps` is missing from older plugins, which serve one app). */
  hostSettings(yamlText, manifestPath) {
    return this.manifestCall('host_settings', yamlText, manifestPath);
  }

  /** init on a worker thread; resolves to the skill handle (BigInt). */
  async init(yamlText, manifestPath) {
    const yaml = bytes(yamlText);
    const where = bytes(manifestPath);
    const out = [null];
    const error = {};
    const status = await this.callAsync('init', borrow(yaml), borrow(where), out, error);
    const errorText = this.take(error);
    if (status !== Status.OK) throw new SkillError('init', status, errorText);
    if (!out[0]) throw new SkillError('init', Status.INTERNAL, 'returned OK without a skill handle');
    return out[0];
  }

  /** handle_event on a worker thread; resolves to {status, stream, error}. Never throws for a
   *  refused event (INVALID_ARGUMENT, SHUTTING_DOWN): the caller decides what to log. */
  async handleEvent(skill, eventJson) {
    const json = bytes(eventJson);
    const out = [null];
    const error = {};
    const status = await this.callAsync('handle_event', skill, borrow(json), out, error);
    const errorText = this.take(error);
    return { status, stream: status === Status.OK ? out[0] : null, error: errorText };
  }

  /** stream_open_request: the body of the Stream `POST open_url` (of the first app), as a
   *  Buffer. It holds the app secret: send it, then zero it (`buf.fill(0)`); never log it.
   *  Throws a SkillError. */
  streamOpenRequest(skill) {
    return this.openBody('stream_open_request', (body, error) => this.fn.stream_open_request(skill, body, error));
  }

  /** stream_open_request_app: the body of the Stream `POST open_url` of the app named `app`
   *  (one of host_settings' `apps[].name`), as a Buffer holding that app's secret (handled as
   *  streamOpenRequest's). A plugin whose vtable lacks the entry serves one app: its
   *  stream_open_request is used. Throws a SkillError (INVALID_ARGUMENT, naming the apps, for
   *  an unknown name). */
  streamOpenRequestApp(skill, app) {
    if (!this.has('stream_open_request_app')) return this.streamOpenRequest(skill);
    const name = bytes(app);
    return this.openBody('stream_open_request_app', (body, error) => this.fn.stream_open_request_app(skill, borrow(name), body, error));
  }

  /** Runs one of the open-body calls (`invoke(body, error)` returns its status) and takes the
   *  body as a Buffer; zeroes it and throws a SkillError when the call failed. */
  openBody(call, invoke) {
    const body = {};
    const error = {};
    const status = invoke(body, error);
    const bodyBytes = this.takeBytes(body);
    const errorText = this.take(error);
    if (status !== Status.OK) {
      bodyBytes.fill(0);
      throw new SkillError(call, status, errorText);
    }
    return bodyBytes;
  }

  /** verify_callback (synchronous: an HMAC, the clock, a short lock only host calls take):
   *  {status, refusal: {httpStatus, kind} | null, error}. `headersJson` is a JSON object text. */
  verifyCallback(skill, headersJson) {
    const headers = bytes(headersJson);
    const refusal = {};
    const error = {};
    const status = this.fn.verify_callback(skill, borrow(headers), refusal, error);
    const errorText = this.take(error);
    return { status, refusal: status === Status.REFUSED ? this.refusal(refusal) : null, error: errorText };
  }

  /** handle_callback on a worker thread: {status, stream, refusal, error}, as handleEvent plus
   *  a refusal ({httpStatus, kind}) for REFUSED. */
  async handleCallback(skill, headersJson, body) {
    const headers = bytes(headersJson);
    const event = bytes(body);
    const out = [null];
    const refusal = {};
    const error = {};
    const status = await this.callAsync('handle_callback', skill, borrow(headers), borrow(event), out, refusal, error);
    const errorText = this.take(error);
    return {
      status,
      stream: status === Status.OK ? out[0] : null,
      refusal: status === Status.REFUSED ? this.refusal(refusal) : null,
      error: errorText,
    };
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

  /** set_log_level (process-wide; synchronous, an atomic store). `level` is an OcLogLevel. */
  setLogLevel(level) {
    const status = this.fn.set_log_level(level >>> 0);
    if (status !== Status.OK) throw new SkillError('set_log_level', status, '');
  }

  /** next_log on a worker thread: {status, record: {level, target, message, droppedBefore} |
   *  null}. One caller per process at a time (log-pump.js); the strings are copied here. */
  async nextLog(timeoutMs = 0) {
    const record = {};
    const status = await this.callAsync('next_log', timeoutMs >>> 0, record);
    if (status !== Status.OK) return { status, record: null };
    return {
      status,
      record: {
        level: record.level,
        target: copyUtf8(this.koffi, record.target.ptr, record.target.len),
        message: copyUtf8(this.koffi, record.message.ptr, record.message.len),
        droppedBefore: Number(record.dropped_before),
      },
    };
  }
}
