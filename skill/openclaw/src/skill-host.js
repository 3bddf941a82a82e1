// skill-host.js: the adapter's lifecycle around one libopenclaw_dingtalk.so skill:
// prepare (load + check_manifest, synchronous, at register time) → start (init on a worker
// thread, then Stream mode if configured) → deliver events → stop (shutdown on a worker
// thread, finish reading the streams, skill_free).
//
// Ownership: the host owns the skill handle from init until skill_free, and every stream
// handle through its pump (pump.js). skill_free runs only after shutdown, once no FFI call
// on the skill is in flight and every pump has released its stream.

import fs from 'node:fs';
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';

import { SkillLibrary, Status, statusName } from './abi.js';
import { levelNumber, processLogSink } from './log-sink.js';
import { readIngressHttp, readScalars } from './manifest.js';
import { newCounters, pumpStream } from './pump.js';

export const DEFAULT_LIBRARY = 'libopenclaw_dingtalk.so';
const DEFAULT_SILENCE_MS = 90_000;
const PUMP_GRACE_MS = 3000;
const LOOP_RESOLUTION_MS = 5;

const ms = (t0) => Math.round((performance.now() - t0) * 10) / 10;

/** Parses a non-negative integer manifest value, or the default. */
function intValue(text, key, dflt) {
  if (text === undefined) return dflt;
  if (!/^\d+$/.test(text)) throw new Error(`openclaw-skill.yaml: ${key} must be a whole number`);
  return Number(text);
}

export class SkillHost {
  /**
   * @param cfg normalized plugin config (config.js)
   * @param logger the gateway's PluginLogger
   * @param deps {loadKoffi, env, readFile, openLibrary, loadStreamSdk, startStreamIngress}
   */
  constructor(cfg, logger, deps) {
    this.cfg = cfg;
    this.logger = logger;
    this.deps = deps;
    this.env = deps.env ?? process.env;
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

  /** Synchronous part, run inside register(): reads the manifest, loads the .so, validates
   *  the manifest with check_manifest. Throws an Error meant for the operator. */
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
    const early = readScalars(text, ['library'], this.env);
    const libPath = path.resolve(manifestDir, early.library ?? DEFAULT_LIBRARY);
    let realLib;
    try {
      realLib = fs.realpathSync(libPath);
    } catch (e) {
      throw new Error(`the skill library ${libPath} is missing (${e.code ?? e.message}): build it with \`cargo build -p openclaw-dingtalk\` and put (or symlink) target/<profile>/libopenclaw_dingtalk.so next to ${path.basename(manifestPath)}`);
    }
    const { koffi, from } = this.deps.loadKoffi();
    const t1 = performance.now();
    this.lib = (this.deps.openLibrary ?? SkillLibrary.open)(koffi, realLib);
    this.timings.loadMs = ms(t1);
    if (!this.lib.pinned) {
      this.logger.warn(`could not mark ${realLib} RTLD_NODELETE; it stays loaded through its koffi handle, which this plugin keeps for the life of the process`);
    }
    this.sink = processLogSink(koffi, this.lib.types);
    // The manifest is validated by the .so (the authority), then the adapter reads the few
    // values it routes with, and checks that it reads the file the same way.
    const summary = this.lib.checkManifest(text, manifestDir);
    const values = readScalars(
      text,
      ['dingtalk.app_key', 'dingtalk.app_secret', 'ingress.stream.silence_timeout_ms'],
      this.env,
    );
    if (values['dingtalk.app_key'] !== summary.dingtalk.app_key) {
      throw new Error('openclaw-skill.yaml: the adapter reads dingtalk.app_key differently from the skill library; write dingtalk.app_key and dingtalk.app_secret as one-line plain or quoted values');
    }
    this.appSecret = values['dingtalk.app_secret'] ?? '';
    this.summary = summary;
    this.manifest = { path: manifestPath, dir: manifestDir, text };
    this.ingress = {
      mode: summary.ingress.mode,
      path: summary.ingress.http_path,
      ...readIngressHttp(text, this.env),
      silenceTimeoutMs: intValue(values['ingress.stream.silence_timeout_ms'], 'ingress.stream.silence_timeout_ms', DEFAULT_SILENCE_MS),
    };
    this.timings.prepareMs = ms(t0);
    this.logger.info(
      `loaded ${realLib} (${this.lib.pluginName} ${this.lib.pluginVersion}, skill ABI ${this.lib.abiVersion}) with koffi ${koffi.version} from ${from}; manifest ${manifestPath}: skill ${summary.name} ${summary.version}, ingress ${this.ingress.mode}${this.ingress.mode === 'http' ? ` POST ${this.ingress.path}` : ''} (${this.timings.prepareMs} ms)`,
    );
    return { summary, ingress: this.ingress };
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

  /** Service start: init on a worker thread, then Stream mode when configured. */
  async start() {
    if (this.skill) return;
    const t0 = performance.now();
    this.sink.setLogger(this.logger);
    const sink = this.sink.sink(levelNumber(this.cfg.logLevel));
    try {
      this.skill = await this.lib.init(this.manifest.text, this.manifest.dir, sink);
    } catch (e) {
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
        this.stream = this.deps.startStreamIngress({
          sdk,
          clientId: this.summary.dingtalk.app_key,
          clientSecret: this.appSecret,
          apiBaseUrl: this.summary.dingtalk.api_base_url,
          silenceTimeoutMs: this.ingress.silenceTimeoutMs,
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
      `DingTalk skill ${this.summary.name} ${this.summary.version} running: ${this.ingress.mode === 'http' ? `callbacks on POST ${this.ingress.path}` : 'Stream mode'}, gateway ${this.summary.gateway.endpoint}, init ${this.timings.initMs} ms`,
    );
  }

  /**
   * Hands one raw event (string or Buffer) to the .so and follows its reply stream. Resolves
   * once handle_event returned (the reply runs on): {outcome: 'ok'} or a refusal
   * {outcome: 'invalid' | 'unavailable' | 'failed', reason}, as the Rust host's dispatcher.
   */
  async deliver(body, source) {
    if (!this.skill || !this.accepting) {
      this.counters.refused++;
      return { outcome: 'unavailable', reason: this.skill ? 'shutting down' : 'the DingTalk skill is not running' };
    }
    this.counters.events++;
    const label = `${source} event #${++this.seq}`;
    const { status, stream, error } = await this.onSkill(() => this.lib.handleEvent(this.skill, body));
    if (status !== Status.OK) {
      this.counters.refused++;
      if (status === Status.INVALID_ARGUMENT) return { outcome: 'invalid', reason: error || 'not a DingTalk robot message' };
      if (status === Status.SHUTTING_DOWN) return { outcome: 'unavailable', reason: 'shutting down' };
      return { outcome: 'failed', reason: `${statusName(status)}${error ? `: ${error}` : ''}` };
    }
    const pump = pumpStream(this.lib, stream, {
      counters: this.counters,
      logger: this.logger,
      label,
      abandon: () => this.abandonPumps === true,
    });
    this.pumps.add(pump);
    pump.finally(() => this.pumps.delete(pump));
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
      logSink: this.sink?.stats() ?? null,
      stream: this.stream?.state() ?? null,
      eventLoop,
      skill: info,
    };
  }
}
