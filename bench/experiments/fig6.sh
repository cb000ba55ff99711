#!/usr/bin/env bash
# Experiment 1: FastServe's Figure 6 reproduced (docs/MODEL.md, "Figure 6").
#
# Three jobs arrive at 0 (data/figure6.csv: prompts 5, 1, 2 tokens, 2 output
# tokens each) on one engine with batch 1. For each policy (fcfs,
# naive-mlfq, mlfq, srpt) it runs
#   - the model: mlfqsim with 1 ms per prompt token, 1 ms per decode and a
#     1 ms quantum, which must give the golden JCTs of the figure;
#   - the real thing: an mlfqd daemon with the same model scaled by 20
#     (20 ms per token and per decode, 20 ms quantum) driven by loadgen,
#     whose measured JCTs are divided by 20 to be in the figure's units.
# Writes into out/experiments/fig6/: table.csv and table.md (JCT of J1, J2,
# J3 and their average, model and daemon, plus mlfq's token order),
# gantt-POLICY.png/.svg (the model's iterations, one row per engine, each
# box labelled with the tokens it produces, e.g. J2T1) and gantt-all.png/.svg
# (the four policies as four rows), and prints the table.
#
# Usage: bench/experiments/fig6.sh [--quick]
#   --quick  same run (it already takes about a second per policy)
source "$(dirname "$0")/common.sh"

exp_need_gnuplot
exp_build
OUT="$(exp_out fig6)"
POLICIES=(fcfs naive-mlfq mlfq srpt)
SCALE=20
declare -A GOLDEN=([fcfs]="6 8 11 8.33" [naive-mlfq]="9 10 11 10"
  [mlfq]="11 4 5 6.67" [srpt]="11 2 5 6")

# Prints JCT 1..3 and their mean of a jobs CSV (jct_ms column) divided by
# $2; model values without trailing zeros, daemon values with 2 decimals.
jcts() {
  awk -F, -v div="$2" -v exact="$3" '
    function fmt(x,  s) {
      s = sprintf("%.2f", x)
      if (exact) { sub(/0+$/, "", s); sub(/\.$/, "", s) }
      return s
    }
    NR == 1 { for (i = 1; i <= NF; i++) if ($i == "jct_ms") c = i; next }
    { v[NR - 1] = $c / div; sum += $c / div; n++ }
    END { printf "%s %s %s %s\n", fmt(v[1]), fmt(v[2]), fmt(v[3]), fmt(sum / n) }
  ' "$1"
}

echo "policy,model_J1,model_J2,model_J3,model_avg,daemon_J1,daemon_J2,daemon_J3,daemon_avg" \
  >"$OUT/table.csv"
fail=0
for p in "${POLICIES[@]}"; do
  "$BIN/mlfqsim" --workload data/figure6.csv --policy "$p" \
    --prefill-ms-per-token 1 --decode-ms 1 --quantum-ms 1 \
    --jobs-csv "$OUT/model-jobs-$p.csv" \
    --iterations-csv "$OUT/iterations-$p.csv" >"$OUT/model-$p.txt"

  exp_daemon --policy "$p" --prefill-ms-per-token "$SCALE" \
    --decode-ms "$SCALE" --quantum-ms "$SCALE"
  "$BIN/loadgen" --server "$EXP_ADDR" --workload data/figure6.csv \
    --rate inf --jobs-csv "$OUT/daemon-jobs-$p.csv" --quiet \
    >"$OUT/daemon-$p.txt"
  exp_stop_daemons

  model="$(jcts "$OUT/model-jobs-$p.csv" 1 1)"
  daemon="$(jcts "$OUT/daemon-jobs-$p.csv" "$SCALE" 0)"
  if [[ "$model" != "${GOLDEN[$p]}" ]]; then
    echo "fig6: $p: model JCTs '$model', expected '${GOLDEN[$p]}'" >&2
    fail=1
  fi
  echo "$p,${model// /,},${daemon// /,}" >>"$OUT/table.csv"
done

order="$(awk -F, 'NR > 1 { printf "%s%s", (NR > 2 ? ", " : ""), $4 }' \
  "$OUT/iterations-mlfq.csv")"

{
  echo "# Figure 6: JCT per job (figure units: model ms; daemon ms / $SCALE)"
  echo
  echo "| policy | model J1 | model J2 | model J3 | model avg | daemon J1 | daemon J2 | daemon J3 | daemon avg |"
  echo "|---|---|---|---|---|---|---|---|---|"
  awk -F, 'NR > 1 { s = "|"; for (i = 1; i <= NF; i++) s = s " " $i " |"; print s }' \
    "$OUT/table.csv"
  echo
  echo "mlfq token order (model): $order"
} >"$OUT/table.md"

# Gantt charts: the model's iterations; color = job of the first token.
gantt_rows() { # $1 iterations CSV, $2 row number (empty: the engine)
  awk -F, -v row="$2" 'NR > 1 {
    j = $4; sub(/^J/, "", j); sub(/T.*/, "", j)
    printf "%s,%s,%s,%s,%d\n", (row == "" ? $1 : row), $2, $3, $4, j
  }' "$1"
}
xmax=0
for p in "${POLICIES[@]}"; do
  end="$(awk -F, 'NR > 1 && $3 + 0 > m { m = $3 + 0 } END { print m + 0 }' \
    "$OUT/iterations-$p.csv")"
  xmax="$(awk -v a="$xmax" -v b="$end" 'BEGIN { print (b > a ? b : a) }')"
done
all="$EXP_TMP/gantt-all.csv"
echo "row,start_ms,end_ms,label,color" >"$all"
tics=""
for i in "${!POLICIES[@]}"; do
  p="${POLICIES[$i]}"
  data="$EXP_TMP/gantt-$p.csv"
  echo "row,start_ms,end_ms,label,color" >"$data"
  gantt_rows "$OUT/iterations-$p.csv" "" >>"$data"
  gantt_rows "$OUT/iterations-$p.csv" "$i" >>"$all"
  nrows="$(awk -F, 'NR > 1 && $1 + 1 > m { m = $1 + 1 } END { print m + 0 }' "$data")"
  rowtics="$(awk -v n="$nrows" 'BEGIN { s = "("; for (e = 0; e < n; e++)
    s = s (e ? ", " : "") "\"engine " e "\" " e; print s ")" }')"
  avg="$(awk -F, -v p="$p" '$1 == p { print $5 }' "$OUT/table.csv")"
  gnuplot -e "datafile='$data'; out='$OUT/gantt-$p'; nrows=$nrows; xmax=$xmax" \
    -e "rowtics='$rowtics'" \
    -e "ttl='Figure 6, $p: iterations on one engine (model; mean JCT $avg ms)'" \
    bench/experiments/gantt.gp
  tics="$tics${tics:+, }\"$p\" $i"
done
gnuplot -e "datafile='$all'; out='$OUT/gantt-all'; nrows=${#POLICIES[@]}; xmax=$xmax" \
  -e "rowtics='($tics)'" \
  -e "ttl='Figure 6: iterations per policy (model, one engine, batch 1)'" \
  bench/experiments/gantt.gp

cat "$OUT/table.md"
if ((fail)); then
  echo "fig6: the model does not match the figure" >&2
  exit 1
fi
