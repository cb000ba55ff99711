#!/usr/bin/env bash
# Experiment 6: two-level scheduling. Four mlfqd replicas behind
# mlfq-router, for each routing policy (round-robin, random,
# least-requests, least-tokens, power-of-two) x engine policy (fcfs, mlfq):
# mean and p99 JCT and TTFT, measured by loadgen through the router, next
# to mlfqsim's cluster model of the same arrivals (--replicas 4 --route P).
# Two workloads, both Poisson, seed 1, max_batch 1, the OPT-1.3B profile:
#  appendix_b  data/appendix_b.csv at 20/s (one replica would be ~19x
#              overloaded; four are still ~5x);
#  heavy       600 synthetic requests, input uniform:16:1024, output
#              zipf:1.2:512 (a heavy tail), at 0.9 of the four replicas'
#              capacity.
# Eight daemons (four fcfs, four mlfq) serve every routing policy: one
# router per (routing, engine) pair, one loadgen compare run per workload
# sends the identical schedule through each router in turn (time scale
# 0.25: model time runs 4x faster than wall time; about 4 minutes in all).
# Writes to out/experiments/router/: table.csv, table.md, loadgen-*.txt,
# summary-*.json, jobs-*.csv and jct-by-route.png/.svg.
# --quick: 30 and 100 requests, time scale 0.05 (less exact: ten daemons
# on two cores wake every 0.25 ms).
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

exp_build
cmake --build build -j "$(nproc)" --target mlfq-router >/dev/null
exp_need_gnuplot
DIR="$(exp_out router)"
rm -f "$DIR"/*

SCALE=0.25
A_N=()
B_N=600
if [ "$QUICK" = 1 ]; then
  SCALE=0.05
  A_N=(--num-requests 30)
  B_N=100
fi
ROUTES=(round-robin random least-requests least-tokens power-of-two)
ENGINES=(fcfs mlfq)
A_WORK=(--workload data/appendix_b.csv --rate 20 --dist poisson --seed 1
  ${A_N[@]+"${A_N[@]}"})
B_SHAPE=(--input-len uniform:16:1024 --output-len zipf:1.2:512
  --num-requests "$B_N" --dist poisson --seed 1)

# Four replicas' capacity on the heavy workload: requests per second of one
# fcfs engine with every request at time 0, times four.
"$BIN/mlfqsim" "${B_SHAPE[@]}" --rate inf --policy fcfs \
  --json "$EXP_TMP/cap.json" >/dev/null
B_RATE="$(python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print("%.3g" % (0.9 * 4 * d["runs"][0]["summary"]["throughput_rps"]))' \
  "$EXP_TMP/cap.json")"
B_WORK=("${B_SHAPE[@]}" --rate "$B_RATE")
echo "router: heavy workload at $B_RATE req/s (0.9 of four replicas)"

# exp_router ROUTE REPLICA...: starts mlfq-router and sets EXP_ADDR.
exp_router() {
  local route="$1" n=${#EXP_PIDS[@]} r args=()
  shift
  for r in "$@"; do args+=(--replica "$r"); done
  "$BIN/mlfq-router" --listen 127.0.0.1:0 --daemon --log-level warn \
    --policy "$route" "${args[@]}" --pidfile "$EXP_TMP/r$n.pid" \
    --port-file "$EXP_TMP/r$n.port" --log-file "$EXP_TMP/r$n.log" >/dev/null
  EXP_PIDS+=("$(cat "$EXP_TMP/r$n.pid")")
  EXP_ADDR="$(cat "$EXP_TMP/r$n.port")"
}

# Replicas: four fcfs and four mlfq daemons, shared by every router.
declare -A REPS
for eng in "${ENGINES[@]}"; do
  REPS[$eng]=""
  for i in 1 2 3 4; do
    exp_daemon --policy "$eng" --time-scale "$SCALE"
    REPS[$eng]+=" $EXP_ADDR"
  done
done

# Routers start afresh for each workload, so that round-robin's position
# and the random streams start where mlfqsim's do.
ROUTER_PIDS=()
start_routers() {
  local eng route n
  SERVERS=()
  for eng in "${ENGINES[@]}"; do
    for route in "${ROUTES[@]}"; do
      n=${#EXP_PIDS[@]}
      # shellcheck disable=SC2086
      exp_router "$route" ${REPS[$eng]}
      ROUTER_PIDS+=("${EXP_PIDS[$n]}")
      SERVERS+=(--server "$eng-$route=$EXP_ADDR")
    done
  done
  # Every router has every replica up once mlfqctl stats shows them all.
  for s in "${SERVERS[@]}"; do
    [ "$s" = --server ] && continue
    addr="${s#*=}"
    for _ in $(seq 100); do
      up="$("$BIN/mlfqctl" stats --server "$addr" --json 2>/dev/null |
        python3 -c 'import json, sys
print(sum(1 for r in json.load(sys.stdin).get("replicas", []) if r.get("up")))' \
        2>/dev/null || echo 0)"
      [ "$up" = 4 ] && break
      sleep 0.05
    done
    if [ "$up" != 4 ]; then
      echo "router: $addr has $up of 4 replicas up" >&2
      exit 1
    fi
  done
}
stop_routers() {
  local p
  for p in "${ROUTER_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${ROUTER_PIDS[@]}"; do
    while kill -0 "$p" 2>/dev/null; do sleep 0.05; done
  done
  ROUTER_PIDS=()
}

lg_rc=0
for wl in appendix_b heavy; do
  if [ "$wl" = appendix_b ]; then work=("${A_WORK[@]}"); else work=("${B_WORK[@]}"); fi
  start_routers
  rc=0
  "$BIN/loadgen" "${SERVERS[@]}" "${work[@]}" --jobs-csv "$DIR/jobs-$wl.csv" \
    --json "$DIR/summary-$wl.json" >"$DIR/loadgen-$wl.txt" || rc=$?
  cat "$DIR/loadgen-$wl.txt"
  if [ "$rc" -ge 2 ]; then
    echo "router: loadgen failed on $wl (exit $rc)" >&2
    exit "$rc"
  fi
  [ "$rc" -gt "$lg_rc" ] && lg_rc=$rc
  stop_routers
  for route in "${ROUTES[@]}"; do
    "$BIN/mlfqsim" "${work[@]}" --replicas 4 --route "$route" \
      --policy fcfs,mlfq --json "$EXP_TMP/model-$wl-$route.json" >/dev/null
  done
done
exp_stop_daemons

python3 - "$EXP_TMP" "$DIR" "$SCALE" "$B_RATE" <<'EOF'
import csv, json, sys

tmp, out, scale, b_rate = sys.argv[1:5]
ROUTES = ["round-robin", "random", "least-requests", "least-tokens", "power-of-two"]
rows = []
for wl in ("appendix_b", "heavy"):
    runs = json.load(open("%s/summary-%s.json" % (out, wl)))["runs"]
    for r in runs:
        eng, route = r["label"].split("-", 1)
        model = json.load(open("%s/model-%s-%s.json" % (tmp, wl, route)))["runs"]
        m = next(x for x in model if x["label"] == eng)["summary"]
        s = r["summary"]
        rows.append([wl, eng, route, s["requests"] - s["failed"],
                     s["jct_ms"]["mean"], s["jct_ms"]["p99"],
                     s["ttft_ms"]["mean"], s["ttft_ms"]["p99"],
                     m["jct_ms"]["mean"], m["jct_ms"]["p99"],
                     m["ttft_ms"]["mean"], m["ttft_ms"]["p99"]])
rows.sort(key=lambda x: (x[0], x[1], ROUTES.index(x[2])))
header = ["workload", "engine", "route", "completed",
          "jct_mean_ms", "jct_p99_ms", "ttft_mean_ms", "ttft_p99_ms",
          "model_jct_mean_ms", "model_jct_p99_ms", "model_ttft_mean_ms",
          "model_ttft_p99_ms"]
fmt = lambda v: "%.1f" % v if isinstance(v, float) else str(v)
with open(out + "/table.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(header)
    w.writerows([[fmt(v) for v in r] for r in rows])
with open(out + "/table.md", "w") as f:
    f.write("| " + " | ".join(header) + " |\n|" + "---|" * len(header) + "\n")
    for r in rows:
        f.write("| " + " | ".join(fmt(v) for v in r) + " |\n")
    f.write("\nmeasured: loadgen through mlfq-router to four mlfqd replicas "
            "(time scale %s); model: mlfqsim --replicas 4 --route ROUTE on the "
            "same requests. Heavy workload at %s req/s. Times are model ms.\n"
            % (scale, b_rate))
for wl in ("appendix_b", "heavy"):
    with open("%s/plot-%s.dat" % (out, wl), "w") as f:
        for route in ROUTES:
            v = {r[1]: r for r in rows if r[0] == wl and r[2] == route}
            f.write("%s %f %f %f %f\n" % (route, v["fcfs"][4] / 1000, v["mlfq"][4] / 1000,
                                          v["fcfs"][5] / 1000, v["mlfq"][5] / 1000))
EOF

exp_plot router.gp

echo
cat "$DIR/table.md"
echo
echo "router: wrote $DIR/"
exit "$lg_rc"
