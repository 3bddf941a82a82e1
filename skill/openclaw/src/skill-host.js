// skill-host.js: the adapter's lifecycle around one libopenclaw_dingtalk.so skill:
// prepare (load + check_manifest + host_settings, synchronous, at register time) → start (the
// log pump, init on a worker thread, then Stream mode if configured) → deliver events and
// callbacks → stop (shutdown on a worker thread, finish reading the streams, skill_free, the
// last log records).
//
// The manifest belongs to the .so: the adapter reads the file's text and hands it over with
// its path; whatever the adapter needs from it (ingress mode and limits, the apps with their
// keys and Stream open URLs) comes from host_settings. In Stream mode each app gets its own
// connection (stream-ingress.js, startStreamApps).
//
// Ownership: the host owns the skill handle from init until skill_free, and every stream
// handle through its pump (pump.js). skill_free runs only after shutdown, once no FFI call
// on the skill is in flight and every pump has released its stream.

import fs from 'node:fs';
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

import { SkillLibrary, Status, statusName } from './abi.js';
import { levelNumber, processLogPump } from './log-pump.js';
import { createNetwork } from './network.js';
import { newCounters, pumpStream } from './pump.js';
import { describeStreamApps, startStreamApps, streamApps } from './stream-ingress.js';

export const DEFAULT_LIBRARY = 'libopenclaw_dingtalk.so';
/** The platform directory of the prebuilt library the npm package carries (linux-x64). */
export const PLATFORM = `${process.platform}-${process.arch}`;
/** The prebuilt library inside this package: native/<platform>-<arch>/libopenclaw_dingtalk.so. */
export const PACKAGED_LIBRARY = fileURLToPath(new URL(`../native/${PLATFORM}/${DEFAULT_LIBRARY}`, import.meta.url));

/**
 * Where the library is looked for, in this order: the plugin config's `library`; the file next
 * to the manifest; the copy this npm package carries for this platform. With `library` set,
 * only that file counts (an explicit choice is never silently replaced). Pure (for tests).
 */
export function libraryCandidates({ configured, manifestDir, packaged = PACKAGED_LIBRARY }) {
  if (configured) return [{ path: configured, why: 'plugins.entries.<id>.config.library' }];
  return [
    { path: path.join(manifestDir, DEFAULT_LIBRARY), why: 'next to the manifest' },
    { path: packaged, why: `packaged with the plugin (native/${PLATFORM})` },
  ];
}
const PUMP_GRACE_MS = 3000;
export const ANSWERS_IN_GATEWAY_LOG_NOTE =
  'note: the gateway writes every answer of /v1/chat/completions to its stdout and, at logging.level info, to its log file (docs/operations.md, "Keeping answers out of the gateway\'s log")';
const LOOP_RESOLUTION_MS = 5;

const ms = (t0) => Math.round((performance.now() - t0) * 10) / 10;

/** The real path of `p`, or null when it does not exist. */
function realpath(p) {
  try {
    return fs.realpathSync(p);
  } catch {
    return null;
  }
}

export class SkillHost {
  /**
   * @param cfg normalized plugin config (config.js)
   * @param logger the gateway's PluginLogger
   * @param deps {loadKoffi, readFile, openLibrary, loadStreamSdk, startStreamIngress}
   */
  constructor(cfg, logger, deps) {
    this.cfg = cfg;
    this.logger = logger;
    this.deps = deps;
    this.counters = newCounters();
    this.pumps = new Set();
    this.skill = null;
    this.accepting = false;
    this.ffiInFlight = 0;
    this.seq = 0;
    this.stream = null;
    this.loop = null;
    this.timings = {};
  }

  /** Synchronous part, run inside register(): reads the manifest, loads the .so, has it
   *  validate the manifest and resolve the host settings. Throws an Error meant for the
   *  operator. */
  prepare() {
    const t0 = performance.now();
    const manifestPath = this.cfg.manifestPath;
    let text;
    try {
      text = (this.deps.readFile ?? fs.readFileSync)(manifestPath, 'utf8');
    } catch (e) {
      throw new Error(`cannot read the skill manifest ${manifestPath} (${e.code ?? e.message}); set plugins.entries.<id>.config.manifest to the path of openclaw-skill.yaml`);
    }
    const manifestDir = path.dirname(manifestPath);
    // The library is found before anything can be asked of it: the plugin config's `library`,
    // else the default file next to the manifest, else the packaged copy (the manifest's own
    // `library` key is checked against it below).
    const candidates = libraryCandidates({ configured: this.cfg.libraryPath, manifestDir, packaged: this.deps.packagedLibrary ?? PACKAGED_LIBRARY });
    let realLib = null;
    let libWhy = null;
    for (const c of candidates) {
      realLib = realpath(c.path);
      if (realLib) {
        libWhy = c.why;
        break;
      }
    }
    if (!realLib) {
      if (this.cfg.libraryPath) {
        throw new Error(`the skill library ${this.cfg.libraryPath} is missing (ENOENT): fix plugins.entries.<id>.config.library, or drop it to use the library next to the manifest or the one packaged with the plugin`);
      }
      throw new Error(
        `the skill library ${candidates[0].path} is missing (ENOENT): build it with \`cargo build -p openclaw-dingtalk\` and put (or symlink) target/<profile>/libopenclaw_dingtalk.so next to ${path.basename(manifestPath)}, or set plugins.entries.<id>.config.library (this plugin package carries no prebuilt library for ${PLATFORM}: ${candidates[1].path})`,
      );
    }
    const { koffi, from } = this.deps.loadKoffi();
    const t1 = performance.now();
    this.lib = (this.deps.openLibrary ?? SkillLibrary.open)(koffi, realLib);
    this.timings.loadMs = ms(t1);
    if (!this.lib.pinned) {
      this.logger.warn(`could not mark ${realLib} RTLD_NODELETE; it stays loaded through its koffi handle, which this plugin keeps for the life of the process`);
    }
    this.logs = processLogPump(this.lib);
    this.lib.setLogLevel(levelNumber(this.cfg.logLevel));
    // The .so is the authority on the manifest: it validates it and resolves what the adapter
    // needs to run the ingress.
    const summary = this.lib.checkManifest(text, manifestPath);
    const settings = this.lib.hostSettings(text, manifestPath);
    // summary.library is the manifest's `library` key resolved (the default file next to the
    // manifest when the key is absent). The packaged copy stands in for that default only.
    const namesDefault = summary.library && path.resolve(summary.library) === path.join(manifestDir, DEFAULT_LIBRARY);
    const packagedStandIn = namesDefault && !realpath(summary.library);
    if (!this.cfg.libraryPath && summary.library && !packagedStandIn && realpath(summary.library) !== realLib) {
      throw new Error(`${manifestPath}: its library key names ${summary.library}, but the adapter loaded ${realLib} (${libWhy}): set plugins.entries.<id>.config.library to ${summary.library}, or put the library next to the manifest and drop the key`);
    }
    this.summary = summary;
    this.settings = settings;
    this.manifest = { path: manifestPath, text };
    const { http, stream } = settings.ingress;
    this.ingress = {
      mode: settings.ingress.mode,
      path: http.path,
      maxBodyBytes: http.max_body_bytes,
      readTimeoutMs: http.read_timeout_ms,
      maxConnections: http.max_connections,
      openUrl: stream.open_url,
      silenceTimeoutMs: stream.silence_timeout_ms,
      apps: streamApps(settings),
    };
    // The adapter's own HTTPS/WSS clients exist in Stream mode only (the .so reads
    // network.ca_file for its own clients).
    if (this.ingress.mode === 'stream') {
      this.network = (this.deps.createNetwork ?? createNetwork)({ caFile: settings.network?.ca_file ?? null });
      const net = this.network.describe();
      if (net) this.logger.info(`network of the Stream connection: ${net}`);
    }
    if (settings.ingress.metrics_listen) {
      this.logger.warn(`ingress.metrics_listen (${settings.ingress.metrics_listen}) is not served inside the gateway; use the stats option of this plugin instead`);
    }
    this.timings.prepareMs = ms(t0);
    this.logger.info(
      `loaded ${realLib} (${this.lib.pluginName} ${this.lib.pluginVersion}, skill ABI ${this.lib.abiVersion}) ${libWhy}, with koffi ${koffi.version} from ${from}; manifest ${manifestPath}: skill ${summary.name} ${summary.version}, ingress ${this.ingress.mode}${this.ingress.mode === 'http' ? ` POST ${this.ingress.path}` : ` ${describeStreamApps(this.ingress.apps)}`} (${this.timings.prepareMs} ms)`,
    );
    return { summary, settings, ingress: this.ingress };
  }

  /** Runs `fn` while counting it as an FFI call on the skill (skill_free waits for zero). */
  async onSkill(fn) {
    this.ffiInFlight++;
    try {
      return await fn();
    } finally {
      this.ffiInFlight--;
    }
  }

  /** Service start: the log pump, init on a worker thread, then Stream mode when configured. */
  async start() {
    if (this.skill) return;
    const t0 = performance.now();
    this.logs.start(this.logger);
    try {
      this.skill = await this.lib.init(this.manifest.text, this.manifest.path);
    } catch (e) {
      await this.logs.stop(); // forwards init's own records, then rests
      throw new Error(`the DingTalk skill did not start: ${e.message}`);
    }
    this.timings.initMs = ms(t0);
    this.accepting = true;
    if (this.cfg.stats) {
      this.loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
      this.loop.enable();
    }
    if (this.ingress.mode === 'stream') {
      try {
        const sdk = await this.deps.loadStreamSdk();
        this.stream = startStreamApps({
          start: this.deps.startStreamIngress,
          sdk,
          apps: this.ingress.apps,
          openBody: (app) => this.streamOpenBody(app),
          silenceTimeoutMs: this.ingress.silenceTimeoutMs,
          network: this.network,
          logger: this.logger,
          deliver: async (data) => {
            const r = await this.deliver(data, 'stream');
            if (r.outcome !== 'ok') this.logger.warn(`Stream message refused by the skill (${r.outcome}): ${r.reason}`);
          },
        });
      } catch (e) {
        await this.stop(); // do not leave an initialized skill behind a failed start
        throw e;
      }
    }
    this.logger.info(
      `DingTalk skill ${this.summary.name} ${this.summary.version} running: ${this.ingress.mode === 'http' ? `callbacks on POST ${this.ingress.path}` : `Stream mode ${describeStreamApps(this.ingress.apps)}`}, gateway ${this.summary.gateway.endpoint}, init ${this.timings.initMs} ms`,
    );
    // openclaw prints each /v1/chat/completions answer with console.log (agent command,
    // deliver: false); no gateway setting or plugin API stops that one record. Say where the
    // operator finds what to do (docs/operations.md).
    this.logger.info(ANSWERS_IN_GATEWAY_LOG_NOTE);
  }

  /** The body of the Stream `POST open_url` of the app named `app` from the .so
   *  (stream_open_request_app; without a name, stream_open_request: the first app's), as a
   *  Buffer holding that app's secret: the caller sends it and zeroes it. */
  streamOpenBody(app = null) {
    if (!this.skill || !this.accepting) throw new Error('the DingTalk skill is not running');
    return app === null ? this.lib.streamOpenRequest(this.skill) : this.lib.streamOpenRequestApp(this.skill, app);
  }

  /** A refusal of the skill (handle_event / handle_callback) as an outcome. */
  static refused(status, error, refusal) {
    if (status === Status.REFUSED && refusal) return { outcome: 'refused', status: refusal.httpStatus, kind: refusal.kind, reason: error || refusal.kind };
    if (status === Status.INVALID_ARGUMENT) return { outcome: 'invalid', reason: error || 'not a DingTalk robot message' };
    if (status === Status.SHUTTING_DOWN) return { outcome: 'unavailable', reason: 'shutting down' };
    return { outcome: 'failed', reason: `${statusName(status)}${error ? `: ${error}` : ''}` };
  }

  /** The outcome while no event can be taken, or null. */
  unavailable() {
    if (this.skill && this.accepting) return null;
    return { outcome: 'unavailable', reason: this.skill ? 'shutting down' : 'the DingTalk skill is not running' };
  }

  /** Starts following one reply stream. */
  follow(stream, source) {
    const pump = pumpStream(this.lib, stream, {
      counters: this.counters,
      logger: this.logger,
      label: `${source} event #${++this.seq}`,
      abandon: () => this.abandonPumps === true,
    });
    this.pumps.add(pump);
    pump.finally(() => this.pumps.delete(pump));
  }

  /**
   * Hands one raw event (string or Buffer; a Stream frame's data) to the .so and follows its
   * reply stream. Resolves once handle_event returned (the reply runs on): {outcome: 'ok'} or a
   * refusal {outcome: 'invalid' | 'unavailable' | 'failed', reason}, as the Rust host's
   * dispatcher.
   */
  async deliver(body, source) {
    const closed = this.unavailable();
    if (closed) {
      this.counters.refused++;
      return closed;
    }
    this.counters.events++;
    const { status, stream, error } = await this.onSkill(() => this.lib.handleEvent(this.skill, body));
    if (status !== Status.OK) {
      this.counters.refused++;
      return SkillHost.refused(status, error);
    }
    this.follow(stream, source);
    return { outcome: 'ok' };
  }

  /**
   * An HTTP callback's headers (a JSON object text), before its body is read: verify_callback
   * (signature, timestamp window, replay). {outcome: 'ok'}, or a refusal
   * {outcome: 'refused', status, kind, reason} / {outcome: 'unavailable' | 'failed', reason}.
   */
  verifyCallback(headersJson) {
    const closed = this.unavailable();
    if (closed) return closed;
    const { status, refusal, error } = this.lib.verifyCallback(this.skill, headersJson);
    return status === Status.OK ? { outcome: 'ok' } : SkillHost.refused(status, error, refusal);
  }

  /**
   * An HTTP callback with its body (a Buffer of UTF-8 text): handle_callback verifies it again,
   * claims its signed timestamp and hands the event to the skill, then its reply is followed.
   * Outcomes as for deliver, plus {outcome: 'refused', status, kind, reason}.
   */
  async deliverCallback(headersJson, body) {
    const closed = this.unavailable();
    if (closed) {
      this.counters.refused++;
      return closed;
    }
    const { status, stream, refusal, error } = await this.onSkill(() => this.lib.handleCallback(this.skill, headersJson, body));
    // A callback refused by the signature check (a replay that raced another copy) is no event.
    if (status === Status.REFUSED) return SkillHost.refused(status, error, refusal);
    this.counters.events++;
    if (status !== Status.OK) {
      this.counters.refused++;
      return SkillHost.refused(status, error, refusal);
    }
    this.follow(stream, 'http');
    return { outcome: 'ok' };
  }

  /** Service stop: no new events, shutdown (finalizes in-flight cards), release everything. */
  async stop() {
    if (!this.skill) return;
    const t0 = performance.now();
    this.accepting = false;
    this.stream?.stop();
    const inFlight = this.counters.inFlight;
    try {
      await this.onSkill(() => this.lib.shutdown(this.skill, this.cfg.shutdownDeadlineMs));
    } catch (e) {
      this.logger.error(`shutdown of the DingTalk skill failed: ${e.message}`);
    }
    // Replies are finalized now; let the pumps read their terminal chunks, then give up.
    const grace = new Promise((resolve) => setTimeout(resolve, PUMP_GRACE_MS).unref?.());
    await Promise.race([Promise.allSettled([...this.pumps]), grace]);
    this.abandonPumps = true;
    await Promise.allSettled([...this.pumps]);
    while (this.ffiInFlight > 0) await new Promise((resolve) => setTimeout(resolve, 10));
    const skill = this.skill;
    this.skill = null;
    try {
      await this.lib.skillFree(skill);
    } catch (e) {
      this.logger.warn(`skill_free failed: ${e.message}`);
    }
    this.loop?.disable();
    await this.logs.stop(); // the records of the shutdown itself
    const c = this.counters;
    this.logger.info(
      `DingTalk skill stopped in ${ms(t0)} ms (${inFlight} replies were in flight; totals: ${c.events} events, ${c.finished} finished, ${c.failed} failed, ${c.replied} replied, ${c.skipped} skipped, ${c.refused} refused)`,
    );
  }

  /** The JSON of the stats route. */
  async stats({ reset = false } = {}) {
    let info = null;
    if (this.skill) {
      try {
        info = await this.onSkill(() => this.lib.info(this.skill));
      } catch (e) {
        info = { error: e.message };
      }
    }
    // The histogram holds the time between two ticks of a LOOP_RESOLUTION_MS timer; the lag
    // (how late the event loop ran it) is that minus the interval.
    const h = this.loop;
    const lag = (ns) => Math.max(0, Math.round((ns / 1e6 - LOOP_RESOLUTION_MS) * 100) / 100);
    const eventLoop =
      h && h.count > 0
        ? { lagP50Ms: lag(h.percentile(50)), lagP99Ms: lag(h.percentile(99)), lagMaxMs: lag(h.max), lagMeanMs: lag(h.mean), samples: h.count, timerMs: LOOP_RESOLUTION_MS }
        : null;
    if (reset) h?.reset();
    return {
      plugin: { name: this.lib?.pluginName, version: this.lib?.pluginVersion, abi: this.lib?.abiVersion },
      running: Boolean(this.skill),
      accepting: this.accepting,
      timings: this.timings,
      counters: { ...this.counters, pumps: this.pumps.size },
      logs: this.logs?.stats() ?? null,
      stream: this.stream?.state() ?? null,
      eventLoop,
      skill: info,
    };
  }
}
