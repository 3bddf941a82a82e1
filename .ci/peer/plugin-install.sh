#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# .ci/peer/plugin-install.sh - run by start.sh when OPENCLAW_PEER_PLUGIN_INSTALL is set: installs
# the plugin under test the way an operator does, with the run's own openclaw CLI, HOME, state
# and config (after config.sh rendered it, before the gateway starts):
#
#   openclaw plugins install "$OPENCLAW_PEER_PLUGIN_INSTALL" --force --accept-capabilities
#   openclaw config set plugins.entries.<id>.config "$OPENCLAW_PEER_PLUGIN_CONFIG" --strict-json
#   openclaw plugins enable <id>
#
# e.g. OPENCLAW_PEER_PLUGIN_INSTALL=npm-pack:/path/openclaw-dingtalk-0.1.0.tgz. The id is
# OPENCLAW_PEER_PLUGIN_ID, or for an npm-pack tarball the "id" of its package/openclaw.plugin.json.
# It runs on the host network, not in the netns: openclaw installs the package's dependencies
# with npm from the registry. So, unlike the gateway, it gets the caller's TLS and proxy
# variables (NODE_EXTRA_CA_CERTS, SSL_CERT_FILE, HTTPS_PROXY, …), the caller's npm cache and,
# when there is one, the caller's ~/.npmrc. Output: $OPENCLAW_PEER_RUN/plugin-install.log.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

INSTALL_LOG_RUN="$RUN/plugin-install.log"

plugin_id() {
	local spec=$1 tgz
	if [[ -n "$PLUGIN_ID" ]]; then
		printf '%s\n' "$PLUGIN_ID"
		return 0
	fi
	[[ "$spec" == npm-pack:* ]] || die "OPENCLAW_PEER_PLUGIN_ID is required for the install spec '$spec'"
	tgz=${spec#npm-pack:}
	[[ -f "$tgz" ]] || die "OPENCLAW_PEER_PLUGIN_INSTALL: $tgz is not a file"
	# shellcheck disable=SC2016 # JavaScript
	tar -xOzf "$tgz" package/openclaw.plugin.json 2>/dev/null | "$NODE_BIN" -e '
		let t = ""; process.stdin.on("data", (d) => (t += d)).on("end", () => {
			const id = JSON.parse(t).id; if (!id) process.exit(1); console.log(id); });' ||
		die "$tgz has no package/openclaw.plugin.json with an id: set OPENCLAW_PEER_PLUGIN_ID"
}

# oc ARGS...: the run's openclaw CLI with the gateway's environment plus the caller's network
# settings; output appended to the install log
oc() {
	local entry rc=0 v
	entry="$(readlink -f -- "$APP_DIR/node_modules/.bin/openclaw")" || die "openclaw is not installed in $APP_DIR"
	gateway_base_env
	local -a envs=("${GW_BASE_ENV[@]}" "npm_config_cache=$HOME/.npm")
	[[ -f "$HOME/.npmrc" ]] && envs+=("npm_config_userconfig=$HOME/.npmrc")
	for v in NODE_EXTRA_CA_CERTS SSL_CERT_FILE SSL_CERT_DIR HTTPS_PROXY https_proxy HTTP_PROXY http_proxy NO_PROXY no_proxy npm_config_registry NPM_CONFIG_REGISTRY; do
		if [[ -n "${!v:-}" ]]; then envs+=("$v=${!v}"); fi
	done
	printf '\n===== %s openclaw %s\n' "$(date -u +%FT%TZ)" "$*" >>"$INSTALL_LOG_RUN"
	env -i "${envs[@]}" "$NODE_BIN" "$entry" "$@" </dev/null >>"$INSTALL_LOG_RUN" 2>&1 || rc=$?
	if ((rc != 0)); then
		log "---- $INSTALL_LOG_RUN ----"
		tail -n 30 "$INSTALL_LOG_RUN" | sed "s/^/$PROG:   /" >&2
		die "openclaw $1 $2 failed (exit code $rc)"
	fi
}

main() {
	local id t0
	check_settings
	[[ -n "$PLUGIN_INSTALL" ]] || die "OPENCLAW_PEER_PLUGIN_INSTALL is not set"
	[[ -x "$NODE_BIN" ]] || die "$NODE_BIN is missing: run '$PEER_SH install' first"
	[[ -f "$CONFIG" ]] || die "$CONFIG is missing: config.sh renders it first"
	id="$(plugin_id "$PLUGIN_INSTALL")"
	: >"$INSTALL_LOG_RUN"
	t0=$(now_ms)
	log "openclaw plugins install $PLUGIN_INSTALL --force --accept-capabilities (log: $INSTALL_LOG_RUN)"
	oc plugins install "$PLUGIN_INSTALL" --force --accept-capabilities
	if [[ -n "$PLUGIN_CONFIG" ]]; then
		log "openclaw config set plugins.entries.$id.config $PLUGIN_CONFIG --strict-json"
		oc config set "plugins.entries.$id.config" "$PLUGIN_CONFIG" --strict-json
	fi
	log "openclaw plugins enable $id"
	oc plugins enable "$id"
	grep -E '^(Installed plugin|Linked peerDependency|Installing to|Enabled)' "$INSTALL_LOG_RUN" | sed "s/^/$PROG:   /" >&2 || true
	log "plugin $id installed and enabled in $(elapsed "$t0") s"
}

main "$@"
