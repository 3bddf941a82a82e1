// Shared helpers of the node:test suites (and of e2e.sh / e2e-client.mjs): locating the
// cargo-built binaries, starting the DingTalk emulator and the fake gateway on loopback, the ONE
// writer of test manifests (through the emulator crate's `test-manifest`, the builder the Rust
// tests use), signing callbacks as DingTalk does.

import { execFileSync, spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
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
/** A plugin of the 0.1 series (skill ABI v1): tests/fixtures/abi-v1, built by test/unit.sh. */
export const ABI_V1_LIB = process.env.OCDT_ABI_V1_LIB ?? path.join(TARGET_DIR, '../fixtures/abi-v1/debug/libabi_v1_fixture.so');

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
export const APP_SECRET = 'ocdt test secret: #1 ${not a var}';
export const GATEWAY_TOKEN = 'tok';

/** Starts the emulator and the fake gateway (gateway mode, token `tok`). */
export async function startPeers() {
  const emulator = await startServer(EMULATOR_BIN, ['--app-key', APP_KEY, '--app-secret', APP_SECRET, '--qps', '0']);
  const gateway = await startServer(FAKE_GATEWAY_BIN, ['--token', GATEWAY_TOKEN, '--token-interval-ms', '5']);
  return {
    emulator,
    gateway,
    stop: () => Promise.all([emulator.stop(), gateway.stop()]),
  };
}

// --- test manifests ----------------------------------------------------------------------
// Every test manifest is written here, by the emulator crate's TestManifest builder (the one the
// Rust tests use) through its `test-manifest` binary: the dingtalk/gateway URLs, the app key and
// secret, the gateway token, comment lines, JSON overlays whose leaves set dotted keys (null
// removes one), raw YAML per dotted key. Literal strings keep `${` literal; rawYaml() text is
// written as it is (for `${VAR}` references the plugin interpolates).

const RAW = Symbol('raw YAML');

/** YAML text written as it is, e.g. rawYaml('"${DINGTALK_APP_SECRET}"'). */
export function rawYaml(text) {
  return { [RAW]: String(text) };
}

const isRaw = (v) => Boolean(v && typeof v === 'object' && RAW in v);

/**
 * The text of a test openclaw-skill.yaml for the emulator at `dingtalkUrl` and the gateway at
 * `gatewayUrl` (test-manifest's defaults: name test-bot, version 1.0, the emulator's template and
 * content key, state_dir `state`). `appSecret` and `gatewayToken` are literal strings or
 * rawYaml(); `json` is a list of overlays ({ingress: {mode: 'stream'}}), `raw` maps dotted keys to
 * YAML text. Plain JSON options, so e2e.sh can call it too.
 */
export function manifestYaml({ dingtalkUrl, gatewayUrl, appKey = APP_KEY, appSecret = APP_SECRET, gatewayToken = GATEWAY_TOKEN, comment = [], json = [], raw = {} }) {
  const args = ['--dingtalk-url', dingtalkUrl, '--gateway-url', gatewayUrl, '--app-key', appKey];
  const rawKeys = { ...raw };
  if (isRaw(appSecret)) rawKeys['dingtalk.app_secret'] = appSecret[RAW];
  else args.push('--app-secret', appSecret);
  if (isRaw(gatewayToken)) rawKeys['gateway.auth_token'] = gatewayToken[RAW];
  else args.push('--gateway-token', gatewayToken);
  for (const line of comment) args.push('--comment', line);
  for (const overlay of json) args.push('--json', JSON.stringify(overlay));
  for (const [key, yaml] of Object.entries(rawKeys)) args.push('--raw', `${key}=${yaml}`);
  return execFileSync(TEST_MANIFEST_BIN, args, { encoding: 'utf8' });
}

/** The callback path and card interval the node:test suites use. */
export const TEST_CALLBACK_PATH = '/dingtalk/test-callback';

/**
 * A fresh skill directory: openclaw-skill.yaml (manifestYaml with `options`; by default HTTP
 * mode on TEST_CALLBACK_PATH with 100 ms card updates) and a symlink to the .so unless
 * `library` is false. Returns {dir, manifestPath}.
 */
export function writeSkillDir(options, { library = true } = {}) {
  const dir = tempDir('ocdt-skill-');
  if (library) fs.symlinkSync(SO_PATH, path.join(dir, 'libopenclaw_dingtalk.so'));
  const defaults = { streaming: { card_update_interval_ms: 100 }, ingress: { mode: 'http', http: { path: TEST_CALLBACK_PATH } } };
  const manifestPath = path.join(dir, 'openclaw-skill.yaml');
  fs.writeFileSync(manifestPath, manifestYaml({ comment: ['test manifest'], ...options, json: [defaults, ...(options.json ?? [])] }));
  return { dir, manifestPath };
}

// --- DingTalk's side ------------------------------------------------------------------------

/** The `sign` header DingTalk sends for a timestamp: Base64(HmacSHA256(secret, ts + "\n" +
 *  secret)) (docs/dingtalk-events.md, "HTTP callbacks"). */
export function callbackSignature(appSecret, timestamp) {
  return createHmac('sha256', appSecret).update(`${timestamp}\n${appSecret}`, 'utf8').digest('base64');
}

/** Headers of a signed callback at `ts`. */
export function signedHeaders(secret = APP_SECRET, ts = Date.now()) {
  return { 'content-type': 'application/json; charset=utf-8', timestamp: String(ts), sign: callbackSignature(secret, ts) };
}

/** An inbound robot message built by the emulator (live sessionWebhook on it). */
export async function botMessage(emulatorUrl, { conversationId = 'cidNodeTest', text = 'hello', msgId = null, sender = 'u-node' } = {}) {
  const res = await fetch(`${emulatorUrl}/__emulator/bot-messages`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      chat: { Group: { conversation_id: conversationId, title: 'node test' } },
      sender: { staff_id: sender, nick: sender },
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

// --- a company CA, for the TLS stand-ins --------------------------------------------------------

/**
 * A private PKI as a company (or its TLS-inspecting proxy) has one, made with the openssl CLI in
 * a fresh directory: a root CA, an intermediate signed by it, and a server certificate for
 * localhost / 127.0.0.1 signed by the intermediate. Returns {dir, rootPem (path of the root: what
 * network.ca_file names), key, cert (PEM text: the server certificate followed by the
 * intermediate, as servers send their chain)}. A client without the root fails with
 * UNABLE_TO_GET_ISSUER_CERT_LOCALLY.
 */
export function companyPki() {
  const dir = tempDir('ocdt-pki-');
  const ossl = (...args) => {
    try {
      execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      if (e.code === 'ENOENT') throw new Error('the openssl CLI is needed to make the test CA (apt-get install openssl)');
      throw new Error(`openssl ${args.join(' ')} failed: ${e.stderr}`);
    }
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  fs.writeFileSync(path.join(dir, 'ca.ext'), 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n');
  fs.writeFileSync(path.join(dir, 'leaf.ext'), 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n');
  ossl('req', '-x509', ...ec, '-keyout', 'root.key', '-out', 'root.pem', '-days', '3', '-subj', '/O=Example Corp/CN=Example Corp Test Root CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  ossl('req', ...ec, '-keyout', 'int.key', '-out', 'int.csr', '-subj', '/O=Example Corp/CN=Example Corp Test Inspection CA');
  ossl('x509', '-req', '-in', 'int.csr', '-CA', 'root.pem', '-CAkey', 'root.key', '-CAcreateserial', '-out', 'int.pem', '-days', '3', '-extfile', 'ca.ext');
  ossl('req', ...ec, '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=localhost');
  ossl('x509', '-req', '-in', 'leaf.csr', '-CA', 'int.pem', '-CAkey', 'int.key', '-CAcreateserial', '-out', 'leaf.pem', '-days', '3', '-extfile', 'leaf.ext');
  const read = (f) => fs.readFileSync(path.join(dir, f), 'utf8');
  return { dir, rootPem: path.join(dir, 'root.pem'), key: read('leaf.key'), cert: read('leaf.pem') + read('int.pem') };
}

/** An HTTP CONNECT proxy on loopback that records the tunnels asked for. Returns {url, tunnels, close}. */
export async function connectProxy() {
  const net = await import('node:net');
  const tunnels = [];
  const sockets = new Set();
  const server = http.createServer((req, res) => res.writeHead(405).end());
  server.on('connect', (req, client, head) => {
    tunnels.push(req.url);
    const [host, port] = req.url.split(':');
    const upstream = net.connect(Number(port), host === 'localhost' ? '127.0.0.1' : host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    upstream.on('error', () => client.destroy());
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    tunnels,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
