#!/usr/bin/env bash
# Experiment 7: one replica under memory pressure. Appendix B at Poisson
# 20/s (seed 1), max_batch 8, the default OPT-1.3B profile, fcfs and mlfq,
# with a KV cache of CAP tokens and each on_full mode: defer, recompute and
# swap (0.008 ms per token moved: OPT-1.3B holds 2 x 24 layers x 2048 x 2
# bytes = 192 KiB of KV per token, about 8 us over a 25 GB/s PCIe 4 link).
#  (a) model: mlfqsim over capacities 2048 .. 16384 tokens (the largest
#      request needs 1691).
#  (b) measured: six mlfqd daemons (time scale 0.05) at capacity 8192, one
#      per policy and mode, driven by one loadgen with the identical
#      schedule, next to mlfqsim's model of the same arrivals.
# Writes to out/experiments/memory/: sweep.csv and sweep.md (model),
# measured.csv and measured.md, loadgen.txt, summary.json, jobs-*.csv,
# sweep-jct.png/.svg and sweep-preemptions.png/.svg.
# --quick: the first 30 requests, two capacities, time scale 0.02.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

exp_build
exp_need_gnuplot
DIR="$(exp_out memory)"
rm -f "$DIR"/*

SCALE=0.05
CAPS=(2048 3072 4096 6144 8192 12288 16384)
DCAP=8192
NREQ=()
if [ "$QUICK" = 1 ]; then
  SCALE=0.02
  CAPS=(2048 8192)
  NREQ=(--num-requests 30)
fi
SWAP_MS=0.008
WORKLOAD=(--workload data/appendix_b.csv --rate 20 --dist poisson --seed 1
  ${NREQ[@]+"${NREQ[@]}"})
ENGINE=(--max-batch 8 --swap-ms-per-token "$SWAP_MS")
MODES=(defer recompute swap)

# (a) the model over capacities.
: >"$EXP_TMP/index.csv"
for cap in "${CAPS[@]}"; do
  for mode in "${MODES[@]}"; do
    f="$EXP_TMP/sweep-$cap-$mode.json"
    "$BIN/mlfqsim" "${WORKLOAD[@]}" "${ENGINE[@]}" --policy fcfs,mlfq \
      --kv-capacity-tokens "$cap" --on-full "$mode" --json "$f" >/dev/null
    echo "$cap,$mode,$f" >>"$EXP_TMP/index.csv"
  done
done
echo "memory: (a) model over ${#CAPS[@]} capacities done"

# (b) the daemons at one capacity.
SERVERS=()
for pol in fcfs mlfq; do
  for mode in "${MODES[@]}"; do
    exp_daemon --policy "$pol" --time-scale "$SCALE" "${ENGINE[@]}" \
      --kv-capacity-tokens "$DCAP" --on-full "$mode"
    SERVERS+=(--server "$pol-$mode=$EXP_ADDR")
  done
done
lg_rc=0
"$BIN/loadgen" "${SERVERS[@]}" "${WORKLOAD[@]}" --jobs-csv "$DIR/jobs.csv" \
  --json "$DIR/summary.json" >"$DIR/loadgen.txt" || lg_rc=$?
cat "$DIR/loadgen.txt"
if [ "$lg_rc" -ge 2 ]; then
  echo "memory: loadgen failed (exit $lg_rc)" >&2
  exit "$lg_rc"
fi
exp_stop_daemons
for mode in "${MODES[@]}"; do
  "$BIN/mlfqsim" "${WORKLOAD[@]}" "${ENGINE[@]}" --policy fcfs,mlfq \
    --kv-capacity-tokens "$DCAP" --on-full "$mode" \
    --json "$EXP_TMP/model-$mode.json" >/dev/null
done

python3 - "$EXP_TMP" "$DIR" "$DCAP" "$SCALE" <<'EOF'
import csv, json, sys

tmp, out, dcap, scale = sys.argv[1:5]
COLS = ["jct_mean_ms", "jct_p99_ms", "ttft_mean_ms", "ttft_p99_ms",
        "throughput_tps", "preemptions_per_req", "swapped_tokens", "kv_peak_tokens"]

def row(s):
    return [s["jct_ms"]["mean"], s["jct_ms"]["p99"], s["ttft_ms"]["mean"],
            s["ttft_ms"]["p99"], s["throughput_tps"], s.get("preemption_rate", 0),
            s.get("swapped_tokens", 0), s.get("kv_peak_tokens", "")]

def fmt(v):
    return "%.2f" % v if isinstance(v, float) else str(v)

def md(path, header, rows, note):
    with open(path, "w") as f:
        f.write("| " + " | ".join(header) + " |\n")
        f.write("|" + "---|" * len(header) + "\n")
        for r in rows:
            f.write("| " + " | ".join(fmt(v) for v in r) + " |\n")
        f.write("\n" + note + "\n")

sweep = []
for cap, mode, path in csv.reader(open(tmp + "/index.csv")):
    for r in json.load(open(path))["runs"]:
        sweep.append([int(cap), mode, r["label"]] + row(r["summary"]))
header = ["kv_capacity", "on_full", "policy"] + COLS
with open(out + "/sweep.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(header)
    w.writerows([[fmt(v) for v in r] for r in sweep])
md(out + "/sweep.md", header, sweep,
   "mlfqsim; times are model milliseconds, throughput in output tokens per model second.")
for pol in ("fcfs", "mlfq"):
    for mode in ("defer", "recompute", "swap"):
        with open("%s/plot-%s-%s.csv" % (out, pol, mode), "w") as f:
            for r in sweep:
                if r[1] == mode and r[2] == pol:
                    f.write("%d,%f,%f\n" % (r[0], r[3], r[8]))

measured = []
runs = json.load(open(out + "/summary.json"))["runs"]
for r in runs:
    pol, mode = r["label"].split("-", 1)
    model = json.load(open("%s/model-%s.json" % (tmp, mode)))["runs"]
    m = next(x for x in model if x["label"] == pol)["summary"]
    s = r["summary"]
    err = (s["jct_ms"]["mean"] - m["jct_ms"]["mean"]) / m["jct_ms"]["mean"] * 100
    measured.append([pol, mode, s["requests"] - s["failed"]] + row(s) +
                    [m["jct_ms"]["mean"], m.get("preemption_rate", 0), err])
header = (["policy", "on_full", "completed"] + COLS +
          ["model_jct_mean_ms", "model_preemptions_per_req", "jct_mean_vs_model_pct"])
with open(out + "/measured.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(header)
    w.writerows([[fmt(v) for v in r] for r in measured])
md(out + "/measured.md", header, measured,
   "measured: loadgen against six mlfqd daemons (KV capacity %s tokens, time scale %s); "
   "model: mlfqsim on the same arrivals. kv_peak_tokens is the daemon's." % (dcap, scale))
EOF

exp_plot memory.gp

echo
cat "$DIR/sweep.md"
echo
cat "$DIR/measured.md"
echo
echo "memory: wrote $DIR/"
exit "$lg_rc"
