#!/usr/bin/env bash
# Experiment 2: the Appendix B run. data/appendix_b.csv at rate
# 20 Poisson (seed 1), fcfs and mlfq, against two mlfqd daemons (time scale
# 0.25: model time runs 4x faster than wall time, each run ~23 s), next to
# mlfqsim's model of the same requests. Writes to out/experiments/appendix_b/:
# loadgen.txt, summary.json, jobs-{fcfs,mlfq}.csv, trace-{fcfs,mlfq}.csv
# (per-token), sim-jobs-{fcfs,mlfq}.csv, table.csv, table.md,
# jct-per-job.png/.svg and jct-cdf.png/.svg.
# --quick: time scale 0.02 and the first 20 requests (a few seconds).
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

exp_build
exp_need_gnuplot
DIR="$(exp_out appendix_b)"
rm -f "$DIR"/*

SCALE=0.25
NREQ=()
if [ "$QUICK" = 1 ]; then
  SCALE=0.02
  NREQ=(--num-requests 20)
fi
WORKLOAD=(--workload data/appendix_b.csv --rate 20 --dist poisson --seed 1
  ${NREQ[@]+"${NREQ[@]}"})

echo "appendix_b: time scale $SCALE (model time runs" \
  "$(awk -v s="$SCALE" 'BEGIN { printf "%gx", 1 / s }') faster than wall time)"
if [ "$QUICK" = 1 ]; then
  echo "appendix_b: quick mode, 20 requests; each run takes a few seconds"
else
  echo "appendix_b: each run takes ~23 s of wall time"
fi

exp_daemon --policy fcfs --time-scale "$SCALE"
FCFS_ADDR="$EXP_ADDR"
exp_daemon --policy mlfq --time-scale "$SCALE"
MLFQ_ADDR="$EXP_ADDR"

lg_rc=0
"$BIN/loadgen" --server "fcfs=$FCFS_ADDR" --server "mlfq=$MLFQ_ADDR" \
  "${WORKLOAD[@]}" --jobs-csv "$DIR/jobs.csv" --trace-csv "$DIR/trace.csv" \
  --json "$DIR/summary.json" >"$DIR/loadgen.txt" || lg_rc=$?
cat "$DIR/loadgen.txt"
if [ "$lg_rc" -ge 2 ]; then
  echo "appendix_b: loadgen failed (exit $lg_rc)" >&2
  exit "$lg_rc"
fi
exp_stop_daemons

"$BIN/mlfqsim" "${WORKLOAD[@]}" --policy fcfs,mlfq \
  --jobs-csv "$DIR/sim-jobs.csv" >"$DIR/mlfqsim.txt"

# One row of stats from a per-job CSV: requests ok mean p50 p99 ttft_mean.
# Rows with a status other than ok (loadgen's failures) are counted in
# requests but not in the statistics. Percentiles are nearest-rank.
stats() {
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    { n++
      if ("status" in col && $col["status"] != "ok") next
      ok++; j[ok] = $col["jct_ms"] + 0; sj += $col["jct_ms"]
      st += $col["first_token_ms"] - $col["arrival_ms"] }
    function pct(p,  k) { k = int(p / 100 * ok); if (k < p / 100 * ok) k++
      if (k < 1) k = 1; return j[k] }
    END { if (ok == 0) { printf "%d,0,,,,\n", n; exit }
      # insertion sort: the files are small
      for (a = 2; a <= ok; a++) { v = j[a]
        for (b = a - 1; b >= 1 && j[b] > v; b--) j[b + 1] = j[b]; j[b + 1] = v }
      printf "%d,%d,%.2f,%.2f,%.2f,%.2f\n", n, ok, sj / ok, pct(50), pct(99), st / ok }' "$1"
}

# The JCT CDF of a per-job CSV: jct_ms,fraction (completed jobs only).
cdf() {
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    !("status" in col) || $col["status"] == "ok" { print $col["jct_ms"] + 0 }' "$1" |
    sort -g | awk '{ v[NR] = $1 } END { print "jct_ms,fraction"
      for (i = 1; i <= NR; i++) printf "%s,%.6f\n", v[i], i / NR }'
}

{
  echo "policy,source,requests,completed,jct_mean_ms,jct_p50_ms,jct_p99_ms,ttft_mean_ms,jct_mean_vs_fcfs"
  for src in measured model; do
    if [ "$src" = measured ]; then pre=jobs; else pre=sim-jobs; fi
    base="$(stats "$DIR/$pre-fcfs.csv" | cut -d, -f3)"
    for pol in fcfs mlfq; do
      row="$(stats "$DIR/$pre-$pol.csv")"
      ratio="$(awk -v a="$(echo "$row" | cut -d, -f3)" -v b="$base" \
        'BEGIN { if (a == "" || b == "" || b == 0) print ""; else printf "%.3f", a / b }')"
      echo "$pol,$src,$row,$ratio"
    done
  done
} >"$DIR/table.csv"

awk -F, 'NR == 1 { print "| policy | source | requests | completed | JCT mean (ms) | JCT p50 (ms) | JCT p99 (ms) | TTFT mean (ms) | JCT mean / fcfs |"
    print "|---|---|---:|---:|---:|---:|---:|---:|---:|"; next }
  { printf "|"; for (i = 1; i <= NF; i++) printf " %s |", $i; printf "\n" }' \
  "$DIR/table.csv" >"$DIR/table.md"
{
  echo
  echo "measured: loadgen against mlfqd (time scale $SCALE); model: mlfqsim on the"
  echo "same requests and arrival times. Times are model milliseconds."
} >>"$DIR/table.md"

for pol in fcfs mlfq; do
  cdf "$DIR/jobs-$pol.csv" >"$DIR/cdf-$pol.csv"
  cdf "$DIR/sim-jobs-$pol.csv" >"$DIR/sim-cdf-$pol.csv"
done

exp_plot appendix_b_jct.gp "scale='$SCALE'"
exp_plot appendix_b_cdf.gp "scale='$SCALE'"

echo
cat "$DIR/table.md"
echo
echo "appendix_b: wrote $DIR/"
exit "$lg_rc"
