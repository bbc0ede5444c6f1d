#!/usr/bin/env bash
# Smoke-test the release binaries in dist/ (run `make dist` first):
#   - every binary is at most MAX_BYTES (7 MiB), linux/arm64 at most
#     ARM64_MAX_BYTES (6 MiB, the issue's budget for a Pi), and statically
#     linked;
#   - amd64 natively (on an x86_64 host), arm64/armv7/armv6 under qemu-user:
#     `rtchub version` names the right arch, and `rtchub serve` with a temp
#     data dir answers GET /healthz on both ports within HEALTH_TIMEOUT (30 s)
#     and exits after SIGTERM.
# qemu: qemu-aarch64-static / qemu-arm-static (Debian qemu-user-static) or
# qemu-aarch64 / qemu-arm (qemu-user). Missing qemu is a failure unless
# QEMU_OPTIONAL=1.
set -euo pipefail
cd "$(dirname "$0")/.."

DIST=${DIST:-dist}
MAX_BYTES=${MAX_BYTES:-$((7 * 1024 * 1024))}
ARM64_MAX_BYTES=${ARM64_MAX_BYTES:-$((6 * 1024 * 1024))}
HEALTH_TIMEOUT=${HEALTH_TIMEOUT:-30}
STOP_TIMEOUT=${STOP_TIMEOUT:-20}

. scripts/lib.sh
# Settings from the caller's environment must not leak into the test servers.
unset_rtchub_env

WORK=$(mktemp -d "${TMPDIR:-/tmp}/rtchub-qemu-check.XXXXXX")
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() { echo "qemu-check: FAIL: $*" >&2; exit 1; }
log() { echo "qemu-check: $*"; }

command -v curl >/dev/null || fail "curl is not installed"

find_qemu() { # find_qemu aarch64|arm
  local c
  for c in "qemu-$1-static" "qemu-$1"; do
    if command -v "$c" >/dev/null 2>&1; then command -v "$c"; return 0; fi
  done
  return 1
}

# --- 1. size and static linking --------------------------------------------
ARCHES=(amd64 arm64 armv7 armv6)
log "checking sizes (limit ${MAX_BYTES} bytes)"
for a in "${ARCHES[@]}"; do
  bin="$DIST/rtchub-linux-$a"
  [ -f "$bin" ] || fail "$bin is missing (run make dist)"
  size=$(stat -c %s "$bin")
  limit=$MAX_BYTES
  [ "$a" = arm64 ] && limit=$ARM64_MAX_BYTES
  if [ "$size" -gt "$limit" ]; then
    fail "$bin is $size bytes, over the limit of $limit bytes"
  fi
  printf '  %-26s %9d bytes  ok\n' "$(basename "$bin")" "$size"
  if command -v readelf >/dev/null 2>&1; then
    if readelf -lW "$bin" | grep -q 'INTERP'; then
      fail "$bin is dynamically linked (has an ELF interpreter)"
    fi
  fi
done
if [ -f "$DIST/SHA256SUMS" ]; then
  (cd "$DIST" && sha256sum --quiet -c SHA256SUMS) || fail "SHA256SUMS does not match"
  log "SHA256SUMS ok"
fi

# --- 2. run each binary ---------------------------------------------------------
# check_one NAME EXPECT_REGEX RUNNER...   (RUNNER may be empty for native)
RESULTS=()
check_one() {
  local name=$1 expect=$2; shift 2
  local runner=("$@")
  local bin; bin=$(realpath "$DIST/rtchub-linux-$name")
  local out attempt

  log "---- $name: ${runner[*]:-(native)} $bin"
  out=$("${runner[@]}" "$bin" version 2>&1) || fail "$name: 'rtchub version' failed: $out"
  log "$name: version: $out"
  echo "$out" | grep -Eq "$expect" || fail "$name: version output does not match /$expect/: $out"

  for attempt in 1 2 3; do
    free_port || fail "no free port"; local api_port=$FREE_PORT
    free_port || fail "no free port"; local sse_port=$FREE_PORT
    local data="$WORK/$name-data-$attempt" logf="$WORK/$name-serve-$attempt.log" rc=0
    mkdir -p "$data"
    log "$name: serve --api-addr 127.0.0.1:$api_port --sse-addr 127.0.0.1:$sse_port --data-dir $data"
    (cd "$WORK" && exec "${runner[@]}" "$bin" serve \
        --api-addr "127.0.0.1:$api_port" --sse-addr "127.0.0.1:$sse_port" \
        --data-dir "$data") >"$logf" 2>&1 &
    SERVER_PID=$!

    wait_healthy "$SERVER_PID" "$HEALTH_TIMEOUT" "$api_port" "$sse_port" || rc=$?
    if [ "$rc" -eq 2 ]; then
      wait "$SERVER_PID" || true
      SERVER_PID=
      if grep -qi 'address already in use' "$logf" && [ "$attempt" -lt 3 ]; then
        log "$name: port clash, retrying with other ports"
        continue
      fi
      echo "---- serve log ($name) ----" >&2; tail -n 50 "$logf" >&2
      fail "$name: serve exited before /healthz answered on both ports"
    fi
    if [ "$rc" -ne 0 ]; then
      echo "---- serve log ($name) ----" >&2; tail -n 50 "$logf" >&2
      fail "$name: /healthz did not answer 200 {\"status\":\"ok\"} on both ports within ${HEALTH_TIMEOUT}s"
    fi
    log "$name: /healthz ok on both ports after ~${HEALTH_TOOK}s"

    if ! stop_server "$SERVER_PID" "$STOP_TIMEOUT"; then
      SERVER_PID=
      echo "---- serve log ($name) ----" >&2; tail -n 50 "$logf" >&2
      fail "$name: serve did not exit within ${STOP_TIMEOUT}s of SIGTERM"
    fi
    SERVER_PID=
    if [ "$STOP_RC" -ne 0 ]; then
      log "$name: WARNING: serve exited with status $STOP_RC after SIGTERM (expected 0)"
      tail -n 20 "$logf" | sed 's/^/    /'
    else
      log "$name: stopped cleanly on SIGTERM"
    fi
    RESULTS+=("$name: ok (version, healthz after ~${HEALTH_TOOK}s, exit $STOP_RC on SIGTERM)")
    return 0
  done
  fail "$name: could not get free ports"
}

host=$(uname -m)
if [ "$host" = x86_64 ]; then
  check_one amd64 'linux/amd64'
else
  RESULTS+=("amd64: skipped (host is $host)")
fi

missing=()
if q=$(find_qemu aarch64); then
  # cortex-a53: plain ARMv8.0, like a Raspberry Pi 3/4.
  check_one arm64 'linux/arm64' "$q" -cpu cortex-a53
else
  missing+=(qemu-aarch64)
fi
if q=$(find_qemu arm); then
  # cortex-a7: ARMv7 + VFPv4 (Raspberry Pi 2). arm1176: ARMv6 + VFPv2
  # (Raspberry Pi 1 / Zero), so armv6 really runs on a v6 CPU model.
  check_one armv7 'linux/arm($|[^0-9])' "$q" -cpu cortex-a7
  check_one armv6 'linux/arm($|[^0-9])' "$q" -cpu arm1176
else
  missing+=(qemu-arm)
fi

if [ "${#missing[@]}" -gt 0 ]; then
  msg="${missing[*]} not found (apt-get install qemu-user-static)"
  if [ "${QEMU_OPTIONAL:-0}" = 1 ]; then
    RESULTS+=("SKIPPED: $msg")
  else
    fail "$msg"
  fi
fi

log "summary:"
printf '  %s\n' "${RESULTS[@]}"
log "all checks passed"
