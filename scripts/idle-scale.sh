#!/usr/bin/env bash
# Idle streams at growing counts (README "Idle streams at scale"): for each
# count a fresh hub, `rtchub bench --scenario idle` holding the streams, and,
# while they are held, what the kernel holds for them: slab memory (socket
# structs, files, epoll entries) from /proc/meminfo and TCP buffer pages from
# /proc/net/sockstat, both ends of each loopback connection together.
# Usage: bash scripts/idle-scale.sh [COUNTS...]   (default 1000 5000 10000 19000)
set -euo pipefail
cd "$(dirname "$0")/.."
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(1000 5000 10000 19000)
. scripts/lib.sh
bench_setup bench
api=127.0.0.1:24701 sse=127.0.0.1:24700
slab() { awk '/^Slab:/{print $2}' /proc/meminfo; }
tcpmem() { awk '/^TCP:/{for(i=1;i<NF;i++) if($i=="mem") print $(i+1)}' /proc/net/sockstat; }
for n in "${counts[@]}"; do
  rm -rf "$work/data"
  "$work/rtchub" serve --data-dir "$work/data" --api-addr $api --sse-addr $sse --max-streams 20000 --max-streams-per-user 32 2>"$work/hub.log" &
  pid=$!
  for _ in $(seq 100); do curl -fs "http://$api/healthz" >/dev/null && break; sleep 0.1; done
  sync; echo 2 >/proc/sys/vm/drop_caches 2>/dev/null || true
  s0=$(slab)
  "$work/rtchub" bench --api "http://$api" --sse "http://$sse" --pid "$pid" --scenario idle --streams "$n" --base-wait 11s --hold 20s >"$work/res.json" &
  b=$!
  # Sample while the streams are held: once the hub's count reaches n.
  for _ in $(seq 600); do
    [ "$(ls /proc/$pid/fd 2>/dev/null | wc -l)" -ge "$n" ] && break
    sleep 0.1
  done
  sleep 3
  s1=$(slab) tm=$(tcpmem)
  wait "$b"
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
  echo "$n $s0 $s1 $tm $(cat "$work/res.json")" >>"$work/rows"
done
python3 - "$work/rows" <<'PY'
import json, sys
print("| streams | hub RSS (MiB) | RSS per stream (KiB) | per stream since the row before (KiB) | kernel slab per connection, both ends (KiB) | TCP buffer pages |")
print("|---:|---:|---:|---:|---:|---:|")
prev = None
for line in open(sys.argv[1]):
    n, s0, s1, tm, js = line.split(" ", 4)
    n, s0, s1, tm = int(n), int(s0), int(s1), int(tm)
    r = json.loads(js)
    rss = r["hub_rss_kb_streams"]
    marginal = f"{(rss - prev[1]) / (n - prev[0]):.2f}" if prev else "—"
    print(f"| {n} | {rss/1024:.1f} | {r['hub_rss_kb_per_stream']:.2f} | {marginal} | {(s1 - s0)/n:.2f} | {tm} |")
    prev = (n, rss)
PY
