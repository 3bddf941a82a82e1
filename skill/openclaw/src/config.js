// config.js: the plugin's own config (plugins.entries.<id>.config), validated against the
// schema in openclaw.plugin.json by the gateway and normalized here.

import os from 'node:os';
import path from 'node:path';

export const DEFAULTS = Object.freeze({
  logLevel: 'info',
  shutdownDeadlineMs: 5000,
  stats: false,
});

/** Expands a leading `~/` and resolves a relative path against `baseDir`. */
export function resolvePath(p, baseDir) {
  let s = String(p);
  if (s === '~' || s.startsWith('~/')) s = path.join(os.homedir(), s.slice(1));
  return path.resolve(baseDir, s);
}

/**
 * Normalizes the plugin config. `rootDir` is the plugin's directory (a relative manifest path
 * resolves against it; a relative library path against the manifest's directory). Throws with
 * a message naming the config key.
 */
export function normalizeConfig(raw, rootDir, pluginId) {
  const cfg = { ...DEFAULTS, ...(raw ?? {}) };
  const where = `plugins.entries.${pluginId}.config`;
  if (typeof cfg.manifest !== 'string' || cfg.manifest.trim() === '') {
    throw new Error(`${where}.manifest is not set: give the path of the openclaw-skill.yaml to load (libopenclaw_dingtalk.so must sit next to it)`);
  }
  const levels = ['off', 'error', 'warn', 'info', 'debug', 'trace'];
  if (!levels.includes(cfg.logLevel)) throw new Error(`${where}.logLevel must be one of ${levels.join(', ')}`);
  const deadline = Number(cfg.shutdownDeadlineMs);
  if (!Number.isInteger(deadline) || deadline < 100 || deadline > 600_000) {
    throw new Error(`${where}.shutdownDeadlineMs must be an integer between 100 and 600000`);
  }
  if (cfg.library !== undefined && (typeof cfg.library !== 'string' || cfg.library.trim() === '')) {
    throw new Error(`${where}.library must be the path of libopenclaw_dingtalk.so`);
  }
  const manifestPath = resolvePath(cfg.manifest.trim(), rootDir);
  return {
    manifestPath,
    // Relative to the manifest's directory, as the manifest's own `library` key.
    libraryPath: cfg.library === undefined ? null : resolvePath(cfg.library.trim(), path.dirname(manifestPath)),
    logLevel: cfg.logLevel,
    shutdownDeadlineMs: deadline,
    stats: cfg.stats === true,
  };
}
