// network.js: how the adapter's own HTTPS and WSS clients reach DingTalk from a company network
// (Stream mode only: the `connections/open` POST and the SDK's WebSocket; everything else is
// done by the .so, which reads network.ca_file itself).
//
// - Extra CAs: the manifest's `network.ca_file` (host_settings gives it resolved: an absolute
//   path or null) is a PEM bundle trusted IN ADDITION to Node's default roots
//   (tls.getCACertificates('default'): the bundled Mozilla roots, plus NODE_EXTRA_CA_CERTS, plus
//   the system store under --use-system-ca). A TLS-inspecting proxy's CA goes there.
// - Proxies: neither Node's fetch (unless NODE_USE_ENV_PROXY=1) nor the `ws` package the SDK
//   uses reads HTTPS_PROXY. The adapter's agents do: Node's built-in proxy support
//   (http.Agent `proxyEnv`, Node >= 24.5) with HTTPS_PROXY / https_proxy for https: and wss:,
//   HTTP_PROXY / http_proxy for http: and ws:, and NO_PROXY / no_proxy for exceptions. HTTPS
//   goes through the proxy as a CONNECT tunnel; TLS is end to end (or with the proxy's CA,
//   when it inspects).
// - Without a CA file and without proxy variables nothing changes: no agent is set, so the
//   requests use Node's defaults exactly as before.
// - Errors are explained for operators: an untrusted certificate names the host and what to
//   do (network.ca_file or NODE_EXTRA_CA_CERTS).

import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';

/** OpenSSL verify codes meaning "no trusted root for this chain". */
export const UNTRUSTED_CERT_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
]);

const PROXY_VARS = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy'];

/** The proxy variables of `env` (only those), or null when no proxy is configured. */
export function proxyEnvOf(env) {
  const out = {};
  for (const k of PROXY_VARS) if (typeof env[k] === 'string' && env[k] !== '') out[k] = env[k];
  const any = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy'].some((k) => out[k]);
  return any ? out : null;
}

/** A proxy URL without its credentials (for log lines). */
export function redactUrl(u) {
  try {
    const url = new URL(u);
    if (url.username || url.password) {
      url.username = '***';
      url.password = '';
    }
    return url.href.replace(/\/$/, '');
  } catch {
    return '(not a URL)';
  }
}

function pemCount(text) {
  return (text.match(/-----BEGIN CERTIFICATE-----/g) ?? []).length;
}

function defaultRoots() {
  return typeof tls.getCACertificates === 'function' ? tls.getCACertificates('default') : [...tls.rootCertificates];
}

/**
 * The network setup of the adapter's own clients. `caFile`: absolute path or null
 * (host_settings' network.ca_file). `env`: where the proxy variables are read. Throws an Error
 * naming the file when it cannot be read or holds no certificate.
 */
export function createNetwork({ caFile = null, env = process.env, readFile = fs.readFileSync } = {}) {
  let extra = null;
  let certificates = 0;
  if (caFile) {
    try {
      extra = readFile(caFile, 'utf8');
    } catch (e) {
      throw new Error(`network.ca_file ${caFile} cannot be read (${e.code ?? e.message})`);
    }
    certificates = pemCount(extra);
    if (certificates === 0) throw new Error(`network.ca_file ${caFile} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  }
  const proxyEnv = proxyEnvOf(env);
  const ca = extra ? [...defaultRoots(), extra] : null;
  const httpsAgent = ca || proxyEnv ? new https.Agent({ ...(ca ? { ca } : {}), ...(proxyEnv ? { proxyEnv } : {}) }) : undefined;
  const httpAgent = proxyEnv ? new http.Agent({ proxyEnv }) : undefined;
  const httpsProxy = proxyEnv ? (proxyEnv.HTTPS_PROXY ?? proxyEnv.https_proxy ?? null) : null;
  const httpProxy = proxyEnv ? (proxyEnv.HTTP_PROXY ?? proxyEnv.http_proxy ?? null) : null;
  const noProxy = proxyEnv ? (proxyEnv.NO_PROXY ?? proxyEnv.no_proxy ?? null) : null;

  const secure = (url) => /^(https|wss):$/.test(new URL(url).protocol);

  const network = {
    caFile: caFile ?? null,
    certificates,
    proxy: { https: httpsProxy, http: httpProxy, noProxy },

    /** The agent for a request to `url` (http:, https:, ws:, wss:), or undefined for Node's default. */
    agentFor(url) {
      return secure(url) ? httpsAgent : httpAgent;
    },

    /** One line for the log, or null when nothing differs from Node's defaults. */
    describe() {
      const parts = [];
      if (caFile) parts.push(`trusting ${certificates} extra CA certificate(s) from network.ca_file ${caFile} in addition to Node's default roots`);
      if (httpsProxy) parts.push(`HTTPS/WSS through proxy ${redactUrl(httpsProxy)}`);
      if (httpProxy) parts.push(`HTTP/WS through proxy ${redactUrl(httpProxy)}`);
      if (proxyEnv && noProxy) parts.push(`NO_PROXY ${noProxy}`);
      return parts.length ? parts.join('; ') : null;
    },

    /** What went wrong connecting to `url`, for an operator. */
    explain(err, url) {
      let host = '?';
      try {
        host = new URL(url).host;
      } catch {
        /* keep ? */
      }
      const code = err?.code ?? err?.cause?.code;
      const via = secure(url) ? httpsProxy : httpProxy;
      const viaText = via ? ` (via proxy ${redactUrl(via)})` : '';
      if (UNTRUSTED_CERT_CODES.has(code)) {
        const hint = caFile
          ? `network.ca_file ${caFile} is in use but holds no CA that issued it: add the right CA (your company's root, or the TLS-inspecting proxy's) to it, or to NODE_EXTRA_CA_CERTS`
          : "add your company's CA with network.ca_file in the manifest, or NODE_EXTRA_CA_CERTS";
        return `the certificate of ${host} is not trusted (${code})${viaText}: ${hint}`;
      }
      if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
        return `the certificate of ${host} is ${code === 'CERT_HAS_EXPIRED' ? 'expired' : 'not yet valid'} (${code})${viaText}: check this host's clock`;
      }
      if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `the certificate presented for ${host} is not issued for that name (${code})${viaText}: ${err.reason ?? err.message}`;
      if (code === 'ECONNREFUSED') return `connection refused by ${err.address ? `${err.address}:${err.port}` : host} (ECONNREFUSED)${via ? `; is the proxy ${redactUrl(via)} running?` : ''}`;
      if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `cannot resolve ${err.hostname ?? host} (DNS, ${code})${viaText}`;
      if (code === 'ERR_PROXY_TUNNEL') return `the proxy refused the tunnel to ${host}: ${err.message}`;
      if (code === 'ETIMEDOUT' || code === 'OCDT_TIMEOUT') return `no answer from ${host} in time (${err.message})${viaText}`;
      return `${err?.message ?? String(err)}${code && !String(err?.message).includes(code) ? ` (${code})` : ''}${viaText}`;
    },

    /**
     * POSTs `body` (a Buffer) to `url` with this network's agent. Resolves {status, text} (the
     * body, at most 64 KiB); rejects with an Error whose message is explain()'s and whose
     * `code` is the original one.
     */
    post(url, body, { headers = {}, timeoutMs = 15_000 } = {}) {
      return new Promise((resolve, reject) => {
        const mod = new URL(url).protocol === 'https:' ? https : http;
        let settled = false;
        const fail = (e) => {
          if (settled) return;
          settled = true;
          const err = new Error(network.explain(e, url));
          err.code = e.code;
          err.cause = e;
          reject(err);
        };
        const req = mod.request(url, { method: 'POST', agent: network.agentFor(url), headers: { ...headers, 'Content-Length': body.length }, timeout: timeoutMs }, (res) => {
          const chunks = [];
          let size = 0;
          res.on('data', (d) => {
            if (size < 65_536) chunks.push(d);
            size += d.length;
          });
          res.on('end', () => {
            if (settled) return;
            settled = true;
            resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString('utf8').slice(0, 65_536) });
          });
          res.on('error', fail);
        });
        req.on('timeout', () => {
          const e = new Error(`no answer within ${timeoutMs} ms`);
          e.code = 'OCDT_TIMEOUT';
          req.destroy(e);
        });
        req.on('error', fail);
        req.end(body);
      });
    },
  };
  return network;
}
