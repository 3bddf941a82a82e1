#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# .ci/peer/status.sh - `.ci/openclaw-peer.sh status`: what runs (pids, RSS, the gateway's /readyz,
# its workers) and peer.env. Exit status 0 when something of this run directory runs.

HERE="$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source=lib.sh
. "$HERE/lib.sh"
# shellcheck source=proc.sh
. "$HERE/proc.sh"
# shellcheck source=netns.sh
. "$HERE/netns.sh"

main() {
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

main "$@"
