// plugin.js: what register(api) does. Kept free of openclaw imports so it can be tested with
// a stand-in `api` (index.js wraps it in definePluginEntry).

import { normalizeConfig } from './config.js';
import { createCallbackHandler } from './http-ingress.js';
import { loadKoffi } from './koffi-loader.js';
import { SkillHost } from './skill-host.js';
import { loadStreamSdk, startStreamIngress } from './stream-ingress.js';

export const PLUGIN_ID = 'openclaw-dingtalk';
export const SERVICE_ID = 'openclaw-dingtalk-skill';
export const STATS_PATH = '/openclaw-dingtalk/stats';

const defaultDeps = { loadKoffi, loadStreamSdk, startStreamIngress };

/** Prefixes every line with the plugin id when the gateway's logger does not. */
function pluginLogger(logger) {
  const p = (fn) => (msg) => fn.call(logger, `${PLUGIN_ID}: ${msg}`);
  return {
    info: p(logger.info),
    warn: p(logger.warn),
    error: p(logger.error),
    debug: logger.debug ? p(logger.debug) : undefined,
  };
}

/**
 * register(api): in full mode, loads the skill library and has it validate the manifest and
 * resolve the host settings right away (so a broken setup fails the plugin load with a clear
 * message), registers the callback route (HTTP mode), the optional stats route and the service
 * that runs the skill.
 */
export function registerPlugin(api, deps = defaultDeps) {
  if (api.registrationMode && api.registrationMode !== 'full') return undefined;
  const logger = pluginLogger(api.logger);
  const cfg = normalizeConfig(api.pluginConfig, api.rootDir ?? process.cwd(), PLUGIN_ID);
  const host = new SkillHost(cfg, logger, deps);
  const { ingress } = host.prepare();

  let callbacks = null;
  if (ingress.mode === 'http') {
    callbacks = createCallbackHandler({
      maxBodyBytes: ingress.maxBodyBytes,
      readTimeoutMs: ingress.readTimeoutMs,
      maxConnections: ingress.maxConnections,
      verify: (headersJson) => host.verifyCallback(headersJson),
      deliver: (headersJson, body) => host.deliverCallback(headersJson, body),
      logger,
    });
    api.registerHttpRoute({
      path: ingress.path,
      auth: 'plugin', // DingTalk authenticates with its timestamp + sign headers
      match: 'exact',
      handler: callbacks,
    });
  }
  if (cfg.stats) {
    api.registerHttpRoute({
      path: STATS_PATH,
      auth: 'gateway',
      match: 'exact',
      handler: async (req, res) => {
        const reset = new URL(req.url ?? '/', 'http://x').searchParams.get('reset') === '1';
        const body = JSON.stringify(await host.stats({ reset }));
        res.statusCode = 200;
        res.setHeader('Content-Type', 'application/json; charset=utf-8');
        res.end(body);
        return true;
      },
    });
  }
  api.registerService({
    id: SERVICE_ID,
    start: () => host.start(),
    stop: async () => {
      await host.stop();
      callbacks?.close(); // the refusal log's pending summary lines
    },
  });
  return host;
}
