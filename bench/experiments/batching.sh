#!/usr/bin/env bash
# Experiment 5: FCFS vs skip-join MLFQ with continuous
# batching (max_batch 1, 8, 32) and under FastServe's own workload shape
# (Zipf output lengths, bursty gamma arrivals), with the SRPT oracle as the
# floor. mlfqsim only (default OPT-1.3B profile, iteration-level
# preemption, one engine), 10 seeds per point.
#  (a) batching: Appendix B lengths cycled to 1000 requests, Poisson
#      arrivals at 0.5, 0.7, 0.85 and 0.95 of each batch size's capacity;
#      max_batch 1, 8, 32; fcfs, mlfq, srpt.
#  (b) FastServe shape: synthetic input uniform:16:1024, output
#      zipf:1.2:1024, gamma arrivals with cv 4, at the same fractions of
#      capacity; max_batch 1 and 8; fcfs, naive-mlfq, mlfq, srpt.
# Capacity = the lowest throughput (req/s) of the policies when every
# request arrives at time 0 (seed 1), measured per batch size and workload.
# Writes to out/experiments/batching/: points.csv (one row per seed),
# summary.csv and summary.md (mean and sd over seeds; ratios of mean JCT to
# fcfs and srpt), jct-batching.png/.svg and fastserve.png/.svg.
# --quick: 2 seeds and 100 requests (a few seconds).
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

exp_build
exp_need_gnuplot
DIR="$(exp_out batching)"
rm -f "$DIR"/*

NSEEDS=10
NREQ=1000
if [ "$QUICK" = 1 ]; then
  NSEEDS=2
  NREQ=100
fi
LOADS=(0.5 0.7 0.85 0.95)
A_WORK=(--workload data/appendix_b.csv --num-requests "$NREQ" --dist poisson)
A_POL=fcfs,mlfq,srpt
A_BATCH=(1 8 32)
B_WORK=(--input-len uniform:16:1024 --output-len zipf:1.2:1024
  --num-requests "$NREQ" --dist gamma --cv 4)
B_POL=fcfs,naive-mlfq,mlfq,srpt
B_BATCH=(1 8)
RUNS="$EXP_TMP/runs"
mkdir -p "$RUNS"

# capacity POLICIES BATCH WORKLOAD...: the lowest throughput_rps of the
# policies with every request at time 0.
capacity() {
  local pol="$1" b="$2"
  shift 2
  "$BIN/mlfqsim" "$@" --rate inf --seed 1 --max-batch "$b" --policy "$pol" \
    --json "$EXP_TMP/cap.json" >/dev/null
  python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print("%.6g" % min(r["summary"]["throughput_rps"] for r in d["runs"]))' \
    "$EXP_TMP/cap.json"
}

# sweep PART POLICIES BATCH WORKLOAD...: every load and seed, one JSON each.
sweep() {
  local part="$1" pol="$2" b="$3"
  shift 3
  local cap load rate s
  cap="$(capacity "$pol" "$b" "$@")"
  echo "batching: ($part) max_batch $b: capacity $cap req/s"
  for load in "${LOADS[@]}"; do
    rate="$(awk -v c="$cap" -v l="$load" 'BEGIN { printf "%.3g", c * l }')"
    for s in $(seq 1 "$NSEEDS"); do
      "$BIN/mlfqsim" "$@" --rate "$rate" --seed "$s" --max-batch "$b" \
        --policy "$pol" --json "$RUNS/$part-b$b-l$load-s$s.json" >/dev/null
      echo "$part,$b,$cap,$load,$rate,$s,$RUNS/$part-b$b-l$load-s$s.json" >>"$EXP_TMP/index.csv"
    done
  done
}

: >"$EXP_TMP/index.csv"
for b in "${A_BATCH[@]}"; do sweep a "$A_POL" "$b" "${A_WORK[@]}"; done
for b in "${B_BATCH[@]}"; do sweep b "$B_POL" "$b" "${B_WORK[@]}"; done

python3 - "$EXP_TMP/index.csv" "$DIR" "$NSEEDS" "$NREQ" <<'EOF'
import csv, json, math, os, sys
from collections import OrderedDict

index, out, nseeds, nreq = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
PART = {"a": "batching (Appendix B lengths, Poisson)",
        "b": "FastServe shape (uniform:16:1024 in, zipf:1.2:1024 out, gamma cv 4)"}

points = []
for part, b, cap, load, rate, seed, path in csv.reader(open(index)):
    d = json.load(open(path))
    for r in d["runs"]:
        s = r["summary"]
        points.append(OrderedDict(
            part=part, max_batch=int(b), capacity_rps=float(cap), load=float(load),
            rate=float(rate), seed=int(seed), policy=r["label"],
            requests=s["requests"], failed=s["failed"],
            jct_mean_ms=s["jct_ms"]["mean"], jct_p99_ms=s["jct_ms"]["p99"],
            ttft_mean_ms=s["ttft_ms"]["mean"], ttft_p99_ms=s["ttft_ms"]["p99"],
            throughput_rps=s["throughput_rps"]))

with open(out + "/points.csv", "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(points[0].keys()))
    w.writeheader()
    for p in points:
        w.writerow({k: ("%.3f" % v if isinstance(v, float) else v) for k, v in p.items()})

def ms(xs):
    m = sum(xs) / len(xs)
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0
    return m, sd

groups = OrderedDict()
for p in points:
    groups.setdefault((p["part"], p["max_batch"], p["load"], p["rate"], p["capacity_rps"]),
                      OrderedDict()).setdefault(p["policy"], []).append(p)

METRICS = ["jct_mean_ms", "jct_p99_ms", "ttft_mean_ms", "ttft_p99_ms"]
rows = []
for (part, b, load, rate, cap), pols in groups.items():
    means = {pol: ms([p["jct_mean_ms"] for p in ps])[0] for pol, ps in pols.items()}
    for pol, ps in pols.items():
        row = OrderedDict(part=part, max_batch=b, capacity_rps=cap, load=load, rate=rate,
                          policy=pol, seeds=len(ps))
        for m in METRICS:
            row[m], row[m.replace("_ms", "_sd_ms")] = ms([p[m] for p in ps])
        row["jct_mean_vs_fcfs"] = means[pol] / means["fcfs"]
        row["jct_mean_vs_srpt"] = means[pol] / means["srpt"]
        rows.append(row)

with open(out + "/summary.csv", "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
    w.writeheader()
    for r in rows:
        w.writerow({k: ("%.4g" % v if k.startswith("capacity") or k == "rate" else
                        "%.3f" % v if isinstance(v, float) else v) for k, v in r.items()})

# Plot data: one file per part, batch size and policy: rate,load,mean,sd,p99,p99sd,ttft,ttftsd
for r in rows:
    fn = "%s/plot-%s-b%d-%s.csv" % (out, r["part"], r["max_batch"], r["policy"])
    new = not os.path.exists(fn)
    with open(fn, "a") as f:
        if new:
            f.write("rate,load,jct_mean,jct_mean_sd,jct_p99,jct_p99_sd,ttft_mean,ttft_mean_sd\n")
        f.write("%g,%g,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f\n" % (
            r["rate"], r["load"], r["jct_mean_ms"], r["jct_mean_sd_ms"], r["jct_p99_ms"],
            r["jct_p99_sd_ms"], r["ttft_mean_ms"], r["ttft_mean_sd_ms"]))

def s(v):  # seconds, 3 significant digits
    return "%.3g" % (v / 1000)

md = ["# Experiment 5: batching and FastServe's workload shape", "",
      "mlfqsim, default OPT-1.3B profile, one engine, iteration-level preemption, "
      "mlfq/naive-mlfq with 4 queues and quantum rate 2. %s requests per run, %s seeds "
      "per point (seeds 1..%s); each cell is mean ± sd over seeds, in model **seconds**. "
      "load = rate / capacity, where capacity is the lowest throughput of the policies "
      "with every request at time 0 (seed 1). Ratios are of the seed-averaged mean JCTs."
      % (nreq, nseeds, nseeds), ""]
for part in ["a", "b"]:
    md += ["## (%s) %s" % (part, PART[part]), "",
           "| max_batch | load | rate (req/s) | policy | JCT mean (s) | JCT p99 (s) | TTFT mean (s) | TTFT p99 (s) | JCT mean / fcfs | JCT mean / srpt |",
           "|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if r["part"] != part:
            continue
        md.append("| %d | %.2f | %.3g | %s | %s ± %s | %s ± %s | %s ± %s | %s ± %s | %.3f | %.3f |" % (
            r["max_batch"], r["load"], r["rate"], r["policy"],
            s(r["jct_mean_ms"]), s(r["jct_mean_sd_ms"]), s(r["jct_p99_ms"]), s(r["jct_p99_sd_ms"]),
            s(r["ttft_mean_ms"]), s(r["ttft_mean_sd_ms"]), s(r["ttft_p99_ms"]), s(r["ttft_p99_sd_ms"]),
            r["jct_mean_vs_fcfs"], r["jct_mean_vs_srpt"]))
    md.append("")
md += ["## mlfq's mean JCT against fcfs and srpt", "",
       "| part | max_batch | load | mlfq / fcfs | mlfq / srpt |", "|---|---:|---:|---:|---:|"]
for r in rows:
    if r["policy"] == "mlfq":
        md.append("| %s | %d | %.2f | %.3f | %.3f |" % (
            r["part"], r["max_batch"], r["load"], r["jct_mean_vs_fcfs"], r["jct_mean_vs_srpt"]))
md.append("")
open(out + "/summary.md", "w").write("\n".join(md))
EOF

if gnuplot -e 'set terminal' 2>&1 | grep -q pngcairo; then PNG=pngcairo; else PNG=png; fi
here="$(dirname "$0")"
for t in "$PNG" svg; do
  ext=png
  [ "$t" = svg ] && ext=svg
  gnuplot -e "dir='$DIR'; term='$t'; ext='$ext'; nseeds='$NSEEDS'; nreq='$NREQ'" \
    "$here/batching.gp"
done

echo
cat "$DIR/summary.md"
echo
echo "batching: wrote $DIR/"
