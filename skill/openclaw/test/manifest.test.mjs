// The adapter's reader of single manifest values: same key/line rules and ${VAR} semantics
// as the Rust loader (skill/abi/src/manifest_text.rs).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import test from 'node:test';

import { INGRESS_HTTP_DEFAULTS, ManifestReadError, indexKeys, readIngressHttp, readScalar, readScalars } from '../src/manifest.js';
import { APP_KEY, TEST_MANIFEST_BIN, testManifest } from './helpers.mjs';

const env = { KEY: 'abc', EMPTY: '', NASTY: 'pa"ss: #word\'', NUM: '250' };

const DOC = `# openclaw-skill.yaml
name: bot
version: "1.0"
library: lib/libopenclaw_dingtalk.so   # relative to the manifest
gateway:
  endpoint: "http://127.0.0.1:18790"
  auth_token: \${MISSING}
dingtalk:
  app_key: \${KEY}
  app_secret: "\${NASTY}"
  robot_code: '\${NASTY}'
  api_base_url: x-\${KEY}-y
  card_template_id: \${NOPE:-dflt}
  card_content_key: \${EMPTY:-d2}
  oapi_base_url: $\${KEY}
conversation:
  preamble: |
    app_secret: not this one
  access:
    allowed_senders:
      - a
      - b
ingress:
  http:
    max_body_bytes: \${NUM}
    path: /cb # comment
  stream:
    silence_timeout_ms:
`;

test('keys map to their lines with their parents', () => {
  const idx = indexKeys(DOC);
  assert.equal(idx.get('name').line, 2);
  assert.equal(idx.get('dingtalk.app_secret').line, 10);
  assert.equal(idx.get('ingress.http.path').line, 26);
  assert.ok(idx.has('conversation.preamble.app_secret'), 'block scalar lines stay below their key');
  assert.ok(!idx.has('app_secret'));
});

test('plain, quoted and interpolated values read back as the Rust loader sees them', () => {
  const v = readScalars(
    DOC,
    ['name', 'version', 'library', 'dingtalk.app_key', 'dingtalk.app_secret', 'dingtalk.robot_code', 'dingtalk.api_base_url', 'dingtalk.card_template_id', 'dingtalk.card_content_key', 'dingtalk.oapi_base_url', 'ingress.http.max_body_bytes', 'ingress.http.path', 'ingress.stream.silence_timeout_ms', 'nope.nothing'],
    env,
  );
  assert.deepEqual(v, {
    name: 'bot',
    version: '1.0',
    library: 'lib/libopenclaw_dingtalk.so',
    'dingtalk.app_key': 'abc',
    'dingtalk.app_secret': 'pa"ss: #word\'',
    'dingtalk.robot_code': 'pa"ss: #word\'',
    'dingtalk.api_base_url': 'x-abc-y',
    'dingtalk.card_template_id': 'dflt',
    'dingtalk.card_content_key': 'd2',
    'dingtalk.oapi_base_url': '${KEY}',
    'ingress.http.max_body_bytes': '250',
    'ingress.http.path': '/cb',
    'ingress.stream.silence_timeout_ms': undefined,
    'nope.nothing': undefined,
  });
});

test('a missing variable names the key and line, not the value', () => {
  assert.throws(
    () => readScalar(DOC, 'gateway.auth_token', env),
    (e) => e instanceof ManifestReadError && e.line === 7 && /gateway\.auth_token \(line 7\): environment variable MISSING is not set/.test(e.message),
  );
  // other keys are unaffected
  assert.equal(readScalar(DOC, 'gateway.endpoint', env), 'http://127.0.0.1:18790');
});

test('escapes in double quotes, doubled quotes in single quotes', () => {
  const doc = 'a: "x\\ty\\"z\\\\ \\u00e9 #nc" # c\nb: \'it\'\'s # not a comment\'\nc: "\\x41"\n';
  assert.equal(readScalar(doc, 'a', {}), 'x\ty"z\\ é #nc');
  assert.equal(readScalar(doc, 'b', {}), "it's # not a comment");
  assert.equal(readScalar(doc, 'c', {}), 'A');
});

test('unsupported forms and malformed references are refused with key and line', () => {
  const bad = [
    ['k: |\n  text\n', /one-line/],
    ['k: [a, b]\n', /one-line/],
    ['k: "open\n', /closing quote/],
    ['k: "a" b\n', /after the closing quote/],
    ['k: ${1X}\n', /not a valid variable reference/],
    ['k: ${KEY\n', /closing/],
    ['k: "\\q"\n', /unsupported escape/],
  ];
  for (const [doc, re] of bad) {
    assert.throws(() => readScalar(doc, 'k', env), (e) => e instanceof ManifestReadError && e.line === 1 && re.test(e.message), doc);
  }
});

test('null-like and empty values read as absent', () => {
  for (const v of ['', '~', 'null', '# only a comment']) assert.equal(readScalar(`k: ${v}\n`, 'k', {}), undefined, v);
  assert.equal(readScalar('k: ""\n', 'k', {}), '');
  assert.equal(readScalar('k: ${NOPE:-}\n', 'k', {}), '', 'the Rust loader writes an empty substitution as ""');
});

test('CRLF line endings and list items', () => {
  const doc = 'a:\r\n  b: one\r\nl:\r\n  - name: first\r\n    value: v1\r\n';
  assert.equal(readScalar(doc, 'a.b', {}), 'one');
  assert.equal(readScalar(doc, 'l.name', {}), 'first');
  assert.equal(readScalar(doc, 'l.value', {}), 'v1');
});

test('ingress.http limits: the skill library defaults, the manifest values, whole numbers only', () => {
  assert.deepEqual(INGRESS_HTTP_DEFAULTS, { max_body_bytes: 1048576, signature_window_secs: 3600, read_timeout_ms: 10000, max_connections: 256 });
  assert.deepEqual(readIngressHttp('name: x\n', {}), { maxBodyBytes: 1048576, signatureWindowSecs: 3600, readTimeoutMs: 10000, maxConnections: 256 });
  const doc = 'ingress:\n  http:\n    max_body_bytes: ${NUM}\n    signature_window_secs: 300\n    read_timeout_ms: "1500"\n    max_connections: 8\n';
  assert.deepEqual(readIngressHttp(doc, env), { maxBodyBytes: 250, signatureWindowSecs: 300, readTimeoutMs: 1500, maxConnections: 8 });
  assert.throws(
    () => readIngressHttp('ingress:\n  http:\n    read_timeout_ms: 1.5s\n', {}),
    (e) => e instanceof ManifestReadError && e.message === 'openclaw-skill.yaml: ingress.http.read_timeout_ms (line 3): must be a whole number',
  );
});

test('what the tests\' manifest builder (test-manifest) writes reads back exactly', { skip: fs.existsSync(TEST_MANIFEST_BIN) ? false : `${TEST_MANIFEST_BIN} is missing` }, () => {
  const literal = 'pa"ss: #word\' ${KEY} $${X} \\ 中文';
  const text = testManifest({
    emulatorUrl: 'http://127.0.0.1:1',
    gatewayUrl: 'http://127.0.0.1:2',
    overlays: [{ library: 'lib/x.so', dingtalk: { robot_code: literal }, ingress: { http: { max_body_bytes: 250 }, stream: { silence_timeout_ms: 45000 } } }],
    raw: { 'dingtalk.app_secret': '"${NASTY}"' },
  });
  assert.deepEqual(readScalars(text, ['library', 'dingtalk.app_key', 'dingtalk.app_secret', 'dingtalk.robot_code', 'dingtalk.api_base_url', 'ingress.stream.silence_timeout_ms'], env), {
    library: 'lib/x.so',
    'dingtalk.app_key': APP_KEY,
    'dingtalk.app_secret': 'pa"ss: #word\'',
    'dingtalk.robot_code': literal,
    'dingtalk.api_base_url': 'http://127.0.0.1:1',
    'ingress.stream.silence_timeout_ms': '45000',
  });
  assert.deepEqual(readIngressHttp(text, env), { maxBodyBytes: 250, signatureWindowSecs: 3600, readTimeoutMs: 10000, maxConnections: 256 });
});
