// stream-ingress.js: DingTalk Stream mode through the official Node SDK (npm `dingtalk-stream`;
// docs/dingtalk-events.md, "Stream mode"). For each robot message (CALLBACK topic
// /v1.0/im/bot/messages/get) and each card callback (/v1.0/card/instances/callback, a press of
// a card's stop button) the frame is ACKed first, then its `data` (the raw event JSON) goes
// to the .so, which dedups.
//
// Additions around the SDK (2.1.5), transport only:
// - the connection is opened the skill library's way: `getEndpoint` POSTs the body that
//   stream_open_request gives (the app's credentials and the skill's subscriptions) to the
//   open URL of host_settings (`<dingtalk.api_base_url>/v1.0/gateway/connections/open`), on every
//   (re)connect. That body holds the app secret: it stays a Buffer, is zeroed once sent and is
//   never logged. The SDK itself only gets the app key and a placeholder secret (it refuses an
//   empty one; its access-token call is never used);
// - a silence watchdog (ingress.stream.silence_timeout_ms, DingTalk pings every ~20-30 s)
//   replaces a dead connection with a fresh one (new ticket), because the SDK's own
//   terminate() path does not always reconnect; on the SYSTEM `disconnect` topic the new
//   connection is opened first and the old one closed once it is up (as the Rust host does);
//   the SDK's own reconnect (autoReconnect, after a close or a failed open) stays on;
// - company networks (network.js): the open POST and the WebSocket use agents that trust the
//   manifest's network.ca_file in addition to Node's roots and honour HTTPS_PROXY / NO_PROXY;
//   a failed open or WebSocket is logged with its cause explained (an untrusted certificate
//   names the host and network.ca_file / NODE_EXTRA_CA_CERTS);
// - log lines of its own: `dingtalk stream: connected (app KEY, …)` when the first connection
//   is up, `… reconnected after N ms` after the SDK's reconnect, `… replaced connection #N …`
//   after a replacement, `… connection #N closed …` when DingTalk or the network closed it
//   (the SDK itself only prints a bare `connect success`);
// - several DingTalk apps (host_settings' `apps`): one connection per app, each opened with
//   that app's body (stream_open_request_app) at that app's open URL, each with its own
//   reconnects, watchdog and warnings, so one app's refused credentials or reconnect loop
//   never stop or delay another; their lines start `dingtalk stream app NAME (KEY): …`. One
//   app logs exactly as above.
// While stopping, robot messages are left un-ACKed (DingTalk redelivers them).

import { createNetwork } from './network.js';

export const TOPIC_ROBOT = '/v1.0/im/bot/messages/get';
// Card callbacks (a user pressed a card's stop button): ACKed and handed over the same way;
// the .so tells them apart by their `"type": "actionCallback"`.
export const TOPIC_CARD = '/v1.0/card/instances/callback';
/** DingTalk closes a connection about 10 s after its `disconnect` frame. */
const WARM_OVERLAP_MS = 10_000;
/** What the SDK gets as clientSecret: the real one stays inside the skill library. */
const SECRET_PLACEHOLDER = 'held-by-the-skill-library';
/** At most one warning a minute about failing connections/open calls. */
const OPEN_WARN_PERIOD_MS = 60_000;

/** Loads the SDK lazily: HTTP-mode users need not install it. */
export async function loadStreamSdk(importer = (name) => import(name)) {
  try {
    return await importer('dingtalk-stream');
  } catch (e) {
    const err = new Error(
      `ingress.mode is "stream" but the npm package dingtalk-stream is not installed next to the plugin (${e.code ?? e.message}); run \`npm install --omit=dev --omit=peer\` in the plugin directory`,
    );
    err.cause = e;
    throw err;
  }
}

/** What a failed connections/open answered ({status, text}), without echoing anything sent. */
function openFailure(res) {
  let detail = '';
  try {
    const data = JSON.parse(res.text);
    detail = [data?.code, data?.message].filter(Boolean).join(': ');
  } catch {
    /* not JSON */
  }
  return `connections/open answered HTTP ${res.status}${detail ? ` (${String(detail).slice(0, 200)})` : ''}`;
}

/** scheme://host[:port]/path of a URL, without its query (the ticket). */
function endpointOf(url) {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(not a URL)';
  }
}

/**
 * Builds the DWClient subclass for one SDK module. `open` is {url, body: () => Buffer,
 * network, failed(error, what), up(client), down(client, code, reason)}: where to POST, the
 * fresh open body of the skill library for each attempt, the network setup (network.js), who
 * hears of a failed attempt (the SDK retries silently), of a connection that is up and of one
 * that closed.
 */
export function clientClass(sdk) {
  return class AdapterClient extends sdk.DWClient {
    constructor(opts, open) {
      super({ ...opts, clientSecret: SECRET_PLACEHOLDER });
      this.open = open;
      this.retired = false;
      this.lastSeen = Date.now();
    }

    get network() {
      return this.open.network ?? (this.open.network = createNetwork());
    }

    async getEndpoint() {
      try {
        const body = this.open.body();
        let res;
        try {
          // node:https with the network's agent (extra CAs, proxy), not fetch: fetch takes
          // neither an https.Agent nor HTTPS_PROXY.
          res = await this.network.post(this.open.url, body, {
            headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
            timeoutMs: 15_000,
          });
        } finally {
          body.fill(0); // it holds the app secret (sent by now: post resolves on the answer)
        }
        if (res.status < 200 || res.status > 299) throw new Error(openFailure(res));
        let data;
        try {
          data = JSON.parse(res.text);
        } catch {
          throw new Error(`connections/open answered HTTP ${res.status} without JSON`);
        }
        if (!data?.endpoint || !data?.ticket) throw new Error('connections/open answered without endpoint or ticket');
        this.config.endpoint = data;
        // The SDK's _connect() reads these fields: the URL, and the ws options (its default
        // rejectUnauthorized, plus the network's agent when there is one).
        this.dw_url = `${data.endpoint}?ticket=${encodeURIComponent(data.ticket)}`;
        const agent = this.network.agentFor(this.dw_url);
        this.sslopts = { rejectUnauthorized: true, ...(agent ? { agent } : {}) };
        return this;
      } catch (e) {
        if (!this.retired) this.open.failed?.(e, 'open');
        throw e;
      }
    }

    async _connect() {
      try {
        await super._connect();
      } catch (e) {
        if (!this.retired) {
          const err = new Error(`the WebSocket to ${endpointOf(this.dw_url)} failed: ${this.network.explain(e, this.dw_url)}`);
          err.code = e?.code;
          this.open.failed?.(err, 'socket');
        }
        throw e;
      }
      if (this.retired) return;
      const socket = this.socket;
      socket?.once?.('close', (code, reason) => {
        if (!this.retired) this.open.down?.(this, code, String(reason ?? ''));
      });
      this.open.up?.(this);
    }

    connect() {
      return this.retired ? Promise.resolve() : super.connect();
    }

    onDownStream(data) {
      if (this.retired) return;
      this.lastSeen = Date.now();
      super.onDownStream(data);
    }

    onSystem(downstream) {
      super.onSystem(downstream);
      if (downstream?.headers?.topic === 'disconnect') this.emit('adapter:disconnect', downstream.data);
    }

    retire() {
      this.retired = true;
      try {
        this.disconnect();
      } catch {
        /* already closed */
      }
      try {
        this.socket?.terminate();
      } catch {
        /* already gone */
      }
    }
  };
}

/** The start of an app's log lines: `dingtalk stream` for the one app of a manifest, `dingtalk
 *  stream app NAME (KEY)` when `app` ({name, appKey}) is one of several. */
export function streamLabel(app) {
  return app ? `dingtalk stream app ${app.name} (${app.appKey})` : 'dingtalk stream';
}

/**
 * Starts Stream mode for one app. `openUrl` and `openBody()` (a fresh Buffer per call) come
 * from the skill library (host_settings, stream_open_request_app); `clientId` is the app key
 * (for the SDK's config). `app` ({name, appKey}) is set when the app is one of several: its
 * lines then name it (streamLabel). `deliver(dataJsonText)` hands one robot message to the .so.
 * Returns {stop(), state()}.
 */
export function startStreamIngress({ sdk, clientId, openUrl, openBody, app = null, silenceTimeoutMs = 90_000, logger, deliver, keepAlive = false, now = Date.now, network = createNetwork() }) {
  const Client = clientClass(sdk);
  const label = streamLabel(app);
  const ofApp = app ? ` (app ${app.name})` : '';
  let client = null;
  let stopped = false;
  let generation = 0;
  let everUp = false;
  let lostAt = null; // when the serving connection was closed by DingTalk or the network
  const counts = { frames: 0, acked: 0, replaced: 0, openFailures: 0, connects: 0, reconnects: 0 };
  const live = new Set(); // connections not yet retired (two during a warm replacement)
  const retire = (c) => {
    live.delete(c);
    c.retire();
  };
  let lastOpenWarning = -Infinity;
  let unwarned = 0;
  const open = {
    url: openUrl,
    body: openBody,
    network,
    failed(e, what) {
      counts.openFailures++;
      if (stopped) return;
      const at = now();
      if (at - lastOpenWarning < OPEN_WARN_PERIOD_MS) {
        unwarned++;
        return;
      }
      const text = what === 'socket' ? e.message : `opening a connection via ${openUrl} failed: ${e.message}`;
      logger.warn(`${label}: ${text}; the SDK retries${unwarned ? ` (${unwarned} more failures since the last line)` : ''}`);
      lastOpenWarning = at;
      unwarned = 0;
    },
    up(c) {
      counts.connects++;
      if (stopped || c.retired) return;
      // With several apps the label names the app already.
      const where = `${app ? '' : `app ${clientId}, `}${endpointOf(c.dw_url)}, connection #${c.generation}`;
      if (c.replacing) {
        const { reason, at, previous } = c.replacing;
        c.replacing = null;
        logger.info(`${label}: replaced connection #${previous} after ${now() - at} ms (${reason}); connected (${where})`);
      } else if (!everUp) {
        logger.info(`${label}: connected (${where})`);
      } else {
        counts.reconnects++;
        logger.info(`${label}: reconnected after ${lostAt === null ? '?' : now() - lostAt} ms (${where})`);
      }
      everUp = true;
      lostAt = null;
    },
    down(c, code, reason) {
      if (stopped || c.retired || c !== client) return;
      lostAt = now();
      logger.warn(`${label}: connection #${c.generation} closed (code ${code}${reason ? `, ${reason.slice(0, 200)}` : ''}); the SDK reconnects`);
    },
  };

  const onRobotMessage = (c) => (frame) => {
    // Both connections serve during a warm replacement; the .so dedups on msgId.
    if (c.retired || stopped) return;
    const messageId = frame?.headers?.messageId;
    // ACK first (before any work), so DingTalk does not redeliver.
    if (messageId) {
      try {
        c.socketCallBackResponse(messageId, { success: true });
        counts.acked++;
      } catch (e) {
        logger.warn(`Stream ACK for ${messageId}${ofApp} failed: ${e.message}`);
      }
    }
    counts.frames++;
    if (typeof frame?.data !== 'string' || frame.data === '') {
      logger.warn(`Stream frame ${messageId ?? '?'}${ofApp} without data ignored`);
      return;
    }
    Promise.resolve()
      .then(() => deliver(frame.data))
      .catch((e) => logger.error(`handing a Stream message${ofApp} to the skill failed: ${e.message}`));
  };

  /** Opens a new connection; the previous one is retired at once, or (warm) once the new one
   *  is connected, at the latest after WARM_OVERLAP_MS. */
  const connect = (reason, warm = false) => {
    if (stopped) return;
    const previous = client;
    const c = new Client({ clientId, keepAlive, ua: 'openclaw-dingtalk' }, open);
    c.registerCallbackListener(TOPIC_ROBOT, onRobotMessage(c));
    c.registerCallbackListener(TOPIC_CARD, onRobotMessage(c));
    c.on('adapter:disconnect', () => {
      if (c === client) replace('DingTalk announced a disconnect', true);
    });
    client = c;
    live.add(c);
    generation++;
    c.generation = generation;
    if (previous) c.replacing = { reason, at: now(), previous: previous.generation };
    logger.info(`${label}: connecting (${reason}) via ${openUrl}`);
    const connected = c.connect();
    if (!previous) return;
    if (!warm) {
      retire(previous);
      return;
    }
    const timer = setTimeout(() => retire(previous), WARM_OVERLAP_MS);
    timer.unref?.();
    Promise.resolve(connected).then(() => {
      if (c.connected) {
        clearTimeout(timer);
        retire(previous);
      }
    });
  };

  const replace = (reason, warm = false) => {
    if (stopped) return;
    counts.replaced++;
    logger.warn(`${label}: replacing connection #${client?.generation ?? '?'}: ${reason}`);
    connect(reason, warm);
  };

  const watchdog = setInterval(
    () => {
      if (!client || stopped) return;
      const silent = Date.now() - client.lastSeen;
      if (silent > silenceTimeoutMs) replace(`no traffic for ${Math.round(silent / 1000)} s`);
    },
    Math.max(50, Math.min(10_000, Math.floor(silenceTimeoutMs / 3))),
  );
  watchdog.unref?.();

  connect('start');
  return {
    stop() {
      stopped = true;
      clearInterval(watchdog);
      for (const c of [...live]) retire(c); // the current one and any still overlapping
    },
    state() {
      return { connected: Boolean(client?.connected), generation, ...counts };
    },
  };
}

/**
 * The Stream apps of a host_settings document, in order: {name, appKey, openUrl} per entry of
 * its `apps`. A document without `apps` (a plugin from before several apps) is one app with
 * no name (its body is stream_open_request's), its app_key at ingress.stream.open_url.
 */
export function streamApps(settings) {
  if (!Array.isArray(settings.apps) || settings.apps.length === 0) {
    return [{ name: null, appKey: settings.app_key, openUrl: settings.ingress.stream.open_url }];
  }
  return settings.apps.map((a) => ({ name: a.name, appKey: a.app_key, openUrl: a.open_url }));
}

/** Where the Stream apps connect, for the adapter's start lines: `via URL` for one app, `for N
 *  apps: NAME (KEY) via URL, …` for several. */
export function describeStreamApps(apps) {
  if (apps.length === 1) return `via ${apps[0].openUrl}`;
  return `for ${apps.length} apps: ${apps.map((a) => `${a.name} (${a.appKey}) via ${a.openUrl}`).join(', ')}`;
}

/** The counters of state() that add up over the apps. */
const SUMMED = ['frames', 'acked', 'replaced', 'openFailures', 'connects', 'reconnects'];

/**
 * Starts Stream mode for every app of `apps` (streamApps): one `start` (startStreamIngress, a
 * stand-in in tests) per app, with that app's open URL and `openBody(name)` (a fresh Buffer per
 * call, from stream_open_request_app); the other options go to each as they are. One app is
 * started exactly as before and its {stop(), state()} returned. With several, each connection
 * runs on its own (its own reconnects, watchdog and warnings; an app whose start throws is
 * logged and left out, unless every app's does); stop() stops them all and state() gives
 * {connected (every app's), the summed counters, apps: [{name, app_key, …its state}]}.
 */
export function startStreamApps({ apps, openBody, start = startStreamIngress, logger, ...common }) {
  const options = (app, several) => ({
    ...common,
    logger,
    clientId: app.appKey,
    openUrl: app.openUrl,
    openBody: () => openBody(app.name),
    app: several ? { name: app.name, appKey: app.appKey } : null,
  });
  if (apps.length === 1) return start(options(apps[0], false));
  const running = [];
  let firstError = null;
  for (const app of apps) {
    try {
      running.push({ app, ingress: start(options(app, true)) });
    } catch (e) {
      firstError ??= e;
      logger.error(`${streamLabel(app)}: not started: ${e.message}`);
    }
  }
  if (running.length === 0) throw firstError;
  return {
    stop() {
      for (const { ingress } of running) ingress.stop();
    },
    state() {
      const each = running.map(({ app, ingress }) => ({ name: app.name, app_key: app.appKey, ...ingress.state() }));
      const totals = Object.fromEntries(SUMMED.map((k) => [k, each.reduce((n, s) => n + (s[k] ?? 0), 0)]));
      return { connected: running.length === apps.length && each.every((s) => s.connected), ...totals, apps: each };
    },
  };
}
