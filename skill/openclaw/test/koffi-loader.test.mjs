// koffi comes from the gateway, never from next to the plugin: the fallbacks a linked plugin
// relies on (the openclaw package, the gateway entry script) and the error when none has it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import { pathToFileURL } from 'node:url';

import { koffiCandidates } from '../src/koffi-loader.js';
import { PLUGIN_DIR } from './helpers.mjs';

const LOADER = pathToFileURL(path.join(PLUGIN_DIR, 'src/koffi-loader.js')).href;
const openclawModules = (process.env.NODE_PATH ?? '').split(path.delimiter).find((d) => d && fs.existsSync(path.join(d, 'openclaw/openclaw.mjs')));

/** Runs loadKoffi in a child without NODE_PATH, as inside a gateway that loads a linked plugin. */
function loadIn(child) {
  const env = { ...process.env };
  delete env.NODE_PATH;
  const script = `import(${JSON.stringify(LOADER)}).then((m) => { try { const r = m.loadKoffi(${child}); console.log(JSON.stringify({ ok: true, from: r.from, version: r.koffi.version })); } catch (e) { console.log(JSON.stringify({ ok: false, message: e.message })); } });`;
  return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { env, encoding: 'utf8' }));
}

test('candidates: the plugin itself, then the openclaw package, then the gateway entry script', () => {
  const c = koffiCandidates({ pluginUrl: 'file:///p/src/x.js', sdkUrl: 'file:///gw/node_modules/openclaw/dist/plugin-sdk/plugin-entry.js', entryScript: '/gw/node_modules/openclaw/openclaw.mjs' });
  assert.deepEqual(c.map((x) => x.from), ['file:///p/src/x.js', 'file:///gw/node_modules/openclaw/dist/plugin-sdk/plugin-entry.js', '/gw/node_modules/openclaw/openclaw.mjs']);
  assert.equal(koffiCandidates({ pluginUrl: 'file:///p/x.js' }).length, 1);
});

test('a linked plugin finds the gateway koffi through the gateway entry script or its SDK', { skip: openclawModules ? false : 'openclaw is not on NODE_PATH (run test/unit.sh)' }, () => {
  const entry = path.join(openclawModules, 'openclaw/openclaw.mjs');
  const byEntry = loadIn(`{ sdkUrl: null, entryScript: ${JSON.stringify(entry)} }`);
  assert.equal(byEntry.ok, true, byEntry.message);
  assert.ok(byEntry.from.startsWith(openclawModules), byEntry.from);
  assert.match(byEntry.version, /^3\./);
  const sdk = pathToFileURL(path.join(openclawModules, 'openclaw/dist/plugin-sdk/plugin-entry.js')).href;
  const bySdk = loadIn(`{ sdkUrl: ${JSON.stringify(sdk)}, entryScript: '/nonexistent/entry.js' }`);
  assert.equal(bySdk.ok, true, bySdk.message);
});

test('without any koffi the error lists where it looked', () => {
  const r = loadIn(`{ sdkUrl: null, entryScript: '/nonexistent/entry.js' }`);
  assert.equal(r.ok, false);
  assert.match(r.message, /koffi \(>= 3\) not found.*Looked in: the plugin directory \(or NODE_PATH\): MODULE_NOT_FOUND; the gateway entry script: MODULE_NOT_FOUND/);
});
