//! The server-side scripts: each one reads and changes its keys atomically in Redis, so hosts
//! never race between a check and its change. Time is Redis's own (`TIME`), so the hosts'
//! clocks need not agree.

use std::sync::LazyLock;

use redis::Script;

/// One call's turn in a sliding window of `span` ms, per API and app-wide.
///
/// KEYS: the API's window, the app-wide window (sorted sets of call start times). ARGV: span
/// ms, the API's limit, the app-wide limit (0: none), a unique member. Returns 0 when the call
/// was recorded and may go, else the ms to wait before asking again.
pub(super) static WINDOW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local span = tonumber(ARGV[1])
local function wait_in(key, limit)
  if limit <= 0 then return 0 end
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - span)
  local n = redis.call('ZCARD', key)
  if n < limit then return 0 end
  local at = redis.call('ZRANGE', key, n - limit, n - limit, 'WITHSCORES')
  return tonumber(at[2]) + span - now
end
local wait = math.max(wait_in(KEYS[1], tonumber(ARGV[2])), wait_in(KEYS[2], tonumber(ARGV[3])))
if wait > 0 then return wait end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], span * 2)
if tonumber(ARGV[3]) > 0 then
  redis.call('ZADD', KEYS[2], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[2], span * 2)
end
return 0
",
    )
});

/// Keeps a card this host streams: renews its lease when it is this host's, takes it back
/// (lease and entry) when no host holds it (Redis restarted, or the lease lapsed while Redis
/// was slow), and leaves it when another host took it over.
///
/// KEYS: the app's cards hash, the card's lease. ARGV: card id, host, lease ms, entry JSON.
/// Returns 1 when the card is this host's, 0 when another host has it.
pub(super) static KEEP: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local owner = redis.call('GET', KEYS[2])
if owner == ARGV[2] then
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[4])
  return 1
end
if not owner then
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[4])
  return 1
end
return 0
",
    )
});

/// Takes over a card whose host is gone: its entry is in the hash and no host holds its
/// lease. KEYS: the cards hash, the card's lease. ARGV: card id, host, lease ms. Returns the
/// entry JSON when this host took it, else nil.
pub(super) static TAKE_OVER: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local entry = redis.call('HGET', KEYS[1], ARGV[1])
if not entry then return false end
if redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ARGV[3]) then return entry end
return false
",
    )
});

/// Forgets a finalized card when it is this host's (or nobody's), remembering for a day that
/// it was finalized. KEYS: the cards hash, the card's lease, its finalized marker. ARGV: card
/// id, host. Returns 1 when forgotten.
pub(super) static FORGET: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local owner = redis.call('GET', KEYS[2])
if owner and owner ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
redis.call('SET', KEYS[3], ARGV[2], 'EX', 86400)
return 1
",
    )
});
