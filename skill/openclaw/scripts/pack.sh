#!/usr/bin/env bash
# skill/openclaw/scripts/pack.sh - the npm package of the OpenClaw gateway plugin, with the
# prebuilt skill library for linux-x64 inside:
#
#   cargo build --release -p openclaw-dingtalk          (unless OCDT_SKIP_BUILD=1)
#   stage skill/openclaw's files + LICENSE-* + native/linux-x64/libopenclaw_dingtalk.so
#   npm pack  ->  $OUT/openclaw-dingtalk-<version>.tgz
#
# Install it into OpenClaw with
#   openclaw plugins install npm-pack:<that .tgz> --force --accept-capabilities
# (docs/openclaw-adapter.md). Prints progress on stderr and the tarball's absolute path alone on
# the last line of stdout, so `tgz=$(skill/openclaw/scripts/pack.sh | tail -n1)` works.
#
# Environment: CARGO_TARGET_DIR (default <repo>/target); OCDT_NPM_OUT (default
# $CARGO_TARGET_DIR/npm); OCDT_SKIP_BUILD=1 packs the release library that is already built.
# Needs: cargo, npm (any Node >= 18 runs `npm pack`), a Linux x86_64 host (the library is
# built for the host).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PLUGIN_DIR="$(dirname "$HERE")"
REPO="$(cd "$PLUGIN_DIR/../.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$REPO/target}"
OUT="${OCDT_NPM_OUT:-$TARGET/npm}"
PLATFORM=linux-x64
LIB=libopenclaw_dingtalk.so

say() { printf 'pack: %s\n' "$*" >&2; }
die() {
	printf 'pack: ERROR: %s\n' "$*" >&2
	exit 1
}

[[ "$(uname -s)-$(uname -m)" == Linux-x86_64 ]] || die "the package carries a $PLATFORM library; this host is $(uname -s)-$(uname -m)"
command -v npm >/dev/null 2>&1 || die "npm is not on PATH"

# The package version must be the crate's: the adapter and the library come from one release.
pkg_version="$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$PLUGIN_DIR/package.json" | head -n1)"
crate_version="$(cd "$REPO" && cargo pkgid -p openclaw-dingtalk | sed 's/.*[#@]//')"
[[ -n "$pkg_version" ]] || die "no version in $PLUGIN_DIR/package.json"
[[ "$pkg_version" == "$crate_version" ]] ||
	die "skill/openclaw/package.json has version $pkg_version, the crate openclaw-dingtalk $crate_version: release them together"

if [[ "${OCDT_SKIP_BUILD:-0}" != 1 ]]; then
	say "cargo build --release -p openclaw-dingtalk"
	(cd "$REPO" && CARGO_TARGET_DIR="$TARGET" cargo build --release -p openclaw-dingtalk >&2)
fi
so="$TARGET/release/$LIB"
[[ -f "$so" ]] || die "$so is missing (cargo build --release -p openclaw-dingtalk)"
grep -q 'openclaw_skill_vtable_v2' "$so" || die "$so has no openclaw_skill_vtable_v2 entry point"

stage="$OUT/stage"
rm -rf -- "$stage"
mkdir -p "$stage/native/$PLATFORM"
cp -- "$PLUGIN_DIR/package.json" "$PLUGIN_DIR/openclaw.plugin.json" "$PLUGIN_DIR/README.md" "$stage/"
cp -R -- "$PLUGIN_DIR/src" "$stage/src"
cp -- "$REPO/LICENSE-MIT" "$REPO/LICENSE-APACHE" "$stage/"
install -m 0755 -- "$so" "$stage/native/$PLATFORM/$LIB"

tgz="$OUT/openclaw-dingtalk-$pkg_version.tgz"
rm -f -- "$tgz"
say "npm pack in $stage"
(cd "$stage" && npm pack --ignore-scripts --pack-destination "$OUT" --loglevel=warn >&2)
[[ -f "$tgz" ]] || die "npm pack did not write $tgz"
rm -rf -- "$stage"
tar -tzf "$tgz" | grep -qx "package/native/$PLATFORM/$LIB" || die "$tgz lacks package/native/$PLATFORM/$LIB"
say "$(du -h -- "$tgz" | cut -f1) $tgz ($(tar -tzf "$tgz" | wc -l) files; native/$PLATFORM/$LIB $(du -h -- "$so" | cut -f1) unpacked)"
printf '%s\n' "$tgz"
