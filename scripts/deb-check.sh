#!/usr/bin/env bash
# Check the packages that `make deb` built (dist/rtchub_<version>_*.deb):
#   1. lintian on each: no error and no warning (after the package's own
#      overrides, scripts/deb/lintian-overrides, each with its reason);
#      info tags are printed, not fatal.
#   2. reproducible: the .debs built again from the same binaries into a temp
#      dir are byte-identical (cmp), and the amd64 binary built again with
#      dist.sh's flags is identical to dist/rtchub-linux-amd64.
#   3. contents: binary, unit (ExecStart=/usr/bin/rtchub), conffile, scripts.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "deb-check: FAIL: $*" >&2; exit 1; }
log() { echo "deb-check: $*"; }

GO=${GO:-go}
DIST=${DIST:-dist}
VERSION=${VERSION:-$(bash scripts/version.sh)}
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
. scripts/lib.sh
GOTAGS=$RELEASE_TAGS
export VERSION SOURCE_DATE_EPOCH GOTAGS
command -v lintian >/dev/null || fail "lintian not installed (apt-get install lintian)"

debs=()
for a in amd64 arm64 armhf; do
  f="$DIST/rtchub_${VERSION}_$a.deb"
  [ -f "$f" ] || fail "$f is missing (run make deb)"
  debs+=("$f")
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/rtchub-deb-check.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# --- 1. lintian ---------------------------------------------------------------------
log "$(lintian --version)"
for f in "${debs[@]}"; do
  # One run: --show-overrides prints what the overrides hide (O:, each with
  # its reason from scripts/deb/lintian-overrides); --fail-on none, because
  # overridden tags would count too: the E:/W: lines decide instead.
  rc=0
  lintian --display-info --pedantic --show-overrides --fail-on none "$f" > "$WORK/lintian.out" 2>&1 || rc=$?
  grep -v '^N:' "$WORK/lintian.out" | sed 's/^/  /'
  [ "$rc" -eq 0 ] || fail "lintian $f exited $rc"
  n_e=$(grep -c '^E:' "$WORK/lintian.out" || true)
  n_w=$(grep -c '^W:' "$WORK/lintian.out" || true)
  n_i=$(grep -c '^[IP]:' "$WORK/lintian.out" || true)
  n_o=$(grep -c '^O:' "$WORK/lintian.out" || true)
  [ "$n_e" -eq 0 ] && [ "$n_w" -eq 0 ] || fail "lintian $(basename "$f"): $n_e errors, $n_w warnings (see above)"
  log "lintian $(basename "$f"): $n_e errors, $n_w warnings, $n_i info/pedantic, $n_o overridden"
done

# --- 2. reproducible ------------------------------------------------------------------
mkdir -p "$WORK/again"
OUT="$WORK/again" DIST="$DIST" bash scripts/deb.sh > "$WORK/deb-again.log"
for f in "${debs[@]}"; do
  cmp "$f" "$WORK/again/$(basename "$f")" || fail "$(basename "$f") differs when built again from the same binaries"
done
log "reproducible: the three .debs built again are byte-identical"
CGO_ENABLED=0 GOOS=linux GOARCH=amd64 "$GO" build -trimpath -tags "$GOTAGS" \
  -ldflags "-s -w -X main.version=${VERSION}" -o "$WORK/rtchub-linux-amd64" .
cmp "$DIST/rtchub-linux-amd64" "$WORK/rtchub-linux-amd64" || fail "dist/rtchub-linux-amd64 differs when built again"
log "reproducible: rtchub-linux-amd64 built again is byte-identical"

# --- 3. contents -------------------------------------------------------------------------
for f in "${debs[@]}"; do
  dpkg-deb -c "$f" > "$WORK/list"
  for p in ./usr/bin/rtchub ./lib/systemd/system/rtchub.service ./etc/rtchub/rtchub.env \
           ./usr/share/doc/rtchub/copyright ./usr/share/doc/rtchub/changelog.gz; do
    grep -q " $p\$" "$WORK/list" || fail "$(basename "$f") lacks $p"
  done
  if awk '{print $2}' "$WORK/list" | grep -v '^root/root$' >/dev/null; then fail "$(basename "$f"): an entry is not root/root"; fi
  [ "$(dpkg-deb -f "$f" Version)" = "$VERSION" ] || fail "$(basename "$f"): Version is not $VERSION"
  dpkg-deb --ctrl-tarfile "$f" | tar -t | sort | tr '\n' ' ' > "$WORK/ctrl"
  for c in ./conffiles ./control ./md5sums ./postinst ./postrm ./prerm; do
    grep -q "$c " "$WORK/ctrl" || fail "$(basename "$f") control.tar lacks $c"
  done
  dpkg-deb --fsys-tarfile "$f" | tar -xO ./lib/systemd/system/rtchub.service | grep -q '^ExecStart=/usr/bin/rtchub serve ' \
    || fail "$(basename "$f"): packaged unit's ExecStart is not /usr/bin/rtchub"
  [ "$(dpkg-deb --ctrl-tarfile "$f" | tar -xO ./conffiles)" = /etc/rtchub/rtchub.env ] || fail "$(basename "$f"): conffiles is not /etc/rtchub/rtchub.env"
  log "$(basename "$f"): $(stat -c %s "$f") bytes, $(dpkg-deb -f "$f" Architecture), contents ok"
done
log "all checks passed"
