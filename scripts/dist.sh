#!/usr/bin/env bash
# Build static, stripped release binaries into dist/ plus dist/SHA256SUMS:
#   rtchub-linux-amd64  rtchub-linux-arm64  rtchub-linux-armv7  rtchub-linux-armv6
# Built with -tags nethttpomithttp2 (GOTAGS): rtchub speaks HTTP/1.1 only
# (streams are hijacked connections, no TLS), so net/http's bundled HTTP/2
# is dead weight (about 0.5 MiB per binary); and with -tags rtchub_nopprof:
# release binaries cannot serve Go's profiles (--pprof), which saves another
# half MiB, and with rtchub_nobench: no `rtchub bench` load generator
# (make build keeps both, for profiling and measuring); together they keep
# linux/arm64 under 6 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
VERSION=${VERSION:-$(bash scripts/version.sh)}
. scripts/lib.sh
GOTAGS=$RELEASE_TAGS
LDFLAGS="-s -w -X main.version=${VERSION}"
OUT=dist

# name GOARCH GOARM(- = unset)
TARGETS=(
  "amd64 amd64 -"
  "arm64 arm64 -"
  "armv7 arm   7"
  "armv6 arm   6"
)

rm -rf "$OUT"
mkdir -p "$OUT"
echo "dist: version ${VERSION}"
for t in "${TARGETS[@]}"; do
  read -r name goarch goarm <<<"$t"
  bin="$OUT/rtchub-linux-${name}"
  envs=(CGO_ENABLED=0 GOOS=linux "GOARCH=${goarch}")
  [ "$goarm" != - ] && envs+=("GOARM=${goarm}")
  echo "==> ${envs[*]} $GO build -trimpath -tags \"${GOTAGS}\" -ldflags \"${LDFLAGS}\" -o ${bin} ."
  env "${envs[@]}" "$GO" build -trimpath -tags "$GOTAGS" -ldflags "$LDFLAGS" -o "$bin" .
done

(cd "$OUT" && sha256sum rtchub-linux-* > SHA256SUMS)

echo "dist: binaries"
for f in "$OUT"/rtchub-linux-*; do
  size=$(stat -c %s "$f")
  printf '  %-28s %9d bytes  %6.2f MiB\n' "$(basename "$f")" "$size" "$(awk -v s="$size" 'BEGIN{print s/1048576}')"
done
echo "dist: $OUT/SHA256SUMS"
sed 's/^/  /' "$OUT/SHA256SUMS"
