#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# .ci/peer/exec.sh - `.ci/openclaw-peer.sh exec CMD [ARG...]`: CMD in the peer's namespace (or on
# the host loopback when `start` fell back to it) with peer.env's variables exported.

HERE="$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source=lib.sh
. "$HERE/lib.sh"
# shellcheck source=netns.sh
. "$HERE/netns.sh"

(($# > 0)) || die "usage: $PEER_SH exec CMD [ARG...]"
[[ -s "$PEER_ENV" ]] || die "no $PEER_ENV: run '$PEER_SH start' first"
load_ns
set -a
# shellcheck disable=SC1090 # written by start.sh
. "$PEER_ENV"
set +a
exec "${NS_EXEC[@]}" "$@"
