# Shared helpers for scripts/*.sh (sourced, not run).

# The build tags of the release binaries (dist, the .deb packages): no
# HTTP/2 (rtchub speaks HTTP/1.1), no --pprof, no `rtchub bench`. make build
# keeps the last two.
RELEASE_TAGS=${RELEASE_TAGS:-nethttpomithttp2,rtchub_nopprof,rtchub_nobench}

# free_port: sets FREE_PORT to a loopback TCP port that currently refuses
# connections and that this script has not handed out before. Starts at a
# pid-derived offset so parallel runs don't race for the same numbers.
_USED_PORTS=" "
_NEXT_PORT=$((20000 + ($$ * 37 + RANDOM) % 30000))
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
  local tries=0
  while :; do
    _NEXT_PORT=$((_NEXT_PORT + 1))
    [ "$_NEXT_PORT" -ge 60000 ] && _NEXT_PORT=20000
    tries=$((tries + 1))
    if [ "$tries" -gt 2000 ]; then echo "no free loopback port found" >&2; return 1; fi
    case "$_USED_PORTS" in *" $_NEXT_PORT "*) continue ;; esac
    if port_free "$_NEXT_PORT"; then
      _USED_PORTS+="$_NEXT_PORT "
      FREE_PORT=$_NEXT_PORT
      return 0
    fi
  done
}

# wait_healthy PID TIMEOUT PORT... : polls http://127.0.0.1:PORT/healthz on
# every PORT until each answered 200 with "ok" in the body. Returns 0 when
# all did, 1 on timeout, 2 if PID exited first. Sets HEALTH_TOOK (seconds).
wait_healthy() {
  local pid=$1 timeout=$2; shift 2
  local -A ok=()
  local start=$SECONDS p body n
  while [ $((SECONDS - start)) -lt "$timeout" ]; do
    kill -0 "$pid" 2>/dev/null || { HEALTH_TOOK=$((SECONDS - start)); return 2; }
    n=0
    for p in "$@"; do
      if [ -z "${ok[$p]:-}" ] && body=$(curl -fsS --max-time 2 "http://127.0.0.1:$p/healthz" 2>/dev/null); then
        case "$body" in *'"ok"'*) ok[$p]=1 ;; esac
      fi
      [ -n "${ok[$p]:-}" ] && n=$((n + 1))
    done
    if [ "$n" -eq "$#" ]; then HEALTH_TOOK=$((SECONDS - start)); return 0; fi
    sleep 0.5
  done
  HEALTH_TOOK=$((SECONDS - start))
  return 1
}

# stop_server PID TIMEOUT [TARGET]: SIGTERM to TARGET (default PID), wait up
# to TIMEOUT s for PID (a child of this shell) to exit, then SIGKILL both.
# Returns 0 if it exited in time (exit status in STOP_RC), 1 if it had to be
# killed.
stop_server() {
  local pid=$1 timeout=$2 target=${3:-$1} t0=$SECONDS
  STOP_RC=0
  kill -TERM "$target" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null && [ $((SECONDS - t0)) -lt "$timeout" ]; do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$target" "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    return 1
  fi
  wait "$pid" 2>/dev/null || STOP_RC=$?
  return 0
}

# bench_setup CLIENT: the start of the scripts that measure a hub built
# from this tree (soak.sh, idle-scale.sh). Makes work, a temporary
# directory holding the binary ($work/rtchub), removed at exit together
# with the hub whose pid the script keeps in pid; raises the open-files
# limit to the hard one, as every stream is a file; and exports the
# application client CLIENT, which the hub creates and the bench uses.
bench_setup() {
  work=$(mktemp -d)
  pid=
  trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
  go build -trimpath -o "$work/rtchub" .
  ulimit -n "$(ulimit -Hn)"
  export RTCHUB_CLIENT_ID=$1 RTCHUB_CLIENT_SECRET=$1-secret-for-loopback
}

# Drop RTCHUB_* settings inherited from the caller's environment.
unset_rtchub_env() {
  local v
  while read -r v; do unset "$v"; done < <(compgen -e | grep '^RTCHUB_' || true)
}
