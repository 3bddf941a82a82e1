// koffi-loader.js: finds the koffi the gateway ships instead of bundling a second copy.
//
// koffi is an optional peer dependency of this package (openclaw 2026.9.6 depends on koffi
// 3.2.1). A plugin loaded from a directory *below* the gateway's node_modules resolves it with
// a plain import; a linked plugin (`openclaw plugins install --link`, plugins.load.paths)
// lives elsewhere, so koffi is then resolved from the gateway's own package: first from where
// `openclaw/plugin-sdk` resolves for this plugin (openclaw aliases that specifier for the
// plugins it loads), then from the gateway's entry script. NODE_PATH also works (tests).

import { createRequire } from 'node:module';
import path from 'node:path';

/** Where koffi may be resolved from, most specific first. Pure (for tests). */
export function koffiCandidates({ pluginUrl, sdkUrl, entryScript }) {
  const bases = [];
  if (pluginUrl) bases.push({ from: pluginUrl, why: 'the plugin directory (or NODE_PATH)' });
  if (sdkUrl) bases.push({ from: sdkUrl, why: 'the gateway package (openclaw/plugin-sdk)' });
  if (entryScript) bases.push({ from: path.resolve(entryScript), why: 'the gateway entry script' });
  return bases;
}

function tryResolveSdk() {
  try {
    return import.meta.resolve('openclaw/plugin-sdk/plugin-entry');
  } catch {
    return null;
  }
}

/**
 * Loads koffi; throws an Error that lists where it looked. Returns {koffi, from}.
 */
export function loadKoffi({ sdkUrl = tryResolveSdk(), entryScript = process.argv[1] } = {}) {
  const tried = [];
  for (const base of koffiCandidates({ pluginUrl: import.meta.url, sdkUrl, entryScript })) {
    try {
      const require = createRequire(base.from);
      const resolved = require.resolve('koffi');
      const koffi = require(resolved);
      if (typeof koffi.load !== 'function' || typeof koffi.register !== 'function') {
        tried.push(`${base.why}: ${resolved} is not koffi`);
        continue;
      }
      const major = Number(String(koffi.version ?? '').split('.')[0]);
      if (!(major >= 3)) {
        tried.push(`${base.why}: koffi ${koffi.version} at ${resolved} is too old (need >= 3, BigInt pointers)`);
        continue;
      }
      return { koffi, from: resolved };
    } catch (e) {
      tried.push(`${base.why}: ${e.code ?? e.message}`);
    }
  }
  throw new Error(
    `koffi (>= 3) not found. It ships with openclaw; for a plugin outside the gateway's node_modules it is resolved from the gateway package. Looked in: ${tried.join('; ')}`,
  );
}
