#!/usr/bin/env bash
# Check rtchub.service against a built binary:
#   1. systemd-analyze verify on a temp copy of the unit whose ExecStart=
#      points at BINARY (verify checks that ExecStart exists). Any error, or
#      any warning about the unit file (unknown key, bad syntax), fails.
#   2. systemd-analyze security --offline=yes: prints the exposure score
#      (informational only, never fails).
#   3. Sandbox dry run under strace (skipped with a notice if strace is
#      missing or ptrace is not allowed): `rtchub serve` runs roughly as the
#      unit runs it (umask 077, LimitNOFILE, cwd /, secret file holding only
#      the unit's SetCredential= default) and must answer /healthz. Fails if
#      it makes a system call that SystemCallFilter= would block, opens a
#      socket family outside RestrictAddressFamilies=, or writes files
#      outside its data dir / /tmp / /dev (ProtectSystem=strict).
# Usage: scripts/systemd-check.sh [BINARY]   (default bin/rtchub)
set -euo pipefail
cd "$(dirname "$0")/.."

UNIT=rtchub.service
BIN=${1:-bin/rtchub}
HEALTH_TIMEOUT=${HEALTH_TIMEOUT:-30}

. scripts/lib.sh
unset_rtchub_env

fail() { echo "systemd-check: FAIL: $*" >&2; exit 1; }
log() { echo "systemd-check: $*"; }

[ -f "$UNIT" ] || fail "$UNIT not found"
[ -x "$BIN" ] || fail "$BIN not found or not executable (run make build)"
BIN=$(realpath "$BIN")
command -v systemd-analyze >/dev/null || fail "systemd-analyze not installed (apt-get install systemd)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/rtchub-systemd-check.XXXXXX")
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    # strace's child first: killing strace alone would leave it running
    local c
    for c in $(cat "/proc/$SERVER_PID/task/$SERVER_PID/children" 2>/dev/null); do
      kill -KILL "$c" 2>/dev/null || true
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

unit_value() { # unit_value KEY -> all values of KEY= in the unit, one per line
  sed -n "s/^$1=//p" "$UNIT"
}

# --- 1. verify ------------------------------------------------------------------
grep -q '^ExecStart=/usr/local/bin/rtchub ' "$UNIT" || fail "ExecStart= in $UNIT must start with /usr/local/bin/rtchub (make install substitutes it)"
sed "s|/usr/local/bin/rtchub|$BIN|g" "$UNIT" > "$WORK/$UNIT"
log "systemd $(systemd-analyze --version | sed -n '1s/^systemd //p')"
log "systemd-analyze verify $UNIT (ExecStart -> $BIN)"
rc=0
out=$(systemd-analyze verify --man=no "$WORK/$UNIT" 2>&1) || rc=$?
[ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/  /'
if [ "$rc" -ne 0 ]; then
  fail "systemd-analyze verify exited with $rc"
fi
if printf '%s\n' "$out" | grep -F "$UNIT" >/dev/null; then
  fail "systemd-analyze verify reported problems in $UNIT (see above)"
fi
log "verify: OK (no errors or warnings for $UNIT)"

# --- 2. security score (informational) ---------------------------------------
if sec=$(systemd-analyze security --offline=yes --no-pager "$WORK/$UNIT" 2>&1); then
  printf '%s\n' "$sec" | grep -E '^✗' | sed 's/^/  /' || true
  score=$(printf '%s\n' "$sec" | grep -E 'Overall exposure level' | tail -n 1)
  log "security: ${score#→ }"
else
  log "security: systemd-analyze security --offline=yes not usable here (ignored):"
  printf '%s\n' "$sec" | tail -n 3 | sed 's/^/  /'
fi

# --- 3. sandbox dry run under strace ----------------------------------------------
if ! command -v strace >/dev/null; then
  log "sandbox dry run: SKIPPED (strace not installed; apt-get install strace)"
  exit 0
fi
if ! strace -f -qq -o /dev/null true 2>/dev/null; then
  log "sandbox dry run: SKIPPED (ptrace not permitted here)"
  exit 0
fi

# Expand a systemd syscall group (recursively) into syscall names.
declare -A GROUP_DONE=()
expand_group() {
  local g=$1 item
  [ -n "${GROUP_DONE[$g]:-}" ] && return 0
  GROUP_DONE[$g]=1
  while read -r item; do
    case "$item" in
      ''|'#'*|"$g") ;;
      @*) expand_group "$item" ;;
      *) echo "$item" ;;
    esac
  done < <(systemd-analyze syscall-filter --no-pager "$g")
}
# allowed = (allow-list entries) minus (~deny-list entries), as in the unit.
allow=() deny=()
while read -r line; do
  [ -z "$line" ] && continue
  if [ "${line:0:1}" = "~" ]; then read -ra w <<<"${line:1}"; deny+=("${w[@]}")
  else read -ra w <<<"$line"; allow+=("${w[@]}"); fi
done < <(unit_value SystemCallFilter)
[ "${#allow[@]}" -gt 0 ] || fail "no SystemCallFilter= allow list in $UNIT"
expand_list() { local e; for e in "$@"; do GROUP_DONE=(); case "$e" in @*) expand_group "$e" ;; *) echo "$e" ;; esac; done; }
expand_list "${allow[@]}" | sort -u > "$WORK/allow.txt"
expand_list "${deny[@]}" | sort -u > "$WORK/deny.txt"
comm -23 "$WORK/allow.txt" "$WORK/deny.txt" > "$WORK/allowed.txt"
log "sandbox dry run: SystemCallFilter allows $(wc -l < "$WORK/allowed.txt") syscalls (${allow[*]} minus ${deny[*]})"

nofile=$(unit_value LimitNOFILE | tail -n 1)
families=$(unit_value RestrictAddressFamilies | tail -n 1)
data="$WORK/state/rtchub"
mkdir -p "$data" "$WORK/creds"
chmod 0700 "$data"
# Same content as the unit's SetCredential= default (no secret configured).
printf '\n' > "$WORK/creds/client_secret"
free_port; api_port=$FREE_PORT
free_port; sse_port=$FREE_PORT
trace="$WORK/trace" logf="$WORK/serve.log"
log "sandbox dry run: strace -f $BIN serve --api-addr 127.0.0.1:$api_port --sse-addr 127.0.0.1:$sse_port --data-dir $data"
(
  cd /
  umask 0077
  [ -n "$nofile" ] && ulimit -n "$nofile" 2>/dev/null || true
  export RTCHUB_CLIENT_SECRET_FILE="$WORK/creds/client_secret" STATE_DIRECTORY="$data" \
    CREDENTIALS_DIRECTORY="$WORK/creds"
  exec strace -f -qq -y -s 4096 -o "$trace" "$BIN" serve \
    --api-addr "127.0.0.1:$api_port" --sse-addr "127.0.0.1:$sse_port" --data-dir "$data"
) >"$logf" 2>&1 &
SERVER_PID=$!
rc=0
wait_healthy "$SERVER_PID" "$HEALTH_TIMEOUT" "$api_port" "$sse_port" || rc=$?
if [ "$rc" -ne 0 ]; then
  [ "$rc" -eq 2 ] && wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
  echo "---- serve log ----" >&2; tail -n 40 "$logf" >&2
  fail "sandbox dry run: serve (as configured by the unit, with an empty client secret file) did not answer /healthz on both ports within ${HEALTH_TIMEOUT}s"
fi
log "sandbox dry run: /healthz ok on both ports"
# SIGTERM must go to the traced rtchub (strace's child): strace itself would
# just detach and leave it running.
TRACEE=$(cat "/proc/$SERVER_PID/task/$SERVER_PID/children" 2>/dev/null | awk '{print $1}')
[ -n "$TRACEE" ] || fail "cannot find the traced rtchub process (child of strace $SERVER_PID)"
stop_server "$SERVER_PID" 20 "$TRACEE" || { SERVER_PID=; fail "serve did not stop within 20s of SIGTERM (TimeoutStopSec=20s)"; }
SERVER_PID=
log "sandbox dry run: stopped on SIGTERM, exit status $STOP_RC"

# syscalls made (strace -f -o: "PID name(args..." ; skip "<... resumed>")
sed -nE 's/^[0-9]+ +([a-z_][a-z0-9_]*)\(.*/\1/p' "$trace" | sort -u > "$WORK/used.txt"
# strace -f sometimes stops a thread it has just attached to before the
# registers hold a syscall number and prints the register as one, e.g.
# syscall_0x7f078d7fb000: that is an address, not a call the program made
# (x86-64 numbers are below 0x200, x32 ones below 0x40000400). Report such
# entries but do not count them.
bogus=$(grep -E '^syscall_0x[0-9a-f]{9,}$' "$WORK/used.txt" || true)
if [ -n "$bogus" ]; then
  log "sandbox dry run: ignored strace mis-decodes (addresses read as syscall numbers): $(echo $bogus)"
  grep -vE '^syscall_0x[0-9a-f]{9,}$' "$WORK/used.txt" > "$WORK/used2.txt" || true
  mv "$WORK/used2.txt" "$WORK/used.txt"
fi
blocked=$(comm -23 "$WORK/used.txt" "$WORK/allowed.txt")
log "sandbox dry run: serve made $(wc -l < "$WORK/used.txt") distinct syscalls"
problems=0
if [ -n "$blocked" ]; then
  echo "systemd-check: syscalls that SystemCallFilter= would block (EPERM):" >&2
  for s in $blocked; do
    echo "  $s   e.g.: $(grep -m1 -E "^[0-9]+ +$s\(" "$trace" | cut -c1-160)" >&2
  done
  problems=1
fi

# socket families
used_fams=$(sed -nE 's/^[0-9]+ +socket\((AF_[A-Z0-9_]+).*/\1/p' "$trace" | sort -u)
for f in $used_fams; do
  case " $families " in
    *" $f "*) ;;
    *) echo "systemd-check: socket family $f is not in RestrictAddressFamilies=$families" >&2; problems=1 ;;
  esac
done

# writes outside the writable places (ProtectSystem=strict, ProtectHome=yes).
# strace -y prints directory fds as N</path> (and AT_FDCWD</cwd>), so *at()
# paths can be resolved; the server runs in / like the unit.
bad_writes=$(
  grep -E '^[0-9]+ +((open|openat|openat2|creat)\(.*O_(WRONLY|RDWR|CREAT|TRUNC)|(mkdir|mkdirat|rename|renameat|renameat2|unlink|unlinkat|rmdir|link|linkat|symlinkat|truncate|chmod|fchmodat|utimensat|mknodat)\()' "$trace" \
  | awk '{
      line = $0
      while (match(line, /(AT_FDCWD|[0-9]+)(<[^>]*>)?, "[^"]*"|\("[^"]*"/)) {
        m = substr(line, RSTART, RLENGTH); line = substr(line, RSTART + RLENGTH)
        q = index(m, "\""); path = substr(m, q + 1); sub(/"$/, "", path)
        dir = "/"
        if (m ~ /^[A-Z_0-9]+</) { dir = m; sub(/^[A-Z_0-9]+</, "", dir); sub(/>.*/, "", dir) }
        if (path !~ /^\//) path = dir "/" path
        print path
      }
    }' \
  | while read -r p; do realpath -m -s -- "$p"; done | sort -u \
  | while read -r p; do
      case "$p" in
        "$data"|"$data"/*|/tmp|/tmp/*|/var/tmp/*|/dev/*|/proc/self/*|/proc/thread-self/*) ;;
        *) echo "$p" ;;
      esac
    done
)
if [ -n "$bad_writes" ]; then
  echo "systemd-check: writes outside the data dir, /tmp and /dev (read-only under ProtectSystem=strict):" >&2
  printf '  %s\n' $bad_writes >&2
  problems=1
fi

if [ "$problems" -ne 0 ]; then
  fail "sandbox dry run found calls the unit's sandbox would refuse: fix the code or relax $UNIT"
fi
log "sandbox dry run: OK (syscalls within SystemCallFilter, families within RestrictAddressFamilies, writes only in the data dir)"
log "all checks passed"
