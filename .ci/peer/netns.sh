# shellcheck shell=bash
# .ci/peer/netns.sh - sourced after lib.sh (and proc.sh, for netns_kill_all): the peer's
# loopback-only network namespace. NETNS is its name (empty: the host loopback), NS_EXEC the
# command prefix that runs where the peer listens.

NETNS=""
NS_EXEC=()

netns_exists() { ip netns list 2>/dev/null | awk '{print $1}' | grep -qxF -- "$1"; }

# netns_kill_all NS: kill every process left in namespace NS (only the peer's processes are there)
netns_kill_all() {
	local ns=$1 pid sig
	for sig in TERM KILL; do
		local -a left=()
		for pid in $(ip netns pids "$ns" 2>/dev/null || true); do
			proc_starttime "$pid" >/dev/null || continue
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

# fall_back_to_host REASON: the loud warning when no namespace can be used
fall_back_to_host() {
	warn "################################################################################"
	warn "$1"
	warn "FALLING BACK TO THE HOST LOOPBACK: the gateway is NOT network-isolated and ports"
	warn "$PORT/$UPSTREAM_PORT are shared with the host. Run as root for isolation."
	warn "################################################################################"
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
			die "netns '$NETNS_WANTED' exists and has processes in it ($(ip netns pids "$NETNS_WANTED" | tr '\n' ' ')); run '$PEER_SH stop' or set OPENCLAW_PEER_NETNS"
		fi
		log "removing stale empty netns '$NETNS_WANTED'"
		ip netns delete "$NETNS_WANTED" || die "cannot delete stale netns '$NETNS_WANTED'"
	fi
	if ! err="$(ip netns add "$NETNS_WANTED" 2>&1)"; then
		fall_back_to_host "cannot create network namespace '$NETNS_WANTED': ${err:-unknown error}"
		return 0
	fi
	if ! err="$(ip netns exec "$NETNS_WANTED" ip link set lo up 2>&1)"; then
		ip netns delete "$NETNS_WANTED" 2>/dev/null || true
		fall_back_to_host "cannot use network namespace '$NETNS_WANTED' (ip link set lo up: ${err:-unknown error})"
		return 0
	fi
	NETNS="$NETNS_WANTED"
	NS_EXEC=(ip netns exec "$NETNS")
	log "network namespace '$NETNS' created (loopback only)"
}

# load_ns: set NETNS / NS_EXEC from the run dir (what `start` recorded)
load_ns() {
	NETNS=""
	NS_EXEC=()
	[[ -s "$NETNS_FILE" ]] && NETNS="$(head -n1 "$NETNS_FILE")"
	if [[ -n "$NETNS" ]]; then NS_EXEC=(ip netns exec "$NETNS"); fi
	return 0
}

# delete_netns: kill what is left in the recorded namespace and delete it
delete_netns() {
	if [[ -n "$NETNS" ]] && netns_exists "$NETNS"; then
		netns_kill_all "$NETNS"
		if ip netns delete "$NETNS"; then
			log "netns '$NETNS' deleted"
		else
			warn "could not delete netns '$NETNS'"
		fi
	fi
}

# in_ns CMD...: run CMD where the peer listens
in_ns() { "${NS_EXEC[@]}" "$@"; }

# http_code URL [CURL ARGS...] -> status code ("000" when no answer), run where the peer listens
http_code() {
	local url=$1
	shift
	in_ns curl -sS -o /dev/null -w '%{http_code}' --max-time 3 "$@" "$url" 2>/dev/null || true
}
