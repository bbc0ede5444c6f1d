#!/usr/bin/env bash
# Print the path of a working promtool (Prometheus' checker), getting it if
# needed: promtool on PATH, else the copy cached in $PROMTOOL_CACHE (default
# /var/tmp/rtchub-ci/promtool), else Debian's `prometheus` package is
# downloaded with `apt-get download` (no install) and only /usr/bin/promtool
# is taken out of it into the cache.
# Why not `apt-get install prometheus`: its maintainer scripts start a
# Prometheus server (systemd unit, or /etc/init.d on a box without systemd)
# that would stay behind after CI; and it pulls in ~15 web asset packages.
set -euo pipefail

fail() { echo "promtool.sh: FAIL: $*" >&2; exit 1; }

if command -v promtool >/dev/null 2>&1; then command -v promtool; exit 0; fi
CACHE=${PROMTOOL_CACHE:-/var/tmp/rtchub-ci/promtool}
if [ -x "$CACHE/promtool" ] && "$CACHE/promtool" --version >/dev/null 2>&1; then
  echo "$CACHE/promtool"; exit 0
fi
command -v apt-get >/dev/null || fail "no promtool on PATH and no apt-get to fetch Debian's prometheus package"
mkdir -p "$CACHE"
tmp=$(mktemp -d "$CACHE/dl.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
chmod 0755 "$tmp" # apt's _apt user writes the download here
if ! (cd "$tmp" && apt-get download -q prometheus) >"$tmp/log" 2>&1; then
  # Package lists may be missing or stale on a fresh machine.
  apt-get update -q >"$tmp/update.log" 2>&1 || { cat "$tmp/update.log" >&2; fail "apt-get update failed"; }
  (cd "$tmp" && apt-get download -q prometheus) >"$tmp/log" 2>&1 || { cat "$tmp/log" >&2; fail "apt-get download prometheus failed"; }
fi
deb=$(ls "$tmp"/prometheus_*.deb)
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" ./usr/bin/promtool
install -m 0755 "$tmp/usr/bin/promtool" "$CACHE/promtool.new"
mv -f "$CACHE/promtool.new" "$CACHE/promtool"
"$CACHE/promtool" --version >/dev/null 2>&1 || fail "$CACHE/promtool does not run"
echo "promtool.sh: $("$CACHE/promtool" --version 2>&1 | head -n 1), from $(basename "$deb")" >&2
echo "$CACHE/promtool"
