#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# .ci/peer/stop.sh - `.ci/openclaw-peer.sh stop`: stop the gateway (SIGTERM, SIGKILL after
# OPENCLAW_PEER_STOP_TIMEOUT) and its workers, the fake upstream, the DingTalk emulator, whatever is
# left in the namespace, and delete the namespace. Idempotent; logs stay in the run directory.
#
# `stop.sh --gateway-only` (`.ci/openclaw-peer.sh stop-gateway`) stops only the gateway: the fake
# upstream, the emulator and the namespace stay, so a test can inspect what its shutdown left.

HERE="$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source=lib.sh
. "$HERE/lib.sh"
# shellcheck source=proc.sh
. "$HERE/proc.sh"
# shellcheck source=netns.sh
. "$HERE/netns.sh"

# stop_gateway: SIGTERM the gateway (SIGKILL after STOP_TIMEOUT), then its workers
stop_gateway() {
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

main() {
	check_settings
	load_ns
	stop_gateway
	[[ "${1:-}" == --gateway-only ]] && return 0
	stop_recorded "fake upstream" "$UP_PIDFILE" 5
	stop_recorded "DingTalk emulator" "$EMU_PIDFILE" 5
	delete_netns
	rm -f -- "$NETNS_FILE" "$PEER_ENV"
	log "stopped (logs kept in $RUN)"
}

main "$@"
