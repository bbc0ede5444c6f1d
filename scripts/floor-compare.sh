#!/usr/bin/env bash
# rtchub beside the bare net/http broadcaster (the floor) in one run, with the
# shared ssebench load tool: broadcast (100 streams, 8 publishers) and unicast
# (1,000 streams each its own user, 16 publishers, every notify fsync'd), each
# round interleaved floor / hub(s), then medians and ratios, and the median
# of each run's p50 latency from publish to receipt.
#
# Usage: bash scripts/floor-compare.sh [RUNS] [HUB_BINARY...]
#   RUNS defaults to 3; without binaries the hub is built from this tree.
#   TOOLS (default scripts/floor) holds baseline/ and ssebench/.
#   MODES (default "broadcast unicast") picks scenarios; HUB_FLAGS are
#   added to every hub's serve flags (e.g. --fsync never).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
shift || true
tools=${TOOLS:-scripts/floor}
modes=${MODES:-broadcast unicast}
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
(cd "$tools/baseline" && go build -o "$work/floor" .)
(cd "$tools/ssebench" && go build -o "$work/ssebench" .)
hubs=("$@")
if [ ${#hubs[@]} -eq 0 ]; then
  go build -trimpath -o "$work/rtchub" . && hubs=("$work/rtchub")
fi
ulimit -n "$(ulimit -Hn)"
export RTCHUB_CLIENT_ID=bench RTCHUB_CLIENT_SECRET=bench-secret-0123456789

wait_up() { for _ in $(seq 200); do curl -fs -o /dev/null "$1" && return; sleep 0.05; done; echo "not up: $1" >&2; exit 1; }
args() {
  case $1 in
    broadcast) echo "-mode broadcast -subs 100 -msgs 5000 -pubconc 8 -drain 10s -timeout 120s" ;;
    unicast) echo "-mode unicast -subs 1000 -msgs 10000 -pubconc 16 -drain 10s -timeout 120s" ;;
  esac
}
for r in $(seq "$runs"); do
  for m in $modes; do
    "$work/floor" -listen 127.0.0.1:28092 2>/dev/null & f=$!; pids+=("$f")
    sleep 0.3
    echo "$m floor $("$work/ssebench" $(args "$m") -target ntfy -api http://127.0.0.1:28092 -pid $f 2>/dev/null)" >>"$work/results"
    kill "$f"; wait "$f" 2>/dev/null || true
    i=0
    for h in "${hubs[@]}"; do
      i=$((i + 1))
      rm -rf "$work/data"
      "$h" serve --data-dir "$work/data" --api-addr 127.0.0.1:28094 --sse-addr 127.0.0.1:28095 --max-streams 30000 --max-pending -1 ${HUB_FLAGS:-} 2>"$work/hub.log" & p=$!; pids+=("$p")
      wait_up http://127.0.0.1:28094/healthz
      echo "$m hub$i $("$work/ssebench" $(args "$m") -target hub -api http://127.0.0.1:28094 -sse http://127.0.0.1:28095 -pid $p -client-id bench -client-secret bench-secret-0123456789 2>/dev/null)" >>"$work/results"
      kill "$p"; wait "$p" 2>/dev/null || true
    done
  done
  echo "round $r done" >&2
done
i=0
for h in "${hubs[@]}"; do i=$((i + 1)); echo "hub$i = $h"; done
python3 - "$work/results" <<'PY'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    mode, who, js = line.split(" ", 2)
    rows.setdefault((mode, who), []).append(json.loads(js))
def fig(mode, d):
    n = d["delivered"] if mode == "broadcast" else d["published"]
    rate = d["delivered_per_s"] if mode == "broadcast" else d["publish_per_s"]
    return {"cpu_us": 1e6 * d["cpu_s"]["server"] / max(n, 1), "rate": rate, "lost": d["lost"], "dup": d["duplicates"],
            "p50": d["latency_ms"]["p50"]}
for mode in ("broadcast", "unicast"):
    floor = rows.get((mode, "floor"))
    if not floor:
        continue
    unit = "µs CPU per delivered event" if mode == "broadcast" else "µs CPU per notify"
    rate = "delivered/s" if mode == "broadcast" else "notifies/s"
    base = {k: statistics.median(fig(mode, d)[k] for d in floor) for k in ("cpu_us", "rate")}
    for (m, who), ds in sorted(rows.items()):
        if m != mode:
            continue
        figs = [fig(mode, d) for d in ds]
        cpu = statistics.median(f["cpu_us"] for f in figs)
        rt = statistics.median(f["rate"] for f in figs)
        p50 = statistics.median(f["p50"] for f in figs)
        print(f"{mode:9} {who:5} {unit} {cpu:7.2f} ({cpu / base['cpu_us']:.2f}x)  {rate} {rt:9.0f} ({rt / base['rate']:.2f}x)"
              f"  latency p50 {p50:.2f} ms"
              f"  lost {sum(f['lost'] for f in figs)} dup {sum(f['dup'] for f in figs)}"
              f"  runs cpu {[round(f['cpu_us'], 2) for f in figs]} rate {[round(f['rate']) for f in figs]}")
PY
