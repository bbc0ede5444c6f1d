#!/usr/bin/env bash
# The delivery benchmarks of README ("Measured figures"): each scenario of
# `rtchub bench` three times against a fresh hub built from this tree, on
# loopback, then the median of the figures that matter. Takes ~4 minutes.
# Usage: bash scripts/bench-scenarios.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o "$work/rtchub" .
export RTCHUB_CLIENT_ID=bench RTCHUB_CLIENT_SECRET=bench-secret-for-loopback
api=127.0.0.1:24501 sse=127.0.0.1:24500
pid=
start_hub() {
  [ -n "$pid" ] && { kill "$pid"; wait "$pid" 2>/dev/null || true; }
  rm -rf "$work/data"
  "$work/rtchub" serve --data-dir "$work/data" --api-addr $api --sse-addr $sse 2>"$work/hub.log" &
  pid=$!
  for _ in $(seq 100); do curl -fs "http://$api/healthz" >/dev/null && return; sleep 0.1; done
  echo "hub did not start:" >&2; cat "$work/hub.log" >&2; exit 1
}
scenario() {
  local name=$1; shift
  for _ in $(seq "$runs"); do
    start_hub
    echo "$name $("$work/rtchub" bench --api "http://$api" --sse "http://$sse" --pid "$pid" "$@")" | tee -a "$work/results"
  done
}
scenario idle       --scenario idle --streams 10000 --hold 5s
scenario bcast100   --scenario broadcast --streams 100 --notifies 5000
scenario bcast1000  --scenario broadcast --streams 1000 --notifies 1000 --rate 100
scenario stalled    --scenario broadcast --streams 1000 --notifies 1000 --rate 100 --stalled 1
scenario unicast    --scenario unicast --streams 16 --notifies 30000 --publishers 16
echo
echo "medians over $runs runs:"
python3 - "$work/results" <<'PY'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, js = line.split(" ", 1)
    rows.setdefault(name, []).append(json.loads(js))
show = {"idle": ["hub_rss_kb_per_stream"],
        "bcast100": ["delivered_per_s", "lost", "duplicated"],
        "bcast1000": ["latency_ms_p50", "latency_ms_p99", "lost", "duplicated"],
        "stalled": ["latency_ms_p50", "latency_ms_p99", "lost", "duplicated"],
        "unicast": ["notifies_per_s", "notify_ms_p99", "lost", "duplicated"]}
for name, ds in rows.items():
    print(name, ", ".join(f"{k} {statistics.median(d.get(k, 0) for d in ds)} {[d.get(k, 0) for d in ds]}" for k in show[name]))
PY
