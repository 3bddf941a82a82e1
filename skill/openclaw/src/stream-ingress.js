// stream-ingress.js: DingTalk Stream mode through the official Node SDK (npm `dingtalk-stream`;
// docs/dingtalk-events.md, "Stream mode"). For each robot message (CALLBACK topic
// /v1.0/im/bot/messages/get) the frame is ACKed first, then its `data` (the raw event JSON) goes to the .so, which dedups.
//
// Additions around the SDK (2.1.5), transport only:
// - its open-connection URL is a constant; when the manifest's dingtalk.api_base_url is not
//   the public one (an emulator, a proxy) `getEndpoint` is overridden to POST
//   `<api_base_url>/v1.0/gateway/connections/open` instead (same request body as the SDK);
// - a silence watchdog (ingress.stream.silence_timeout_ms, DingTalk pings every ~20-30 s)
//   replaces a dead connection with a fresh one (new ticket), because the SDK's own
//   terminate() path does not always reconnect; on the SYSTEM `disconnect` topic the new
//   connection is opened first and the old one closed once it is up (as the Rust host does).
// While stopping, robot messages are left un-ACKed (DingTalk redelivers them).

export const DEFAULT_API_BASE = 'https://api.dingtalk.com';
export const TOPIC_ROBOT = '/v1.0/im/bot/messages/get';
const OPEN_PATH = '/v1.0/gateway/connections/open';
/** DingTalk closes a connection about 10 s after its `disconnect` frame. */
const WARM_OVERLAP_MS = 10_000;

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

/** The connection-open URL for an api base (null: let the SDK use its built-in one). */
export function openConnectionUrl(apiBaseUrl) {
  const base = String(apiBaseUrl ?? '').replace(/\/+$/, '');
  if (!base || base === DEFAULT_API_BASE) return null;
  return `${base}${OPEN_PATH}`;
}

/** Builds the DWClient subclass for one SDK module. */
export function clientClass(sdk) {
  return class AdapterClient extends sdk.DWClient {
    constructor(opts, openUrl) {
      super(opts);
      this.openUrl = openUrl;
      this.retired = false;
      this.lastSeen = Date.now();
    }

    async getEndpoint() {
      if (!this.openUrl) return super.getEndpoint();
      const res = await fetch(this.openUrl, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify({
          clientId: this.config.clientId,
          clientSecret: this.config.clientSecret,
          ua: this.config.ua,
          subscriptions: this.config.subscriptions,
        }),
        signal: AbortSignal.timeout(15_000),
      });
      if (!res.ok) throw new Error(`connections/open answered HTTP ${res.status}`);
      const data = await res.json();
      if (!data?.endpoint || !data?.ticket) throw new Error('connections/open answered without endpoint or ticket');
      this.config.endpoint = data;
      // The SDK's _connect() reads this field.
      this.dw_url = `${data.endpoint}?ticket=${encodeURIComponent(data.ticket)}`;
      return this;
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

/**
 * Starts Stream mode. `deliver(dataJsonText)` hands one robot message to the .so.
 * Returns {stop(), state()}.
 */
export function startStreamIngress({ sdk, clientId, clientSecret, apiBaseUrl, silenceTimeoutMs = 90_000, logger, deliver, keepAlive = false }) {
  const Client = clientClass(sdk);
  const openUrl = openConnectionUrl(apiBaseUrl);
  let client = null;
  let stopped = false;
  let generation = 0;
  const counts = { frames: 0, acked: 0, replaced: 0 };
  const live = new Set(); // connections not yet retired (two during a warm replacement)
  const retire = (c) => {
    live.delete(c);
    c.retire();
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
        logger.warn(`Stream ACK for ${messageId} failed: ${e.message}`);
      }
    }
    counts.frames++;
    if (typeof frame?.data !== 'string' || frame.data === '') {
      logger.warn(`Stream frame ${messageId ?? '?'} without data ignored`);
      return;
    }
    Promise.resolve()
      .then(() => deliver(frame.data))
      .catch((e) => logger.error(`handing a Stream message to the skill failed: ${e.message}`));
  };

  /** Opens a new connection; the previous one is retired at once, or (warm) once the new one
   *  is connected, at the latest after WARM_OVERLAP_MS. */
  const open = (reason, warm = false) => {
    if (stopped) return;
    const previous = client;
    const c = new Client({ clientId, clientSecret, keepAlive, ua: 'openclaw-dingtalk' }, openUrl);
    c.registerCallbackListener(TOPIC_ROBOT, onRobotMessage(c));
    c.on('adapter:disconnect', () => {
      if (c === client) replace('DingTalk announced a disconnect', true);
    });
    client = c;
    live.add(c);
    generation++;
    logger.info(`DingTalk Stream: connecting (${reason})${openUrl ? ` via ${openUrl}` : ''}`);
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
    logger.warn(`DingTalk Stream: replacing the connection: ${reason}`);
    open(reason, warm);
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

  open('start');
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
