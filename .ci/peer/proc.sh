# shellcheck shell=bash disable=SC2034 # LAUNCH_*, WAIT_LINE, RESOLVED_BIN are results for the caller
# .ci/peer/proc.sh - sourced after lib.sh: process bookkeeping. Every process is
# recorded as pid + /proc start time, so a recycled pid is never signalled; `launch` starts a
# process detached where the peer listens and records its real pid.

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

# stop_recorded NAME PIDFILE TIMEOUT: terminate the process a pid file records, remove the file
stop_recorded() {
	local name=$1 pidfile=$2 timeout=$3
	read_pidfile "$pidfile"
	if proc_alive "$PF_PID" "$PF_START"; then
		terminate "$name" "$PF_PID" "$PF_START" "$timeout"
	elif [[ -n "$PF_PID" ]]; then
		log "$name (pid $PF_PID) is not running"
	fi
	rm -f -- "$pidfile" "$pidfile.start"
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

# wait_listening NAME LOG PID START PORT: wait for `listening http://127.0.0.1:PORT` as the first
# line; sets WAIT_LINE
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

# resolve_bin VARIABLE VALUE: VALUE (a path, or a name on PATH) as an absolute path of an
# executable file; sets RESOLVED_BIN
resolve_bin() {
	local var=$1 bin=$2
	[[ -n "$bin" ]] || die "$var is not set"
	if [[ "$bin" != */* ]]; then
		bin="$(command -v -- "$bin")" || die "$var '$2' not found on PATH"
	fi
	[[ -f "$bin" && -x "$bin" ]] || die "$var '$bin' is not an executable file"
	RESOLVED_BIN="$(realpath -- "$bin")"
}
