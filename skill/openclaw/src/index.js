// index.js: the entry the OpenClaw gateway loads (package.json "openclaw.extensions").
// `openclaw/plugin-sdk/*` resolves from the gateway that loads this plugin (a peer
// dependency, never installed next to it).

import { buildJsonPluginConfigSchema, definePluginEntry } from 'openclaw/plugin-sdk/plugin-entry';

import manifest from '../openclaw.plugin.json' with { type: 'json' };
import { PLUGIN_ID, registerPlugin } from './plugin.js';

export default definePluginEntry({
  id: PLUGIN_ID,
  name: manifest.name,
  description: manifest.description,
  configSchema: buildJsonPluginConfigSchema(manifest.configSchema, { cacheKey: `plugin-config-schema:${PLUGIN_ID}` }),
  register(api) {
    registerPlugin(api);
  },
});
