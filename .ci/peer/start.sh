#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# .ci/peer/start.sh - `.ci/openclaw-peer.sh start`: install if needed (install.sh), a fresh run
# directory, the gateway config (config.sh), the namespace (netns.sh), then the fake upstream, the
# DingTalk emulator (if asked for) and the gateway, each waited for; writes and prints peer.env.
# A failure after the namespace exists stops everything again (stop.sh).

HERE="$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source=lib.sh
. "$HERE/lib.sh"
# shellcheck source=proc.sh
. "$HERE/proc.sh"
# shellcheck source=netns.sh
. "$HERE/netns.sh"

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
	# The openclaw CLI (plugin-install.sh) keeps backups of the config it rewrites, and the gateway
	# restores the newest one ("last good") over a freshly rendered config: drop the old run's.
	rm -f -- "$CONFIG".bak "$CONFIG".bak.* "$CONFIG".clobbered.* "$RUN/plugin-install.log"
	: >"$UP_RECORD"
	: >"$GW_LOG"
	: >"$UP_LOG"
	if [[ -n "$EMULATOR_BIN" ]]; then : >"$EMU_LOG"; fi
}

# refuse_running NAME PIDFILE: die when a process of this run directory still runs
refuse_running() {
	read_pidfile "$2"
	if proc_alive "$PF_PID" "$PF_START"; then
		die "a $1 from $RUN is already running (pid $PF_PID); run '$PEER_SH stop' first"
	fi
}

start_upstream() {
	local t0
	t0=$(now_ms)
	log "starting fake upstream: $UPSTREAM_BIN --listen 127.0.0.1:$UPSTREAM_PORT --mode upstream --no-auth --record $UP_RECORD"
	launch "fake upstream" "$UP_PIDFILE" "$UP_LOG" \
		"$UPSTREAM_BIN" --listen "127.0.0.1:$UPSTREAM_PORT" --mode upstream --no-auth --record "$UP_RECORD"
	wait_listening "fake upstream" "$UP_LOG" "$LAUNCH_PID" "$LAUNCH_START" "$UPSTREAM_PORT"
	log "fake upstream ready (pid $LAUNCH_PID) in $(elapsed "$t0") s: $WAIT_LINE"
}

start_emulator() {
	local t0
	[[ -n "$EMULATOR_BIN" ]] || return 0
	resolve_bin OPENCLAW_PEER_EMULATOR_BIN "$EMULATOR_BIN"
	local -a args=()
	# shellcheck disable=SC2206 # documented: split on spaces
	[[ -n "$EMULATOR_ARGS" ]] && args=($EMULATOR_ARGS)
	t0=$(now_ms)
	log "starting DingTalk emulator: $RESOLVED_BIN --listen 127.0.0.1:$EMULATOR_PORT ${args[*]}"
	launch "DingTalk emulator" "$EMU_PIDFILE" "$EMU_LOG" "$RESOLVED_BIN" --listen "127.0.0.1:$EMULATOR_PORT" "${args[@]}"
	wait_listening "DingTalk emulator" "$EMU_LOG" "$LAUNCH_PID" "$LAUNCH_START" "$EMULATOR_PORT"
	log "DingTalk emulator ready (pid $LAUNCH_PID) in $(elapsed "$t0") s: $WAIT_LINE"
}

# start_gateway TOKEN: `openclaw gateway run` with a clean environment, waited for until /readyz
# answers 200 and /v1/models answers 200 with the token
start_gateway() {
	local token=$1 entry t0 code rc gw_pid gw_start ready_s
	local -a args=(gateway run) envs
	[[ "${OPENCLAW_PEER_VERBOSE:-0}" == 1 ]] && args+=(--verbose)
	entry="$(readlink -f -- "$APP_DIR/node_modules/.bin/openclaw")" || die "openclaw is not installed in $APP_DIR"
	gateway_base_env
	envs=("${GW_BASE_ENV[@]}" "OPENCLAW_GATEWAY_TOKEN=$token")
	[[ -n "${OPENCLAW_PEER_NODE_OPTIONS:-}" ]] && envs+=("NODE_OPTIONS=$OPENCLAW_PEER_NODE_OPTIONS")
	local v
	for v in $PASS_ENV; do
		if [[ -n "${!v+set}" ]]; then envs+=("$v=${!v}"); else warn "OPENCLAW_PEER_PASS_ENV: $v is not set in the caller's environment"; fi
	done
	t0=$(now_ms)
	log "starting openclaw gateway on 127.0.0.1:$PORT${NETNS:+ in netns $NETNS} (log: $GW_LOG)"
	launch "gateway" "$GW_PIDFILE" "$GW_LOG" env -i "${envs[@]}" "$NODE_BIN" "$entry" "${args[@]}"
	gw_pid=$LAUNCH_PID
	gw_start=$LAUNCH_START
	log "gateway pid $gw_pid; waiting up to ${READY_TIMEOUT} s for GET /readyz == 200"
	local deadline=$((t0 + READY_TIMEOUT * 1000))
	while :; do
		if ! proc_alive "$gw_pid" "$gw_start"; then
			rc="$(exit_reason "$gw_pid")"
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
	ready_s="$(elapsed "$t0")"
	code="$(http_code "http://127.0.0.1:$PORT/v1/models" -H "Authorization: Bearer $token")"
	[[ "$code" == 200 ]] || die "gateway is ready but GET /v1/models with the token gave HTTP $code (chatCompletions endpoint not enabled? auth?)"
	log "gateway ready in $ready_s s (GET /readyz 200, GET /v1/models 200), RSS $(($(proc_rss_kb "$gw_pid") / 1024)) MB, with workers $(($(tree_rss_kb "$gw_pid") / 1024)) MB"
	GW_READY_S=$ready_s
}

write_peer_env() {
	local token=$1
	umask 077
	{
		printf 'OPENCLAW_TEST_GATEWAY_URL=http://127.0.0.1:%s\n' "$PORT"
		printf 'OPENCLAW_TEST_GATEWAY_TOKEN=%s\n' "$token"
		printf 'OPENCLAW_TEST_NETNS=%s\n' "$NETNS"
		printf 'OPENCLAW_TEST_UPSTREAM_RECORD=%s\n' "$UP_RECORD"
		if [[ -n "$EMULATOR_BIN" ]]; then printf 'OPENCLAW_TEST_EMULATOR_URL=http://127.0.0.1:%s\n' "$EMULATOR_PORT"; fi
	} >"$PEER_ENV.tmp"
	mv -- "$PEER_ENV.tmp" "$PEER_ENV"
}

main() {
	local t0 token
	t0=$(now_ms)
	check_settings
	command -v curl >/dev/null 2>&1 || die "curl is required"
	command -v setsid >/dev/null 2>&1 || die "setsid (util-linux) is required"
	[[ -n "${FAKE_UPSTREAM_BIN:-}" ]] || die "FAKE_UPSTREAM_BIN is not set: point it at the fake upstream binary (e.g. target/debug/fake-gateway)"
	resolve_bin FAKE_UPSTREAM_BIN "$FAKE_UPSTREAM_BIN"
	UPSTREAM_BIN=$RESOLVED_BIN

	refuse_running gateway "$GW_PIDFILE"
	refuse_running "fake upstream" "$UP_PIDFILE"
	refuse_running "DingTalk emulator" "$EMU_PIDFILE"
	if [[ -s "$NETNS_FILE" ]] && netns_exists "$(head -n1 "$NETNS_FILE")"; then
		log "cleaning up the previous run's netns"
		"$PEER_DIR/stop.sh"
	fi

	"$PEER_DIR/install.sh"
	prepare_run_dir
	"$PEER_DIR/config.sh"
	# a plugin installed the way operators do (needs the npm registry: before the netns)
	if [[ -n "$PLUGIN_INSTALL" ]]; then "$PEER_DIR/plugin-install.sh"; fi
	setup_netns
	printf '%s\n' "$NETNS" >"$NETNS_FILE"
	# From here on, a failure must not leave processes or the netns behind.
	trap 'rc=$?; if ((rc != 0)); then log "start failed: cleaning up"; "$PEER_DIR/stop.sh" || true; fi' EXIT
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
	write_peer_env "$token"
	trap - EXIT INT TERM HUP
	log "peer started in $(elapsed "$t0") s (gateway start-to-ready $GW_READY_S s); $PEER_ENV:"
	cat "$PEER_ENV"
	if [[ -n "$NETNS" ]]; then
		log "clients must run inside the netns: ip netns exec $NETNS CMD...  (or: $PEER_SH exec CMD...)"
	fi
}

main "$@"
