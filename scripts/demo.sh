#!/usr/bin/env bash
# The main job: an FCFS server and a skip-join MLFQ server, side by side.
#
# Starts two mlfqd daemons on free ports (fcfs and mlfq, the OPT-1.3B cost
# profile, one engine, batch 1), sends both the Appendix B dataset
# (99 requests) with Poisson arrivals at 20 requests per model second, prints
# the comparison and each server's distance from the model, and stops both
# daemons. Per-job CSVs, per-token traces and a JSON summary go to out/demo/.
#
# The servers run at --time-scale 0.25: a model second takes a quarter of a
# wall second, so the ~93 model seconds of each run take ~23 s. Every time
# printed is model time. Set TIME_SCALE=1 for real time.
set -euo pipefail
cd "$(dirname "$0")/.."

scale="${TIME_SCALE:-0.25}"
scripts/deps.sh
cmake -S . -B build >/dev/null
cmake --build build -j "$(nproc)" --target mlfqd loadgen >/dev/null

out=out/demo
mkdir -p "$out"
pids=()
stop() {
  local p
  for p in "${pids[@]}"; do
    kill -TERM "$p" 2>/dev/null || true
  done
  for p in "${pids[@]}"; do
    while kill -0 "$p" 2>/dev/null; do sleep 0.1; done
  done
}
trap stop EXIT

for policy in fcfs mlfq; do
  rm -f "$out/$policy.port"
  build/mlfqd --policy "$policy" --listen 127.0.0.1:0 --time-scale "$scale" \
    --daemon --pidfile "$out/$policy.pid" --port-file "$out/$policy.port" \
    --log-file "$out/$policy.log" >/dev/null
  pids+=("$(cat "$out/$policy.pid")")
done

echo "demo: fcfs and mlfq servers at time_scale $scale (model time runs" \
  "$(awk "BEGIN{print 1/$scale}")x faster than wall time); all times below" \
  "are model time"
build/loadgen --server "fcfs=$(cat "$out/fcfs.port")" \
  --server "mlfq=$(cat "$out/mlfq.port")" \
  --workload data/appendix_b.csv --rate 20 --dist poisson \
  --jobs-csv "$out/jobs.csv" --trace-csv "$out/trace.csv" \
  --json "$out/summary.json" "$@"
echo
echo "per-job CSVs, per-token traces, summary.json and server logs are in $out/"
