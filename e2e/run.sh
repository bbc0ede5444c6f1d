#!/usr/bin/env bash
# End-to-end interop tests: builds the hub, then runs the node:test files in
# e2e/ against it (npm eventsource v2 + current major, Debian's Chromium, and
# Prometheus' promtool on /metrics, found or fetched by scripts/promtool.sh), and
# holds every answer to api/openapi.json (openapi.mjs).
# Usage: bash e2e/run.sh [test files...]   (default: all e2e/*.test.mjs)
# RTCHUB_BIN=/path/to/binary skips the build and tests that binary instead.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD

# Installed again whenever package-lock.json changed since the last install
# (a checkout that moved on keeps its node_modules).
lock_sum=$(sha256sum e2e/package-lock.json 2>/dev/null | cut -d' ' -f1 || true)
if [ ! -d e2e/node_modules ] || [ "$(cat e2e/node_modules/.rtchub-lock 2>/dev/null)" != "$lock_sum" ]; then
  if [ -f e2e/package-lock.json ]; then
    (cd e2e && npm ci --no-audit --no-fund)
  else
    (cd e2e && npm install --no-audit --no-fund)
  fi
  echo "$lock_sum" >e2e/node_modules/.rtchub-lock
fi

if [ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "run.sh: ${CHROMIUM_PATH:-/usr/bin/chromium} is missing and we cannot apt-get install chromium (not root)" >&2
    exit 1
  fi
fi

if [ -z "${PROMTOOL:-}" ]; then
  PROMTOOL=$(bash scripts/promtool.sh)
  export PROMTOOL
fi

if [ -z "${RTCHUB_BIN:-}" ]; then
  mkdir -p e2e/.bin
  # The release binaries' tags (scripts/dist.sh): test what ships.
  go build -tags "${GOTAGS-nethttpomithttp2}" -o e2e/.bin/rtchub .
  export RTCHUB_BIN="$root/e2e/.bin/rtchub"
fi

cd e2e
if [ "$#" -eq 0 ]; then
  set -- client.test.mjs openapi.test.mjs eventsource.test.mjs browser.test.mjs metrics.test.mjs
fi
exec node --test --test-concurrency=1 --test-reporter=spec "$@"
