#!/bin/sh
# Installs the runtime layout of openclaw-dingtalk under DESTDIR (default: the real root):
#
#   $PREFIX/bin/openclaw-skill                                   the host
#   $PREFIX/lib/openclaw-dingtalk/libopenclaw_dingtalk.so         the plugin (where the host looks)
#   /etc/openclaw-dingtalk/openclaw-skill.yaml                    the production manifest (kept
#                                                                 when present: the new one goes
#                                                                 next to it as .yaml.new)
#   /etc/openclaw-dingtalk/openclaw-dingtalk.env.example          the environment file's template
#   $PREFIX/lib/systemd/system/openclaw-dingtalk.service          the unit (not with --no-systemd)
#
# PREFIX defaults to /usr/local. BUILD_DIR (default $CARGO_TARGET_DIR/release, else target/release
# of this checkout) holds the release build:
#   cargo build --release -p openclaw-dingtalk -p openclaw-skill
# Used by the Dockerfile and by CI (.ci/run); see docs/deploy.md.
#
#   deploy/install-layout.sh [--no-systemd] [DESTDIR]
set -eu

here=$(cd "$(dirname "$0")" && pwd)
systemd=yes
if [ "${1:-}" = "--no-systemd" ]; then
	systemd=no
	shift
fi
destdir=${1:-}
case "$destdir" in
"" | /*) ;;
*) destdir=$(pwd)/$destdir ;;
esac
prefix=${PREFIX:-/usr/local}
build=${BUILD_DIR:-${CARGO_TARGET_DIR:-$here/../target}/release}

for file in "$build/openclaw-skill" "$build/libopenclaw_dingtalk.so"; do
	if [ ! -f "$file" ]; then
		echo "install-layout.sh: $file is missing: build it first with" >&2
		echo "  cargo build --release -p openclaw-dingtalk -p openclaw-skill" >&2
		exit 1
	fi
done

install -D -m 0755 "$build/openclaw-skill" "$destdir$prefix/bin/openclaw-skill"
install -D -m 0644 "$build/libopenclaw_dingtalk.so" \
	"$destdir$prefix/lib/openclaw-dingtalk/libopenclaw_dingtalk.so"

etc=$destdir/etc/openclaw-dingtalk
install -d -m 0755 "$etc"
if [ -e "$etc/openclaw-skill.yaml" ]; then
	install -m 0644 "$here/openclaw-skill.yaml" "$etc/openclaw-skill.yaml.new"
	echo "install-layout.sh: kept $etc/openclaw-skill.yaml; the shipped one is $etc/openclaw-skill.yaml.new"
else
	install -m 0644 "$here/openclaw-skill.yaml" "$etc/openclaw-skill.yaml"
fi
install -m 0644 "$here/openclaw-dingtalk.env.example" "$etc/openclaw-dingtalk.env.example"

if [ "$systemd" = yes ]; then
	install -d -m 0755 "$destdir$prefix/lib/systemd/system"
	# The unit names /usr/local; another PREFIX is written into it.
	sed "s|/usr/local/|$prefix/|g" "$here/openclaw-dingtalk.service" \
		>"$destdir$prefix/lib/systemd/system/openclaw-dingtalk.service"
	chmod 0644 "$destdir$prefix/lib/systemd/system/openclaw-dingtalk.service"
fi

echo "install-layout.sh: installed under ${destdir:-/}: $prefix/bin/openclaw-skill, $prefix/lib/openclaw-dingtalk/libopenclaw_dingtalk.so, /etc/openclaw-dingtalk/"
