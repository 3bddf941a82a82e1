// replay.js: replayed DingTalk HTTP callbacks. The `sign` header covers the timestamp only, so
// one captured (timestamp, sign) pair would authenticate any body while its timestamp is inside
// the signature window. The guard remembers every accepted pair until its timestamp leaves the
// window and refuses the pair when it comes again (as the Rust host, skill/host/src/ingress/
// replay.rs).
//
// A pair is claimed when its signature checks out and kept only when the .so took the event: a
// callback refused later (body too large or too slow, shutting down, …) gives its pair back, so
// DingTalk's own retry of it is not taken for a replay.
//
// Memory is bounded: pairs leave once their timestamp is out of the window, and at most
// `capacity` are kept (the oldest first out; hitting the cap is logged once).

/** Pairs remembered at most: an hour of 27 callbacks per second. */
export const DEFAULT_REPLAY_CAPACITY = 100_000;

export class ReplayGuard {
  /** @param {{windowMs: number, capacity?: number, logger?: {warn: Function}}} opts */
  constructor({ windowMs, capacity = DEFAULT_REPLAY_CAPACITY, logger }) {
    this.windowMs = windowMs;
    this.capacity = Math.max(1, capacity);
    this.logger = logger;
    /** key → timestamp (ms), in insertion order */
    this.seen = new Map();
    this.capLogged = false;
  }

  /** Forgets the pairs whose timestamp is out of the window at `nowMs`. */
  expire(nowMs) {
    const oldest = nowMs - this.windowMs;
    // Insertion order is nearly timestamp order: drop from the front, and sweep everything now
    // and then (when the front is fresh but the map is large).
    for (const [key, at] of this.seen) {
      if (at >= oldest) break;
      this.seen.delete(key);
    }
    if (this.seen.size >= this.capacity) {
      for (const [key, at] of this.seen) if (at < oldest) this.seen.delete(key);
    }
  }

  /**
   * Claims a verified pair ({at, timestamp, sign} from verifyCallback) at `nowMs`. Returns null
   * for a replay, else {keep(), release()}: keep() when the callback was accepted, release()
   * (or neither) otherwise.
   */
  claim(pair, nowMs) {
    this.expire(nowMs);
    const key = `${pair.timestamp}\n${pair.sign}`;
    if (this.seen.has(key)) return null;
    while (this.seen.size >= this.capacity) {
      this.seen.delete(this.seen.keys().next().value);
      if (!this.capLogged) {
        this.capLogged = true;
        this.logger?.warn(
          `more than ${this.capacity} signed DingTalk callbacks within the signature window; the oldest are forgotten early from now on (a replay of a forgotten one would not be recognised; a narrower ingress.http.signature_window_secs helps). Logged once.`,
        );
      }
    }
    this.seen.set(key, pair.at);
    let settled = false;
    return {
      keep: () => {
        settled = true;
      },
      release: () => {
        if (!settled) this.seen.delete(key);
        settled = true;
      },
    };
  }

  get size() {
    return this.seen.size;
  }
}
