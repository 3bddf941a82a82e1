//! The server-side scripts: each one reads and changes its keys atomically in Redis, so hosts
//! never race between a check and its change. Time is Redis's own (`TIME`), so the hosts'
//! clocks need not agree.

use std::sync::LazyLock;

use redis::Script;

/// One call's turn in a sliding window of `span` ms, per API and app-wide, with urgent calls
/// (finals, first texts, creations) before intermediate updates across hosts: an urgent call
/// that must wait is listed as waiting (for two spans unless it asks again), and while any is
/// listed for a window, no intermediate update takes a slot in it.
///
/// Hosts may keep to different limits (one's rate still in slow start, another's grown): an
/// urgent call keeps to the highest limit an urgent call was granted under in the last two
/// spans, so that the host with the lowest limit is not held back for as long as the others
/// keep the window above it (and, waiting, does not hold every host's intermediate updates).
///
/// KEYS: the API's window, the app-wide window (sorted sets of call start times), the urgent
/// calls waiting for each, the highest recent urgent limit of each. ARGV: span ms, the API's
/// limit, the app-wide limit (0: none), the call's unique member, 1 for an urgent call.
/// Every call is recorded in the app-wide window, limited or not (a `403` is then cut from
/// what all hosts sent). Returns `{0, calls of the API, calls of the app}` in the window
/// (this one included) when the call was recorded and may go, else `{ms to wait before
/// asking again, 0, 0}`.
pub(super) static WINDOW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local span = tonumber(ARGV[1])
local api_limit = tonumber(ARGV[2])
local app_limit = tonumber(ARGV[3])
local member = ARGV[4]
local urgent = ARGV[5] == '1'
local function wait_in(key, limit)
  if limit <= 0 then return 0 end
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - span)
  local n = redis.call('ZCARD', key)
  if n < limit then return 0 end
  local at = redis.call('ZRANGE', key, n - limit, n - limit, 'WITHSCORES')
  return tonumber(at[2]) + span - now
end
local function waiting(key)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  return redis.call('ZCARD', key) > 0
end
local own_api, own_app = api_limit, app_limit
if urgent then
  api_limit = math.max(api_limit, tonumber(redis.call('GET', KEYS[5]) or '0'))
  if app_limit > 0 then
    app_limit = math.max(app_limit, tonumber(redis.call('GET', KEYS[6]) or '0'))
  end
end
local api_wait = wait_in(KEYS[1], api_limit)
local app_wait = wait_in(KEYS[2], app_limit)
if urgent then
  if api_wait > 0 then redis.call('ZADD', KEYS[3], now + 2 * span, member) end
  if app_wait > 0 then redis.call('ZADD', KEYS[4], now + 2 * span, member) end
else
  local held = waiting(KEYS[3]) or (app_limit > 0 and waiting(KEYS[4]))
  if held then return {math.max(api_wait, app_wait, 20), 0, 0} end
end
local wait = math.max(api_wait, app_wait)
if wait > 0 then return {wait, 0, 0} end
local function remember(key, limit)
  if limit <= 0 then return end
  local seen = tonumber(redis.call('GET', key) or '0')
  if limit >= seen then redis.call('SET', key, limit, 'PX', span * 2) end
end
if urgent then
  redis.call('ZREM', KEYS[3], member)
  redis.call('ZREM', KEYS[4], member)
  remember(KEYS[5], own_api)
  remember(KEYS[6], own_app)
end
redis.call('ZADD', KEYS[1], now, member)
redis.call('PEXPIRE', KEYS[1], span * 2)
redis.call('ZADD', KEYS[2], now, member)
redis.call('PEXPIRE', KEYS[2], span * 2)
if app_limit <= 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - span) end
return {0, redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[2])}
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

/// Appends to a list unless it holds enough already. KEYS: the list. ARGV: the item, the
/// most items. Returns the list's new length, 0 when it was full.
pub(super) static PUSH_UNLESS_FULL: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('LLEN', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
return redis.call('RPUSH', KEYS[1], ARGV[1])
",
    )
});

/// Takes a whole list for one use: KEYS: the list, the key it moves to (kept a week).
/// Returns its items (none when the list is empty).
pub(super) static TAKE_LIST: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 0 then return {} end
redis.call('RENAME', KEYS[1], KEYS[2])
redis.call('EXPIRE', KEYS[2], 604800)
return redis.call('LRANGE', KEYS[2], 0, -1)
",
    )
});

/// Gives a taken list back, in front of what the list got since. KEYS: the list, the taken
/// key. Returns how many items went back.
pub(super) static GIVE_BACK_LIST: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local items = redis.call('LRANGE', KEYS[2], 0, -1)
for i = #items, 1, -1 do redis.call('LPUSH', KEYS[1], items[i]) end
redis.call('DEL', KEYS[2])
return #items
",
    )
});
