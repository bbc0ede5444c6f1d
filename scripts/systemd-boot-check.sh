#!/usr/bin/env bash
# Boot the packaged service for real: a minimal Debian 12 under systemd-nspawn.
#   1. A Debian 12 root, built once per machine with
#        debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus bookworm
#      and cached in $ROOTFS_CACHE (default /var/tmp/rtchub-ci/bookworm-minbase);
#      each run works on a copy (cp -a --reflink=auto), the cache stays pristine.
#   2. dpkg -i dist/rtchub_<version>_amd64.deb into the copy (offline, as in a
#      chroot: the postinst makes the first client and enables the unit; there
#      is no systemd running to start it). Then, as an admin would, the two
#      listeners go to free loopback ports in /etc/rtchub/rtchub.env (the
#      container shares the host's network).
#   3. systemd-nspawn --register=no --keep-unit -b, and from the host, through
#      nsenter into the container's systemd:
#        - rtchub.service is enabled and started at boot, /healthz on both ports;
#        - the secret in /etc/rtchub/client_secret arrived as a credential
#          (/run/credentials/rtchub.service/client_secret) and the id from
#          /etc/rtchub/client.env gets a token with it; it is not in the journal;
#        - notifies (202) stay pending across `systemctl kill --signal=SIGKILL
#          --kill-whom=main rtchub`: systemd restarts it (Restart=on-failure);
#        - `rtchub client list` as root goes through the running hub's admin socket;
#        - `systemd-analyze security rtchub` on the booted unit: at most MAX_EXPOSURE (2.0);
#        - `apt-get install ./newer.deb` (VERSION=<this>+bootcheck): the service is
#          restarted on the new binary, every pending message and the client kept;
#        - `systemctl stop rtchub` exits 0, within TimeoutStopSec, the hub exits 0;
#        - `dpkg -r rtchub` stops it and keeps /var/lib/private/rtchub and
#          /etc/rtchub; `dpkg --purge rtchub` deletes both (as README says).
#   4. systemctl poweroff; waits for nspawn to exit. A trap kills the container
#      (and nspawn) on any failure, and the copy is deleted.
# Needs root, debootstrap, systemd-container (systemd-nspawn), util-linux
# (nsenter, flock), curl, and go (to build the newer binary for the upgrade).
# Usage: scripts/systemd-boot-check.sh   (after make deb; VERSION as make deb)
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/lib.sh
unset_rtchub_env

fail() { echo "systemd-boot-check: FAIL: $*" >&2; exit 1; }
log() { echo "systemd-boot-check: [$((SECONDS - T0))s] $*"; }
T0=$SECONDS

GO=${GO:-go}
DIST=${DIST:-dist}
VERSION=${VERSION:-$(bash scripts/version.sh)}
GOTAGS=$RELEASE_TAGS
ROOTFS_CACHE=${ROOTFS_CACHE:-/var/tmp/rtchub-ci/bookworm-minbase}
MAX_EXPOSURE=${MAX_EXPOSURE:-2.0}
BOOT_TIMEOUT=${BOOT_TIMEOUT:-90}
HEALTH_TIMEOUT=${HEALTH_TIMEOUT:-30}
DEB="$DIST/rtchub_${VERSION}_amd64.deb"
# Stamp of the cache: rebuilt when this line changes.
ROOTFS_RECIPE="debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus bookworm (rtchub cache v1)"

[ "$(id -u)" -eq 0 ] || fail "needs root (debootstrap, systemd-nspawn, nsenter)"
[ "$(uname -m)" = x86_64 ] || fail "boots the amd64 package: needs an x86_64 host (this is $(uname -m))"
for c in debootstrap systemd-nspawn nsenter flock curl timeout "$GO"; do
  command -v "$c" >/dev/null || fail "$c not found (apt-get install debootstrap systemd-container util-linux curl)"
done
[ -f "$DEB" ] || fail "$DEB is missing (run make deb)"

# --- 1. the cached Debian 12 root ------------------------------------------------
mkdir -p "$(dirname "$ROOTFS_CACHE")"
exec 9>"$ROOTFS_CACHE.lock"
flock -w 900 9 || fail "another run holds $ROOTFS_CACHE.lock for 15 minutes"
if [ "$(cat "$ROOTFS_CACHE/.rtchub-rootfs" 2>/dev/null)" != "$ROOTFS_RECIPE" ]; then
  log "building the Debian 12 root into $ROOTFS_CACHE (once per machine; ~1-3 min)"
  tmp="$ROOTFS_CACHE.tmp.$$"
  rm -rf "$tmp" "$ROOTFS_CACHE"
  # DEBOOTSTRAP_MIRROR may name a mirror; by default debootstrap picks Debian's.
  if ! debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus bookworm "$tmp" \
      ${DEBOOTSTRAP_MIRROR:+"$DEBOOTSTRAP_MIRROR"} > "$ROOTFS_CACHE.debootstrap.log" 2>&1; then
    tail -n 30 "$ROOTFS_CACHE.debootstrap.log" >&2
    rm -rf "$tmp"
    fail "debootstrap failed (log: $ROOTFS_CACHE.debootstrap.log)"
  fi
  # No machine-id: systemd makes one at each boot of a copy (first boot).
  rm -f "$tmp/etc/machine-id" "$tmp/var/lib/dbus/machine-id"
  : > "$tmp/etc/machine-id"
  apt-get clean -o RootDir="$tmp" 2>/dev/null || rm -f "$tmp"/var/cache/apt/archives/*.deb
  echo "$ROOTFS_RECIPE" > "$tmp/.rtchub-rootfs"
  mv "$tmp" "$ROOTFS_CACHE"
  log "root ready: $(du -sh "$ROOTFS_CACHE" | cut -f1)"
else
  log "using the cached Debian 12 root $ROOTFS_CACHE"
fi

WORK=$(mktemp -d /var/tmp/rtchub-boot-check.XXXXXX)
ROOT="$WORK/root"
MACHINE="rtchub-boot-$$"
NSPAWN_PID= CPID=
cp -a --reflink=auto "$ROOTFS_CACHE" "$ROOT"
flock -u 9
log "copied the root to $ROOT"

in_ct() { timeout "${CT_TIMEOUT:-30}" nsenter -t "$CPID" -a "$@"; }

dump() {
  [ -n "$CPID" ] && kill -0 "$CPID" 2>/dev/null || return 0
  echo "---- journalctl -u rtchub (container) ----" >&2
  CT_TIMEOUT=10 in_ct journalctl -u rtchub --no-pager -n 60 >&2 2>&1 || true
  echo "---- systemctl --failed (container) ----" >&2
  CT_TIMEOUT=10 in_ct systemctl --failed --no-pager >&2 2>&1 || true
}

cleanup() {
  local rc=$?
  trap - EXIT
  [ "$rc" -ne 0 ] && dump
  if [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
    if [ -n "$CPID" ] && kill -0 "$CPID" 2>/dev/null; then
      # Ask the container's systemd to power off (SIGRTMIN+4), then force it.
      kill -s RTMIN+4 "$CPID" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.2; done
      kill -KILL "$CPID" 2>/dev/null || true
    fi
    for _ in $(seq 25); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$NSPAWN_PID" 2>/dev/null || true
    wait "$NSPAWN_PID" 2>/dev/null || true
  fi
  if [ "$rc" -ne 0 ] && [ -f "$WORK/nspawn.log" ]; then
    echo "---- systemd-nspawn output (tail) ----" >&2; tail -n 30 "$WORK/nspawn.log" >&2
  fi
  rm -rf "/run/systemd/nspawn/propagate/$MACHINE" 2>/dev/null || true
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# --- 2. install offline ---------------------------------------------------------------
cp "$DEB" "$ROOT/var/tmp/rtchub.deb"
log "dpkg -i $(basename "$DEB") (offline, systemd-nspawn without boot)"
timeout 120 systemd-nspawn -q --register=no --keep-unit -M "$MACHINE-inst" -D "$ROOT" \
    dpkg -i /var/tmp/rtchub.deb > "$WORK/install.log" 2>&1 || { cat "$WORK/install.log" >&2; fail "dpkg -i failed"; }
# (nspawn's "Attempted to remove disk file system under /run/systemd/nspawn/
# propagate/..." on exit is harmless: nothing is mounted there.)
grep -v 'Reading database\|Attempted to remove disk file system' "$WORK/install.log" | sed 's/^/  | /' || true
rm -f "$ROOT/var/tmp/rtchub.deb"
[ -x "$ROOT/usr/bin/rtchub" ] || fail "/usr/bin/rtchub not installed"
[ -f "$ROOT/lib/systemd/system/rtchub.service" ] || fail "/lib/systemd/system/rtchub.service not installed"
[ -L "$ROOT/etc/systemd/system/multi-user.target.wants/rtchub.service" ] || fail "rtchub.service was not enabled by the postinst"
[ "$(stat -c '%a %U' "$ROOT/etc/rtchub/client_secret")" = "600 root" ] || fail "/etc/rtchub/client_secret is not 0600 root: $(stat -c '%a %U' "$ROOT/etc/rtchub/client_secret")"
CLIENT_ID=$(sed -n 's/^RTCHUB_CLIENT_ID=//p' "$ROOT/etc/rtchub/client.env")
SECRET=$(tr -d ' \n' < "$ROOT/etc/rtchub/client_secret")
[ -n "$CLIENT_ID" ] && [ "${#SECRET}" -ge 32 ] || fail "postinst made no client (id '$CLIENT_ID', secret of ${#SECRET} chars)"
grep -q "created the application client $CLIENT_ID" "$WORK/install.log" || fail "postinst did not say which client it made"
if grep -qF -- "$SECRET" "$WORK/install.log"; then fail "the secret was printed during the install (apt's term.log keeps it)"; fi
log "installed: client $CLIENT_ID, secret in /etc/rtchub/client_secret (0600 root), unit enabled"

free_port || fail "no free port"; API_PORT=$FREE_PORT
free_port || fail "no free port"; SSE_PORT=$FREE_PORT
cat >> "$ROOT/etc/rtchub/rtchub.env" <<EOF

# set by scripts/systemd-boot-check.sh: the container shares the host's network
RTCHUB_API_ADDR=127.0.0.1:$API_PORT
RTCHUB_SSE_ADDR=127.0.0.1:$SSE_PORT
EOF
API="http://127.0.0.1:$API_PORT"

# --- 3. boot ---------------------------------------------------------------------------
log "booting: systemd-nspawn --register=no --keep-unit -M $MACHINE -D $ROOT -b (API :$API_PORT, SSE :$SSE_PORT)"
systemd-nspawn --register=no --keep-unit -M "$MACHINE" -D "$ROOT" -b --console=pipe \
  < /dev/null > "$WORK/nspawn.log" 2>&1 &
NSPAWN_PID=$!
t=$SECONDS
while [ -z "$CPID" ]; do
  kill -0 "$NSPAWN_PID" 2>/dev/null || { NSPAWN_PID=; cat "$WORK/nspawn.log" >&2; fail "systemd-nspawn exited during boot"; }
  [ $((SECONDS - t)) -lt 30 ] || fail "no systemd inside the container after 30 s"
  for c in $(cat /proc/"$NSPAWN_PID"/task/*/children 2>/dev/null); do
    [ "$(cat "/proc/$c/comm" 2>/dev/null)" = systemd ] && CPID=$c
  done
  [ -n "$CPID" ] || sleep 0.2
done
# Until its bus is up, systemctl fails at once: ask again until the boot
# is done (is-system-running --wait then blocks until it is) or time is up.
state=
while [ $((SECONDS - t)) -lt "$BOOT_TIMEOUT" ]; do
  state=$(CT_TIMEOUT=$((BOOT_TIMEOUT - SECONDS + t + 1)) in_ct systemctl is-system-running --wait 2>/dev/null) || true
  case "$state" in running|degraded|maintenance|stopping|offline) break ;; esac
  kill -0 "$NSPAWN_PID" 2>/dev/null || { NSPAWN_PID=; cat "$WORK/nspawn.log" >&2; fail "systemd-nspawn exited during boot"; }
  sleep 0.3
done
log "container systemd is pid $CPID on the host; boot finished: ${state:-unknown} (after $((SECONDS - t))s)"
case "$state" in
  running) ;;
  degraded) in_ct systemctl --failed --no-pager | sed 's/^/  /' ;;
  *) fail "the container did not finish booting within ${BOOT_TIMEOUT}s (state '$state')" ;;
esac

[ "$(in_ct systemctl is-enabled rtchub)" = enabled ] || fail "rtchub is not enabled"
rc=0; wait_healthy "$CPID" "$HEALTH_TIMEOUT" "$API_PORT" "$SSE_PORT" || rc=$?
[ "$rc" -eq 0 ] || fail "rtchub did not answer /healthz on both ports within ${HEALTH_TIMEOUT}s of boot"
[ "$(in_ct systemctl is-active rtchub)" = active ] || fail "rtchub is not active"
log "rtchub.service started at boot: $(in_ct systemctl show rtchub -p MainPID -p ActiveState -p SubState | tr '\n' ' ')"
in_ct /usr/bin/rtchub version | sed 's/^/  /'

# The secret as a credential: systemd copied the root-only file into the
# service's private credentials directory, and the hub took it from there.
in_ct test -s /run/credentials/rtchub.service/client_secret || fail "no /run/credentials/rtchub.service/client_secret in the container"
in_ct cmp -s /etc/rtchub/client_secret /run/credentials/rtchub.service/client_secret || fail "the credential differs from /etc/rtchub/client_secret"
in_ct journalctl -u rtchub --no-pager -o cat > "$WORK/journal" 2>&1 || true
grep -q "application client set from the environment.*client_id=$CLIENT_ID" "$WORK/journal" || fail "the journal does not show client $CLIENT_ID set from the environment"
if grep -qF -- "$SECRET" "$WORK/journal"; then fail "the secret is in the journal"; fi
if grep -q 'created the first application client' "$WORK/journal"; then fail "the hub made its own first client: the credential did not arrive"; fi

expect() { # expect STATUS METHOD PATH [JSON]: the answer's body in $BODY
  local want=$1 status; shift
  status=$(curl -sS --max-time 10 -o "$WORK/body" -w '%{http_code}' -X "$1" "$API$2" \
    -H "Authorization: Bearer ${TOKEN:-}" ${3:+-d "$3"}) || status=000
  BODY=$(cat "$WORK/body" 2>/dev/null || true)
  [ "$status" = "$want" ] || fail "$1 $2: want HTTP $want, got $status: $BODY"
}
field() { printf '%s' "$BODY" | sed -n "s/.*\"$1\":\"\{0,1\}\([^\",}]*\).*/\1/p"; }

TOKEN=
expect 200 POST /api/auth/token "{\"client_id\":\"$CLIENT_ID\",\"client_secret\":\"$SECRET\"}"
TOKEN=$(field access_token)
[ -n "$TOKEN" ] || fail "no access_token for client $CLIENT_ID"
log "the secret arrived as a credential: /run/credentials/rtchub.service/client_secret, and POST /api/auth/token with $CLIENT_ID and it -> 200"

expect 201 POST /api/user '{"id":"alice"}'
MSG_IDS=()
notify() { # notify TEXT: one 202'd message to alice
  local id
  expect 202 POST /api/message/notify "{\"users\":[\"alice\"],\"message\":\"$1\"}"
  id=$(field id)
  [ -n "$id" ] || fail "notify gave no id"
  MSG_IDS+=("$id")
}
for i in 1 2 3 4 5; do notify "before kill $i"; done
check_pending() { # check_pending WHEN: alice has every message of MSG_IDS pending
  local n id
  expect 200 GET /api/user/alice
  n=$(field pending)
  [ "$n" = "${#MSG_IDS[@]}" ] || fail "$1: alice has $n pending, want ${#MSG_IDS[@]}"
  for id in "${MSG_IDS[@]}"; do
    expect 200 GET "/api/message/$id"
    case "$BODY" in *'"acknowledged":false'*) ;; *) fail "$1: message $id is not pending: $BODY" ;; esac
  done
  log "$1: all ${#MSG_IDS[@]} messages still pending for alice"
}
check_pending "before SIGKILL"

main_pid() { in_ct systemctl show rtchub -p MainPID --value; }
wait_restarted() { # wait_restarted OLD_PID WHAT: a new main pid answers /healthz
  local old=$1 t=$SECONDS pid
  while :; do
    pid=$(main_pid 2>/dev/null || echo 0)
    if [ -n "$pid" ] && [ "$pid" != 0 ] && [ "$pid" != "$old" ] && [ "$(in_ct systemctl is-active rtchub 2>/dev/null)" = active ]; then
      break
    fi
    [ $((SECONDS - t)) -lt 30 ] || fail "$2: rtchub was not running again 30 s later (MainPID $pid)"
    sleep 0.2
  done
  local rc=0
  wait_healthy "$CPID" "$HEALTH_TIMEOUT" "$API_PORT" "$SSE_PORT" || rc=$?
  [ "$rc" -eq 0 ] || fail "$2: no /healthz after the restart"
  NEW_PID=$pid
}

# --- SIGKILL: Restart=on-failure, nothing lost ------------------------------------
old=$(main_pid)
in_ct systemctl kill --signal=SIGKILL --kill-whom=main rtchub
wait_restarted "$old" "after SIGKILL"
log "SIGKILL of main pid $old: systemd restarted it as pid $NEW_PID (NRestarts=$(in_ct systemctl show rtchub -p NRestarts --value))"
check_pending "after SIGKILL and restart"
# the same token still works: the signing key is on disk in the state directory

# root's `rtchub client list` goes through the running hub's admin socket
in_ct /usr/bin/rtchub client list --data-dir /var/lib/rtchub > "$WORK/clients" 2>&1 || { cat "$WORK/clients" >&2; fail "rtchub client list --data-dir /var/lib/rtchub failed"; }
grep -q "$CLIENT_ID" "$WORK/clients" || fail "rtchub client list does not show $CLIENT_ID: $(cat "$WORK/clients")"
log "rtchub client list (as root, through the admin socket) shows $CLIENT_ID"

# --- security score of the booted unit ---------------------------------------------
in_ct systemd-analyze security rtchub --no-pager > "$WORK/security" 2>&1 || true
score=$(sed -n 's/.*Overall exposure level for rtchub.service: \([0-9.]*\).*/\1/p' "$WORK/security")
[ -n "$score" ] || { cat "$WORK/security" >&2; fail "no exposure level from systemd-analyze security rtchub"; }
grep -E '^✗' "$WORK/security" | sed 's/^/  /' || true
awk -v s="$score" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(s <= m) }' || fail "systemd-analyze security rtchub: exposure $score, over $MAX_EXPOSURE"
log "systemd-analyze security rtchub (booted): exposure $score (limit $MAX_EXPOSURE)"

# --- upgrade to a newer .deb -----------------------------------------------------------
NEWV="${VERSION}+bootcheck"
mkdir -p "$WORK/new"
log "building a newer package $NEWV (amd64 binary with that version)"
CGO_ENABLED=0 GOOS=linux GOARCH=amd64 "$GO" build -trimpath -tags "$GOTAGS" \
  -ldflags "-s -w -X main.version=$NEWV" -o "$WORK/new/rtchub-linux-amd64" .
VERSION="$NEWV" DIST="$WORK/new" OUT="$WORK/new" DEB_ARCHES=amd64 bash scripts/deb.sh | sed 's/^/  /'
cp "$WORK/new/rtchub_${NEWV}_amd64.deb" "$ROOT/var/tmp/rtchub-new.deb"
chmod 0644 "$ROOT/var/tmp/rtchub-new.deb"
for i in 6 7; do notify "before upgrade $i"; done
cp "$ROOT/etc/rtchub/client_secret" "$WORK/secret.before"
old=$(main_pid)
CT_TIMEOUT=120 in_ct env DEBIAN_FRONTEND=noninteractive apt-get install -y /var/tmp/rtchub-new.deb > "$WORK/upgrade.log" 2>&1 \
  || { cat "$WORK/upgrade.log" >&2; fail "apt-get install ./rtchub_${NEWV}_amd64.deb failed"; }
grep -E 'Unpacking|Setting up' "$WORK/upgrade.log" | sed 's/^/  | /'
[ "$(in_ct dpkg-query -W -f '${Version}' rtchub)" = "$NEWV" ] || fail "dpkg does not show $NEWV installed"
wait_restarted "$old" "after the upgrade"
in_ct /usr/bin/rtchub version | grep -qF " $NEWV " || fail "the binary is not the new one: $(in_ct /usr/bin/rtchub version)"
log "upgrade: pid $old -> $NEWV as pid $NEW_PID"
cmp -s "$WORK/secret.before" "$ROOT/etc/rtchub/client_secret" || fail "the upgrade changed /etc/rtchub/client_secret"
grep -q "RTCHUB_API_ADDR=127.0.0.1:$API_PORT" "$ROOT/etc/rtchub/rtchub.env" || fail "the upgrade lost the edit of /etc/rtchub/rtchub.env"
expect 200 POST /api/auth/token "{\"client_id\":\"$CLIENT_ID\",\"client_secret\":\"$SECRET\"}"
check_pending "after the upgrade"
in_ct journalctl -u rtchub --no-pager -o cat _PID="$old" > "$WORK/journal.old" 2>&1 || true
grep -q 'msg=stopped' "$WORK/journal.old" || fail "the old hub (pid $old) did not log a clean stop on the upgrade's restart"

# --- systemctl stop ------------------------------------------------------------------------
limit=$(in_ct systemctl show rtchub -p TimeoutStopUSec --value)
t1=$(date +%s%N)
rc=0; CT_TIMEOUT=60 in_ct systemctl stop rtchub || rc=$?
ms=$(( ($(date +%s%N) - t1) / 1000000 ))
[ "$rc" -eq 0 ] || fail "systemctl stop rtchub exited $rc"
[ "$ms" -lt 20000 ] || fail "systemctl stop took ${ms} ms, not within TimeoutStopSec ($limit)"
prop() { in_ct systemctl show rtchub -p "$1" --value; }
st="Result=$(prop Result) ExecMainStatus=$(prop ExecMainStatus) ActiveState=$(prop ActiveState)"
[ "$st" = "Result=success ExecMainStatus=0 ActiveState=inactive" ] || fail "after systemctl stop: $st (want Result=success ExecMainStatus=0 ActiveState=inactive)"
log "systemctl stop rtchub: exit 0 after ${ms} ms (TimeoutStopSec=$limit): $st"

# --- dpkg -r keeps the data, purge deletes it -----------------------------------------
in_ct systemctl start rtchub
rc=0; wait_healthy "$CPID" "$HEALTH_TIMEOUT" "$API_PORT" "$SSE_PORT" || rc=$?
[ "$rc" -eq 0 ] || fail "rtchub did not start again before dpkg -r"
CT_TIMEOUT=120 in_ct dpkg -r rtchub > "$WORK/remove.log" 2>&1 || { cat "$WORK/remove.log" >&2; fail "dpkg -r rtchub failed"; }
st=$(in_ct systemctl is-active rtchub 2>/dev/null || true)
[ "$st" != active ] || fail "rtchub still active after dpkg -r"
port_free "$API_PORT" || fail "something still listens on :$API_PORT after dpkg -r"
[ ! -e "$ROOT/usr/bin/rtchub" ] || fail "/usr/bin/rtchub still there after dpkg -r"
[ -s "$ROOT/var/lib/private/rtchub/rtchub.log" ] || fail "dpkg -r did not keep /var/lib/private/rtchub/rtchub.log"
[ -f "$ROOT/var/lib/private/rtchub/signing.key" ] || fail "dpkg -r did not keep the signing key"
[ -f "$ROOT/etc/rtchub/client_secret" ] && [ -f "$ROOT/etc/rtchub/rtchub.env" ] || fail "dpkg -r did not keep /etc/rtchub"
log "dpkg -r: service stopped ($st), binary gone, kept /var/lib/private/rtchub ($(ls "$ROOT/var/lib/private/rtchub" | tr '\n' ' ')) and /etc/rtchub"
CT_TIMEOUT=120 in_ct dpkg --purge rtchub > "$WORK/purge.log" 2>&1 || { cat "$WORK/purge.log" >&2; fail "dpkg --purge rtchub failed"; }
for p in /var/lib/private/rtchub /var/lib/rtchub /etc/rtchub /etc/systemd/system/multi-user.target.wants/rtchub.service; do
  [ ! -e "$ROOT$p" ] && [ ! -L "$ROOT$p" ] || fail "dpkg --purge left $p"
done
log "dpkg --purge: deleted /var/lib/private/rtchub, /var/lib/rtchub, /etc/rtchub and the enablement link"

# --- power off ---------------------------------------------------------------------------
in_ct systemctl poweroff >/dev/null 2>&1 || true
t=$SECONDS
while kill -0 "$NSPAWN_PID" 2>/dev/null; do
  [ $((SECONDS - t)) -lt 30 ] || fail "the container did not power off within 30 s"
  sleep 0.2
done
rc=0; wait "$NSPAWN_PID" || rc=$?
NSPAWN_PID=
[ "$rc" -eq 0 ] || fail "systemd-nspawn exited $rc after poweroff"
log "container powered off (nspawn exit 0)"
log "all checks passed"
