#!/usr/bin/env bash
# Build the Debian packages from the static binaries of `make dist`, with
# dpkg-deb only (no debhelper, no build chroot, no network):
#   dist/rtchub_<version>_amd64.deb  <- dist/rtchub-linux-amd64
#   dist/rtchub_<version>_arm64.deb  <- dist/rtchub-linux-arm64
#   dist/rtchub_<version>_armhf.deb  <- dist/rtchub-linux-armv6  (GOARM=6:
#        Raspberry Pi OS's armhf is ARMv6, so it runs on every Pi, and on
#        Debian's ARMv7 armhf too)
# Each ships /usr/bin/rtchub, /lib/systemd/system/rtchub.service (made from
# ./rtchub.service with ExecStart=/usr/bin/rtchub), the commented conffile
# /etc/rtchub/rtchub.env, docs, a man page, a lintian override, and the
# maintainer scripts in scripts/deb/.
#
# Reproducible: every mtime is SOURCE_DATE_EPOCH (default: the commit time),
# modes are set explicitly, owners are root:root, dpkg-deb sorts the tar and
# compresses with xz on one thread; the same inputs give the same bytes.
#
# Environment: VERSION (default scripts/version.sh), SOURCE_DATE_EPOCH,
# DIST (where the binaries are, default dist), OUT (default $DIST),
# DEB_ARCHES (default "amd64 arm64 armhf"), DEB_MAINTAINER.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "deb: FAIL: $*" >&2; exit 1; }
log() { echo "deb: $*"; }

DIST=${DIST:-dist}
OUT=${OUT:-$DIST}
VERSION=${VERSION:-$(bash scripts/version.sh)}
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
DEB_ARCHES=${DEB_ARCHES:-amd64 arm64 armhf}
DEB_MAINTAINER=${DEB_MAINTAINER:-rtchub maintainers <maintainers@users.noreply.r-seed-4e9db6b5.example>}
export SOURCE_DATE_EPOCH

command -v dpkg-deb >/dev/null || fail "dpkg-deb not found (apt-get install dpkg)"
# Debian policy 5.6.12: upstream_version must start with a digit and hold only
# alphanumerics and . + ~ (and - only with a revision, which we never add).
[[ $VERSION =~ ^[0-9][A-Za-z0-9.+~]*$ ]] || fail "VERSION '$VERSION' is not a valid Debian version (must start with a digit; only A-Za-z0-9.+~)"
[[ $SOURCE_DATE_EPOCH =~ ^[0-9]+$ ]] || fail "SOURCE_DATE_EPOCH '$SOURCE_DATE_EPOCH' is not a number"

T=scripts/deb
for f in control.in conffiles postinst prerm postrm rtchub.env copyright lintian-overrides rtchub.1; do
  [ -f "$T/$f" ] || fail "$T/$f is missing"
done
grep -q '^ExecStart=/usr/local/bin/rtchub ' rtchub.service || fail "rtchub.service: ExecStart= must start with /usr/local/bin/rtchub"

binary_for() { # Debian arch -> dist binary
  case $1 in
    amd64) echo "$DIST/rtchub-linux-amd64" ;;
    arm64) echo "$DIST/rtchub-linux-arm64" ;;
    armhf) echo "$DIST/rtchub-linux-armv6" ;;
    *) return 1 ;;
  esac
}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/rtchub-deb.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
umask 022
mkdir -p "$OUT"

# gzip -9n: no name, no timestamp in the header.
gz() { gzip -9n -c "$1" > "$2"; }

# changelog.gz (a native package: no Debian revision, so lintian wants
# changelog.gz rather than changelog.Debian.gz). One entry for this build,
# dated by the commit.
commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
cldate=$(LC_ALL=C TZ=UTC date -R -d "@$SOURCE_DATE_EPOCH")
cat > "$WORK/changelog" <<EOF
rtchub ($VERSION) unstable; urgency=medium

  * Built from git commit $commit.
    See README.md (/usr/share/doc/rtchub/README.md.gz) for what changed.

 -- $DEB_MAINTAINER  $cldate
EOF

for arch in $DEB_ARCHES; do
  bin=$(binary_for "$arch") || fail "unknown Debian architecture '$arch' (amd64, arm64, armhf)"
  [ -f "$bin" ] || fail "$bin is missing (run make dist)"
  R="$WORK/$arch"
  install -d -m 0755 "$R/DEBIAN" "$R/usr/bin" "$R/lib/systemd/system" "$R/etc/rtchub" \
    "$R/usr/share/doc/rtchub" "$R/usr/share/man/man1" "$R/usr/share/lintian/overrides"
  install -m 0755 "$bin" "$R/usr/bin/rtchub"
  # The one unit file, pointed at the packaged binary (and its man page).
  sed -e 's|/usr/local/bin/rtchub|/usr/bin/rtchub|g' -e '/^Description=/a Documentation=man:rtchub(1)' \
    rtchub.service > "$R/lib/systemd/system/rtchub.service"
  grep -q '^ExecStart=/usr/bin/rtchub serve ' "$R/lib/systemd/system/rtchub.service" || fail "packaged unit has no ExecStart=/usr/bin/rtchub"
  install -m 0644 "$T/rtchub.env" "$R/etc/rtchub/rtchub.env"
  install -m 0644 "$T/copyright" "$R/usr/share/doc/rtchub/copyright"
  gz "$WORK/changelog" "$R/usr/share/doc/rtchub/changelog.gz"
  gz README.md "$R/usr/share/doc/rtchub/README.md.gz"
  gz "$T/rtchub.1" "$R/usr/share/man/man1/rtchub.1.gz"
  install -m 0644 "$T/lintian-overrides" "$R/usr/share/lintian/overrides/rtchub"
  for s in postinst prerm postrm; do install -m 0755 "$T/$s" "$R/DEBIAN/$s"; done
  install -m 0644 "$T/conffiles" "$R/DEBIAN/conffiles"
  chmod 0644 "$R"/usr/share/doc/rtchub/* "$R"/usr/share/man/man1/* "$R/lib/systemd/system/rtchub.service"

  # md5sums of every file but the conffiles (as dh_md5sums does).
  (cd "$R" && find . -type f ! -path './DEBIAN/*' ! -path './etc/*' -printf '%P\n' | LC_ALL=C sort \
     | xargs -d '\n' md5sum) > "$R/DEBIAN/md5sums"
  chmod 0644 "$R/DEBIAN/md5sums"

  # Installed-Size in KiB, as dpkg-gencontrol counts it: each file rounded up
  # to 1 KiB, plus 1 for every directory and symlink.
  size=$(cd "$R" && find . -path ./DEBIAN -prune -o ! -path . -printf '%y %s\n' \
    | awk '$1 == "f" { s += int(($2 + 1023) / 1024) } $1 != "f" { s += 1 } END { print s }')
  sed -e "s|@VERSION@|$VERSION|" -e "s|@ARCH@|$arch|" -e "s|@INSTALLED_SIZE@|$size|" \
      -e "s|@MAINTAINER@|$DEB_MAINTAINER|" "$T/control.in" > "$R/DEBIAN/control"
  chmod 0644 "$R/DEBIAN/control"

  find "$R" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  deb="$OUT/rtchub_${VERSION}_${arch}.deb"
  dpkg-deb --root-owner-group -Zxz -z6 --threads-max=1 --build "$R" "$deb" >/dev/null
  log "$(printf '%-44s %9d bytes  (%s: %s, Installed-Size %s KiB)' "$deb" "$(stat -c %s "$deb")" "$arch" "$bin" "$size")"
done
