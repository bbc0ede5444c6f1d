#!/usr/bin/env bash
# Print the version of this checkout, one that is also a valid Debian
# version and sorts by commit time (used for `rtchub version`, dist/ and the
# .deb packages; VERSION=... in the environment overrides it in the Makefile
# and scripts):
#   at a tag vX.Y.Z            X.Y.Z
#   after a tag vX.Y.Z         X.Y.Z+git<commit time, UTC YYYYMMDDHHMMSS>.<hash>
#   no tag yet                 0~git<commit time, UTC YYYYMMDDHHMMSS>.<hash>
#   uncommitted changes        the above + "+dirty"
#   not a git checkout         0~dev
# The commit time is the committer date (%ct), the same value the Makefile
# uses as SOURCE_DATE_EPOCH, so a checkout always gives the same string.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! git rev-parse --verify -q HEAD >/dev/null 2>&1; then
  echo 0~dev
  exit 0
fi
ct=$(git log -1 --format=%ct HEAD)
stamp=$(TZ=UTC date -d "@$ct" +%Y%m%d%H%M%S)
hash=$(git rev-parse --short=12 HEAD)
if tag=$(git describe --tags --exact-match --match 'v[0-9]*' HEAD 2>/dev/null); then
  v=${tag#v}
elif tag=$(git describe --tags --abbrev=0 --match 'v[0-9]*' HEAD 2>/dev/null); then
  v="${tag#v}+git${stamp}.${hash}"
else
  v="0~git${stamp}.${hash}"
fi
# Untracked files do not count (build output lives in ignored dirs anyway).
if ! git diff --quiet HEAD -- 2>/dev/null; then
  v+="+dirty"
fi
echo "$v"
