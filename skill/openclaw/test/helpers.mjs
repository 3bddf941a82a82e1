// Shared helpers of the node:test suites: locating the cargo-built binaries, starting the
// DingTalk emulator and the fake gateway on loopback, writing a manifest next to the .so (built
// by the emulator crate's TestManifest through its `test-manifest` binary, as the Rust tests do).

import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { loadKoffi } from '../src/koffi-loader.js';

export const PLUGIN_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_DIR = path.resolve(PLUGIN_DIR, '../..');
export const TARGET_DIR = process.env.OCDT_TARGET_DIR ?? path.join(REPO_DIR, 'target/debug');
export const SO_PATH = process.env.OCDT_LIB ?? path.join(TARGET_DIR, 'libopenclaw_dingtalk.so');
export const EMULATOR_BIN = path.join(TARGET_DIR, 'dingtalk-emulator');
export const FAKE_GATEWAY_BIN = path.join(TARGET_DIR, 'fake-gateway');
export const TEST_MANIFEST_BIN = path.join(TARGET_DIR, 'test-manifest');

/** Why the native tests cannot run here, or null. */
export function nativeMissing() {
  for (const f of [SO_PATH, EMULATOR_BIN, FAKE_GATEWAY_BIN, TEST_MANIFEST_BIN]) {
    if (!fs.existsSync(f)) return `${f} is missing (cargo build -p openclaw-dingtalk -p openclaw-dingtalk-emulator)`;
  }
  try {
    loadKoffi();
  } catch (e) {
    return e.message;
  }
  return null;
}

/** Starts a loopback server binary that prints `listening http://…` first; returns {url, stop}. */
export function startServer(bin, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, ['--listen', '127.0.0.1:0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${path.basename(bin)} did not start: ${out}${err}`));
    }, 15_000);
    child.stderr.on('data', (d) => (err += d));
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({
          url: m[1],
          stop: () =>
            new Promise((r) => {
              if (child.exitCode !== null) return r();
              child.once('exit', () => r());
              child.kill('SIGTERM');
            }),
        });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${path.basename(bin)} exited with ${code}: ${err}`));
    });
  });
}

const tempDirs = [];
process.on('exit', () => {
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A fresh temporary directory, removed when the test process exits. */
export function tempDir(prefix) {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(d);
  return d;
}

export const APP_KEY = 'ocdt-test-app';
export const APP_SECRET = 'ocdt test secret: #1';

/** Starts the emulator and the fake gateway (gateway mode, token `tok`). */
export async function startPeers() {
  const emulator = await startServer(EMULATOR_BIN, ['--app-key', APP_KEY, '--app-secret', APP_SECRET, '--qps', '0']);
  const gateway = await startServer(FAKE_GATEWAY_BIN, ['--token', 'tok', '--token-interval-ms', '5']);
  return {
    emulator,
    gateway,
    stop: () => Promise.all([emulator.stop(), gateway.stop()]),
  };
}

/**
 * A test manifest's text from `test-manifest` (the emulator crate's TestManifest): the emulator
 * and gateway URLs, app key APP_KEY, then each JSON overlay in order (a leaf sets its dotted key,
 * null removes it), then `raw` ({"dotted.key": "YAML text written as it is"}, e.g. a `${VAR}`).
 */
export function testManifest({ emulatorUrl, gatewayUrl, overlays = [], raw = {}, comment = [] }) {
  const args = ['--dingtalk-url', emulatorUrl, '--gateway-url', gatewayUrl, '--app-key', APP_KEY];
  for (const line of comment) args.push('--comment', line);
  for (const overlay of overlays) args.push('--json', JSON.stringify(overlay));
  for (const [key, yaml] of Object.entries(raw)) args.push('--raw', `${key}=${yaml}`);
  return execFileSync(TEST_MANIFEST_BIN, args, { encoding: 'utf8' });
}

/**
 * Writes openclaw-skill.yaml (+ a symlink to the .so) into a fresh directory: HTTP callbacks on
 * /dingtalk/test-callback (or `ingress: 'stream'`), a 100 ms card interval, the gateway token and
 * app secret read from ${OCDT_TEST_GATEWAY_TOKEN:-tok} and ${OCDT_TEST_APP_SECRET}; `overlay`
 * (a JSON object over the manifest) last.
 */
export function writeSkillDir({ emulatorUrl, gatewayUrl, ingress = 'http', overlay = {} }) {
  const dir = tempDir('ocdt-skill-');
  fs.symlinkSync(SO_PATH, path.join(dir, 'libopenclaw_dingtalk.so'));
  const manifest = testManifest({
    emulatorUrl,
    gatewayUrl,
    comment: ['test manifest'],
    overlays: [
      { version: '0.1', streaming: { card_update_interval_ms: 100 }, ingress: { mode: ingress, http: { path: '/dingtalk/test-callback' } } },
      overlay,
    ],
    raw: {
      'gateway.auth_token': '"${OCDT_TEST_GATEWAY_TOKEN:-tok}"',
      'dingtalk.app_secret': '"${OCDT_TEST_APP_SECRET}"',
    },
  });
  fs.writeFileSync(path.join(dir, 'openclaw-skill.yaml'), manifest);
  return dir;
}

/** An inbound robot message built by the emulator (live sessionWebhook on it). */
export async function botMessage(emulatorUrl, { conversationId = 'cidNodeTest', text = 'hello', msgId = null } = {}) {
  const res = await fetch(`${emulatorUrl}/__emulator/bot-messages`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      chat: { Group: { conversation_id: conversationId, title: 'node test' } },
      sender: { staff_id: 'u-node', nick: 'node' },
      content: { Text: text },
      quoted_text: null,
      msg_id: msgId,
    }),
  });
  if (!res.ok) throw new Error(`bot-messages: HTTP ${res.status}`);
  return res.text();
}

export async function emulatorCards(emulatorUrl) {
  const res = await fetch(`${emulatorUrl}/__emulator/cards`);
  return res.json();
}

/** Polls `fn` until it returns a truthy value (or throws after `timeoutMs`). */
export async function waitFor(fn, { timeoutMs = 15_000, intervalMs = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A PluginLogger that records lines. */
export function recordingLogger() {
  const lines = [];
  const at = (level) => (msg) => lines.push({ level, msg });
  return { lines, info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug') };
}
