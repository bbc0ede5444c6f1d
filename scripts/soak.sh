#!/usr/bin/env bash
# The soak of README ("Soak"): a fresh hub built from this tree, 1,000
# streams that acknowledge what they get and reconnect (one a second),
# 50 notifies/s (one in 50 to all) for DURATION, the hub sampled every
# SAMPLE. Prints one table row per sample and fails on any loss,
# duplicate or error, or if open files or goroutines at the end are not
# back near where they started (a leak of streams or connections).
# Usage: DURATION=1h bash scripts/soak.sh   (default 2m, as in CI)
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${DURATION:-2m} sample=${SAMPLE:-1m} streams=${STREAMS:-1000} rate=${RATE:-50}
. scripts/lib.sh
bench_setup soak
api=127.0.0.1:24601 sse=127.0.0.1:24600
"$work/rtchub" serve --data-dir "$work/data" --api-addr $api --sse-addr $sse 2>"$work/hub.log" &
pid=$!
for _ in $(seq 100); do curl -fs "http://$api/healthz" >/dev/null && break; sleep 0.1; done
"$work/rtchub" bench --api "http://$api" --sse "http://$sse" --pid "$pid" --scenario soak \
  --streams "$streams" --rate "$rate" --duration "$duration" --sample "$sample" >"$work/result.json"
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
python3 - "$work/result.json" "$streams" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); streams = int(sys.argv[2])
print("| minute | RSS (MiB) | goroutines | open fds | streams | pending copies | log (MiB) | notifies |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|")
for s in r["samples"]:
    print(f"| {s['t_s']/60:.1f} | {s['rss_kb']/1024:.1f} | {s['goroutines']} | {s['open_fds']} | {s['streams_open']} | {s['pending_copies']} | {s['log_bytes']/2**20:.1f} | {s['notifies_ok']} |")
print(f"\nnotifies {r['notify_ok']} (errors {r['notify_errors']}), events expected {r['expected_events']}, delivered {r['delivered_events']}, "
      f"lost {r['lost']}, duplicated {r['duplicated']}, acks {r.get('acks_sent', 0)} (errors {r.get('ack_errors', 0)}, not sent {r.get('acks_dropped', 0)}), "
      f"reconnects {r.get('reconnects', 0)}, resets {r.get('resets', 0)}, latency p50 {r['latency_ms_p50']} ms p99 {r['latency_ms_p99']} ms")
first, last = r["samples"][0], r["samples"][-1]
bad = []
if r["lost"] or r["duplicated"] or r["notify_errors"] or r.get("ack_errors", 0):
    bad.append("loss, duplicates or errors")
if last["open_fds"] > first["open_fds"] + streams // 20 + 16:
    bad.append(f"open files grew from {first['open_fds']} to {last['open_fds']}")
if last["goroutines"] > first["goroutines"] + streams // 20 + 32:
    bad.append(f"goroutines grew from {first['goroutines']} to {last['goroutines']}")
if bad:
    sys.exit("soak FAILED: " + "; ".join(bad))
print("soak passed")
PY
