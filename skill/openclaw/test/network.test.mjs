// The adapter's own HTTPS clients in a company network (src/network.js): a TLS stand-in whose
// certificate chains to a private root CA made in the test (root → inspection CA → server, as a
// TLS-inspecting proxy presents it) is refused without network.ca_file, with a log-ready reason
// that names the host and the fix, and accepted with it; Node's default roots stay trusted
// besides; HTTPS_PROXY tunnels through a CONNECT proxy and NO_PROXY bypasses it.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import test from 'node:test';
import tls from 'node:tls';

import { UNTRUSTED_CERT_CODES, createNetwork, proxyEnvOf, redactUrl } from '../src/network.js';
import { companyPki, connectProxy, tempDir } from './helpers.mjs';

async function tlsStandIn(pki) {
  const seen = [];
  const server = https.createServer({ key: pki.key, cert: pki.cert }, (req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, body });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: server.address().port,
    seen,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

test('an untrusted company certificate is refused with the host and the fix; network.ca_file makes it trusted', { timeout: 30_000 }, async (t) => {
  const pki = companyPki();
  const srv = await tlsStandIn(pki);
  t.after(() => srv.close());
  const url = `https://localhost:${srv.port}/v1.0/gateway/connections/open`;

  const plain = createNetwork({ env: {} });
  assert.equal(plain.describe(), null, 'nothing configured: Node defaults, no line');
  assert.equal(plain.agentFor(url), undefined, 'no agent of its own');
  await assert.rejects(plain.post(url, Buffer.from('{}')), (e) => {
    assert.equal(e.code, 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY');
    assert.equal(e.message, `the certificate of localhost:${srv.port} is not trusted (UNABLE_TO_GET_ISSUER_CERT_LOCALLY): add your company's CA with network.ca_file in the manifest, or NODE_EXTRA_CA_CERTS`);
    return true;
  });
  assert.equal(srv.seen.length, 0);

  const withCa = createNetwork({ caFile: pki.rootPem, env: {} });
  assert.equal(withCa.certificates, 1);
  assert.match(withCa.describe(), /^trusting 1 extra CA certificate\(s\) from network\.ca_file .*root\.pem in addition to Node's default roots$/);
  const res = await withCa.post(url, Buffer.from('{"x":1}'), { headers: { 'Content-Type': 'application/json' } });
  assert.deepEqual(res, { status: 200, text: '{"ok":true}' });
  assert.deepEqual(srv.seen, [{ method: 'POST', url: '/v1.0/gateway/connections/open', body: '{"x":1}' }]);

  // in addition to, not instead of, Node's roots
  const agent = withCa.agentFor(url);
  assert.ok(agent.options.ca.length >= tls.getCACertificates('default').length + 1);
  for (const root of tls.getCACertificates('default').slice(0, 3)) assert.ok(agent.options.ca.includes(root));

  // a CA file that does not hold the issuer says so
  const other = companyPki();
  await assert.rejects(createNetwork({ caFile: other.rootPem, env: {} }).post(url, Buffer.from('{}')), /is not trusted \(UNABLE_TO_GET_ISSUER_CERT_LOCALLY\): network\.ca_file .*root\.pem is in use but holds no CA that issued it/);
});

test('a CA file that cannot be read or holds no certificate fails with its path', () => {
  const dir = tempDir('ocdt-ca-');
  assert.throws(() => createNetwork({ caFile: path.join(dir, 'missing.pem') }), /network\.ca_file .*missing\.pem cannot be read \(ENOENT\)/);
  fs.writeFileSync(path.join(dir, 'empty.pem'), 'not a certificate\n');
  assert.throws(() => createNetwork({ caFile: path.join(dir, 'empty.pem') }), /network\.ca_file .*empty\.pem holds no PEM certificate/);
});

test('HTTPS_PROXY tunnels through the proxy (TLS end to end, with the CA file); NO_PROXY bypasses it', { timeout: 30_000 }, async (t) => {
  const pki = companyPki();
  const srv = await tlsStandIn(pki);
  const proxy = await connectProxy();
  t.after(() => Promise.all([srv.close(), proxy.close()]));
  const url = `https://localhost:${srv.port}/open`;

  const viaProxy = createNetwork({ caFile: pki.rootPem, env: { HTTPS_PROXY: proxy.url.replace('http://', 'http://user:pw@') } });
  assert.match(viaProxy.describe(), /HTTPS\/WSS through proxy http:\/\/\*\*\*@127\.0\.0\.1:\d+/, 'proxy credentials are not logged');
  assert.equal((await viaProxy.post(url, Buffer.from('{}'))).status, 200);
  assert.deepEqual(proxy.tunnels, [`localhost:${srv.port}`]);

  const bypass = createNetwork({ caFile: pki.rootPem, env: { https_proxy: proxy.url, no_proxy: 'localhost' } });
  assert.equal((await bypass.post(url, Buffer.from('{}'))).status, 200);
  assert.equal(proxy.tunnels.length, 1, 'NO_PROXY: no second tunnel');

  // the proxy down: the reason names it
  const dead = createNetwork({ env: { HTTPS_PROXY: 'http://127.0.0.1:9' } });
  await assert.rejects(dead.post(url, Buffer.from('{}')), /connection refused by 127\.0\.0\.1:9 \(ECONNREFUSED\); is the proxy http:\/\/127\.0\.0\.1:9 running\?/);
});

test('explanations for the other certificate and network errors; helpers', () => {
  const n = createNetwork({ env: {} });
  const url = 'wss://wss-open-connection.dingtalk.com/connect?ticket=t';
  assert.match(n.explain({ code: 'SELF_SIGNED_CERT_IN_CHAIN', message: 'x' }, url), /^the certificate of wss-open-connection\.dingtalk\.com is not trusted \(SELF_SIGNED_CERT_IN_CHAIN\): add your company's CA/);
  assert.match(n.explain({ code: 'CERT_HAS_EXPIRED', message: 'x' }, url), /is expired \(CERT_HAS_EXPIRED\): check this host's clock/);
  assert.match(n.explain({ code: 'ENOTFOUND', hostname: 'api.dingtalk.com', message: 'x' }, url), /^cannot resolve api\.dingtalk\.com \(DNS, ENOTFOUND\)$/);
  assert.match(n.explain({ code: 'ERR_TLS_CERT_ALTNAME_INVALID', reason: "Host: x. is not in the cert's altnames", message: 'x' }, url), /is not issued for that name/);
  for (const code of ['UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'DEPTH_ZERO_SELF_SIGNED_CERT']) assert.ok(UNTRUSTED_CERT_CODES.has(code));
  assert.equal(proxyEnvOf({ NO_PROXY: 'x' }), null, 'NO_PROXY alone configures no proxy');
  assert.deepEqual(proxyEnvOf({ http_proxy: 'http://p:1', PATH: '/bin' }), { http_proxy: 'http://p:1' });
  assert.equal(redactUrl('http://u:p@proxy:3128/'), 'http://***@proxy:3128');
  assert.equal(redactUrl('http://proxy:3128'), 'http://proxy:3128');
});
