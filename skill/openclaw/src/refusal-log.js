// refusal-log.js: warnings about refused DingTalk callbacks, rate limited: one line per source
// address and reason per period (a minute), then one summary line with how many more were not
// logged (as the Rust host, skill/host/src/ingress/refusal_log.rs). A flood of bad or replayed
// callbacks costs a few log lines, not one per request.

export const REFUSAL_LOG_PERIOD_MS = 60_000;
const MAX_SOURCES = 10_000;

export class RefusalLog {
  /** @param {{logger: {warn: Function}, periodMs?: number, now?: () => number}} opts */
  constructor({ logger, periodMs = REFUSAL_LOG_PERIOD_MS, now = Date.now }) {
    this.logger = logger;
    this.periodMs = periodMs;
    this.now = now;
    /** `${source}\n${kind}` → {source, since, suppressed, status, reason} */
    this.entries = new Map();
    this.timer = null;
  }

  /** A refusal from `peer`: logged, or counted while this source and kind were logged within
   *  the period. Returns whether a line was written. */
  refused(peer, status, kind, reason) {
    const now = this.now();
    let source = String(peer ?? '?');
    let key = `${source}\n${kind}`;
    if (!this.entries.has(key) && this.entries.size >= MAX_SOURCES) {
      source = 'other addresses';
      key = `${source}\n${kind}`;
    }
    const entry = this.entries.get(key);
    if (entry && now - entry.since < this.periodMs) {
      entry.suppressed++;
      return false;
    }
    const earlier = entry?.suppressed ?? 0;
    this.entries.set(key, { source, since: now, suppressed: 0, status, reason });
    this.logger.warn(
      `DingTalk callback from ${source} refused with ${status}: ${reason}${earlier > 0 ? ` (${earlier} more like it from this address were not logged)` : ''}`,
    );
    this.schedule();
    return true;
  }

  /** Ends the periods that are over: one summary line for each source and reason with refusals
   *  that were not logged; forgets the others. */
  flush(now = this.now()) {
    for (const [key, e] of this.entries) {
      if (now - e.since < this.periodMs) continue;
      if (e.suppressed > 0) {
        this.logger.warn(
          `DingTalk callback from ${e.source}: ${e.suppressed} more refused with ${e.status} (${e.reason}) within ${Math.round(this.periodMs / 1000)} s of the line above were not logged`,
        );
      }
      this.entries.delete(key);
    }
    if (this.entries.size === 0) this.stop();
  }

  /** Flushes every period now (at stop). */
  flushAll() {
    this.flush(Infinity);
  }

  schedule() {
    if (this.timer) return;
    this.timer = setInterval(() => this.flush(), Math.min(5_000, this.periodMs));
    this.timer.unref?.();
  }

  stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
