// manifest.js: reads the few openclaw-skill.yaml values the adapter needs to route events
// (the library path, dingtalk.app_secret for callback signatures and the Stream SDK, the HTTP
// body cap) that check_manifest's summary does not carry. Everything else, and the validation
// of the whole file, comes from the .so (check_manifest).
//
// It is NOT a YAML parser: it finds one-line scalars of block mappings by their dotted key,
// with the same key/line rules (skill/abi/src/manifest_text.rs key_path_at_line) and the same
// ${VAR} / ${VAR:-default} / $${ interpolation as the Rust loader. Block scalars, flow
// collections and multi-line values are refused with a message naming the key and line.

/** A manifest problem naming the key and line, never the value. */
export class ManifestReadError extends Error {
  constructor(key, line, message) {
    super(`openclaw-skill.yaml: ${key}${line ? ` (line ${line})` : ''}: ${message}`);
    this.name = 'ManifestReadError';
    this.key = key;
    this.line = line;
  }
}

/** Indentation, key and the text after `key:` of a block-mapping line, or null. */
function keyOf(line) {
  const trimmed = line.trimStart();
  if (!trimmed || trimmed.startsWith('#')) return null;
  let indent = line.length - trimmed.length;
  let body = trimmed;
  while (body.startsWith('- ')) {
    indent += 2;
    body = body.slice(2).trimStart();
  }
  const colon = body.indexOf(':');
  if (colon < 0) return null;
  const rest = body.slice(colon + 1);
  if (!(rest === '' || /^\s/.test(rest))) return null;
  const key = body
    .slice(0, colon)
    .trim()
    .replace(/^["']+|["']+$/g, '');
  if (!key || (/\s/.test(key) && !/^["']/.test(body))) return null;
  return { indent, key, rest };
}

/** Every `dotted.key -> {line, rest}` of a block-style YAML document (first occurrence wins). */
export function indexKeys(text) {
  const out = new Map();
  const stack = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    const k = keyOf(line);
    if (!k) return;
    while (stack.length && stack[stack.length - 1].indent >= k.indent) stack.pop();
    stack.push(k);
    const path = stack.map((s) => s.key).join('.');
    if (!out.has(path)) out.set(path, { line: i + 1, rest: k.rest });
  });
  return out;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Resolves the inside of `${...}` like the Rust loader. */
function resolveVar(expr, env, fail) {
  const cut = expr.indexOf(':-');
  const name = cut < 0 ? expr : expr.slice(0, cut);
  const dflt = cut < 0 ? undefined : expr.slice(cut + 2);
  if (!NAME.test(name)) fail(`\`\${${expr}}\` is not a valid variable reference (use \${NAME} or \${NAME:-default})`);
  const value = env[name];
  if (value !== undefined && !(value === '' && dflt !== undefined)) return value;
  if (dflt !== undefined) return dflt;
  return fail(`environment variable ${name} is not set`);
}

/** Replaces `${VAR}` / `$${` in a piece of literal text. */
function interpolate(text, env, fail) {
  let out = '';
  for (let i = 0; i < text.length; ) {
    if (text.startsWith('$${', i)) {
      out += '${';
      i += 3;
    } else if (text.startsWith('${', i)) {
      const close = text.indexOf('}', i);
      if (close < 0) fail('`${` without a closing `}`');
      out += resolveVar(text.slice(i + 2, close), env, fail);
      i = close + 1;
    } else {
      out += text[i++];
    }
  }
  return out;
}

const ESCAPES = { 0: '\0', a: '\x07', b: '\b', t: '\t', '\t': '\t', n: '\n', v: '\v', f: '\f', r: '\r', e: '\x1b', ' ': ' ', '"': '"', '/': '/', '\\': '\\', N: '\x85', _: '\xa0', L: '\u2028', P: '\u2029' };
const HEX = { x: 2, u: 4, U: 8 };

/** The content of a double-quoted scalar (after the opening quote) and what follows it. */
function doubleQuoted(s, env, fail) {
  let out = '';
  let literal = '';
  const flush = () => {
    out += interpolate(literal, env, fail);
    literal = '';
  };
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '"') {
      flush();
      return { value: out, after: s.slice(i + 1) };
    }
    if (c !== '\\') {
      literal += c;
      continue;
    }
    flush();
    const e = s[++i];
    if (e in HEX) {
      const hex = s.slice(i + 1, i + 1 + HEX[e]);
      if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== HEX[e]) fail(`bad escape \\${e}${hex}`);
      out += String.fromCodePoint(parseInt(hex, 16));
      i += HEX[e];
    } else if (e in ESCAPES) {
      out += ESCAPES[e];
    } else {
      fail(`unsupported escape \\${e ?? ''} in a double-quoted value`);
    }
  }
  return fail('double-quoted value without its closing quote (multi-line values are not supported here)');
}

/** The content of a single-quoted scalar and what follows it. */
function singleQuoted(s, env, fail) {
  let literal = '';
  for (let i = 0; i < s.length; i++) {
    if (s[i] !== "'") {
      literal += s[i];
    } else if (s[i + 1] === "'") {
      literal += "'";
      i++;
    } else {
      return { value: interpolate(literal, env, fail), after: s.slice(i + 1) };
    }
  }
  return fail('single-quoted value without its closing quote (multi-line values are not supported here)');
}

/** A plain scalar: up to a ` #` comment, trimmed. */
function plain(s) {
  const m = /(^|\s)#/.exec(s);
  return (m ? s.slice(0, m.index) : s).trim();
}

/**
 * The string value of `key` (dotted path), or undefined when the key is absent, empty or null.
 * `env` is the variable lookup (process.env). Throws ManifestReadError for a missing variable
 * or an unsupported form.
 */
export function readScalar(text, key, env = process.env, index = indexKeys(text)) {
  const entry = index.get(key);
  if (!entry) return undefined;
  const fail = (message) => {
    throw new ManifestReadError(key, entry.line, message);
  };
  const rest = entry.rest.trim();
  if (rest === '' || rest.startsWith('#')) return undefined;
  if (rest.startsWith('"') || rest.startsWith("'")) {
    const { value, after } = (rest[0] === '"' ? doubleQuoted : singleQuoted)(rest.slice(1), env, fail);
    if (after.trim() !== '' && !/^\s+#/.test(after)) fail('unexpected text after the closing quote');
    return value;
  }
  if (/^[|>[{&*!]/.test(rest)) fail('only one-line scalar values are supported for this key');
  const literal = plain(rest);
  const value = interpolate(literal, env, fail);
  // The Rust loader quotes an empty substituted value (""), so it reads as an empty string.
  if (value === '' && literal.includes('${')) return '';
  if (value === '' || value === '~' || value === 'null' || value === 'Null' || value === 'NULL') return undefined;
  return value;
}

/** Reads several keys at once: {key: value|undefined}. */
export function readScalars(text, keys, env = process.env) {
  const index = indexKeys(text);
  return Object.fromEntries(keys.map((k) => [k, readScalar(text, k, env, index)]));
}

/** The ingress.http limits the adapter enforces itself, with the skill library's defaults. */
export const INGRESS_HTTP_DEFAULTS = Object.freeze({
  max_body_bytes: 1024 * 1024,
  signature_window_secs: 3600,
  read_timeout_ms: 10_000,
  max_connections: 256,
});

/**
 * The ingress.http limits: {maxBodyBytes, signatureWindowSecs, readTimeoutMs, maxConnections},
 * each the manifest's whole number or its default. Throws ManifestReadError (key and line) for
 * a value that is not a whole number. (The .so's check_manifest validates the ranges.)
 */
export function readIngressHttp(text, env = process.env, index = indexKeys(text)) {
  const whole = (name) => {
    const key = `ingress.http.${name}`;
    const value = readScalar(text, key, env, index);
    if (value === undefined) return INGRESS_HTTP_DEFAULTS[name];
    if (!/^\d+$/.test(value)) throw new ManifestReadError(key, index.get(key)?.line, 'must be a whole number');
    return Number(value);
  };
  return {
    maxBodyBytes: whole('max_body_bytes'),
    signatureWindowSecs: whole('signature_window_secs'),
    readTimeoutMs: whole('read_timeout_ms'),
    maxConnections: whole('max_connections'),
  };
}
