#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# .ci/peer/config.sh - renders the gateway's config $OPENCLAW_PEER_RUN/openclaw.json5 from the
# template .ci/peer/openclaw.json5: the ports, the fake upstream's URL, the file log, and the plugin
# under test (OPENCLAW_PEER_PLUGIN_DIR/_ID/_CONFIG) or a comment. Run by start.sh after the install
# (it needs the cached Node for the plugin block); fails on any placeholder left over.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# render_plugins FILE: replace the line holding only @OPENCLAW_PEER_PLUGINS@ with the plugin under
# test (or a comment). Done with node so paths and the JSON config need no sed escaping.
render_plugins() {
	local file=$1 out
	if [[ -n "$PLUGIN_DIR" ]]; then
		[[ -d "$PLUGIN_DIR" ]] || die "OPENCLAW_PEER_PLUGIN_DIR '$PLUGIN_DIR' is not a directory"
		PLUGIN_DIR="$(realpath -- "$PLUGIN_DIR")"
		[[ -f "$PLUGIN_DIR/openclaw.plugin.json" ]] || die "OPENCLAW_PEER_PLUGIN_DIR '$PLUGIN_DIR' has no openclaw.plugin.json"
	fi
	[[ -x "$NODE_BIN" ]] || die "$NODE_BIN is missing: run '$PEER_SH install' first"
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

main() {
	check_settings
	[[ -f "$TEMPLATE" ]] || die "config template $TEMPLATE is missing"
	mkdir -p "$RUN"
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

main "$@"
