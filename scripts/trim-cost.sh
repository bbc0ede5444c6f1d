#!/usr/bin/env bash
# What the quiet trim costs on a large heap (README "Quiet trim"): a fresh
# hub, a flood nobody acknowledges (`rtchub bench --scenario broadcast`,
# STREAMS x NOTIFIES pending copies, kept), then /healthz probed one request
# at a time through the quiet spell in which the hub trims. Prints the
# trim's own debug line (how long it took, the live heap after it) and the
# probes' latency, so a pause in serving during the trim would show.
# Usage: bash scripts/trim-cost.sh [STREAMS] [NOTIFIES] [PROBE_SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
streams=${1:-1000} notifies=${2:-10000} secs=${3:-20}
. scripts/lib.sh
bench_setup bench
api=127.0.0.1:24711 sse=127.0.0.1:24710
"$work/rtchub" serve --data-dir "$work/data" --api-addr $api --sse-addr $sse --max-pending -1 \
  --log-level debug 2>"$work/hub.log" &
pid=$!
wait_healthy "$pid" 30 24711
"$work/rtchub" bench --api "http://$api" --sse "http://$sse" --pid "$pid" --scenario broadcast \
  --streams "$streams" --notifies "$notifies" --keep --settle 2s >"$work/flood.json"
echo "flood: $streams streams x $notifies notifies, RSS $(awk '/^VmRSS/{print $2, $3}' /proc/$pid/status)"
end=$((SECONDS + secs))
: >"$work/probes"
while [ $SECONDS -lt $end ]; do
  curl -fsS -o /dev/null -w '%{time_total}\n' "http://$api/healthz" >>"$work/probes"
done
echo "after $secs s: RSS $(awk '/^VmRSS/{print $2, $3}' /proc/$pid/status)"
grep 'memory trimmed' "$work/hub.log" || echo "no trim in $secs s"
sort -g "$work/probes" | awk '{a[NR]=$1} END{printf "probes %d: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", NR, 1000*a[int(NR/2)+1], 1000*a[int(NR*0.99)+1], 1000*a[NR]}'
