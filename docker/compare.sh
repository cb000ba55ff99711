#!/usr/bin/env bash
# compare: the comparison the compose file's loadgen service runs. Waits
# until every server answers, sends the identical workload to each with
# loadgen (side by side, with ratios to the first), asks the router for its
# per-replica statistics, and plots the JCT distributions. Writes to
# $MLFQ_OUT (default /out): loadgen.txt, summary.json, jobs-LABEL.csv,
# router-stats.txt and jct-cdf.png/.svg. Exits with loadgen's status.
#
# Settings (environment; the compose file passes its own):
#   MLFQ_SERVERS      LABEL=HOST:PORT ... (default: fcfs, mlfq and router
#                     at mlfqd-fcfs:7070, mlfqd-mlfq:7070, router:7070)
#   MLFQ_WORKLOAD     a workload CSV (default: the Appendix B dataset)
#   MLFQ_NUM_REQUESTS requests to send (default: every row of the workload)
#   MLFQ_RATE         requests per model second (default 20)
#   MLFQ_DIST         poisson, uniform or gamma (default poisson)
#   MLFQ_SEED         seed of the arrival times (default 1)
#   MLFQ_OUT          the output folder (default /out)
set -euo pipefail

servers="${MLFQ_SERVERS:-fcfs=mlfqd-fcfs:7070 mlfq=mlfqd-mlfq:7070 router=router:7070}"
workload="${MLFQ_WORKLOAD:-/opt/mlfqd/share/mlfqd/appendix_b.csv}"
out="${MLFQ_OUT:-/out}"

if ! mkdir -p "$out" 2>/dev/null || ! [ -w "$out" ]; then
  echo "compare: cannot write to $out as user $(id -u):$(id -g);" \
    "set MLFQ_UID and MLFQ_GID to the owner of the output folder" \
    "(export MLFQ_UID=\$(id -u) MLFQ_GID=\$(id -g))" >&2
  exit 2
fi

args=()
for s in $servers; do
  addr="${s#*=}"
  for i in $(seq 120); do
    if mlfqctl ping --server "$addr" --timeout 1000 >/dev/null 2>&1; then
      break
    fi
    if [ "$i" = 120 ]; then
      echo "compare: $addr did not answer within 60 s" >&2
      exit 1
    fi
    sleep 0.5
  done
  args+=(--server "$s")
done
args+=(--workload "$workload" --rate "${MLFQ_RATE:-20}"
  --dist "${MLFQ_DIST:-poisson}" --seed "${MLFQ_SEED:-1}")
if [ -n "${MLFQ_NUM_REQUESTS:-}" ]; then
  args+=(--num-requests "$MLFQ_NUM_REQUESTS")
fi

echo "compare: loadgen ${args[*]}"
rc=0
loadgen "${args[@]}" --jobs-csv "$out/jobs.csv" --json "$out/summary.json" \
  >"$out/loadgen.txt" || rc=$?
cat "$out/loadgen.txt"
# With one server loadgen writes jobs.csv; name it by its label as well.
set -- $servers
if [ $# = 1 ] && [ -f "$out/jobs.csv" ]; then
  mv "$out/jobs.csv" "$out/jobs-${1%%=*}.csv"
fi
for s in $servers; do
  if [ "${s%%=*}" = router ]; then
    mlfqctl stats --server "${s#*=}" >"$out/router-stats.txt" 2>&1 || true
  fi
done
if [ "$rc" -ge 2 ]; then
  echo "compare: loadgen failed (exit $rc)" >&2
  exit "$rc"
fi

# JCT CDFs of the completed requests, one curve per server.
plot=""
for s in $servers; do
  label="${s%%=*}"
  f="$out/jobs-$label.csv"
  [ -f "$f" ] || continue
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    $col["status"] == "ok" { print $col["jct_ms"] / 1000 }' "$f" | sort -g |
    awk '{ v[NR] = $1 } END { for (i = 1; i <= NR; i++) print v[i], i / NR }' \
      >"$out/cdf-$label.dat"
  plot+="${plot:+, }'$out/cdf-$label.dat' using 1:2 with lines lw 2 title '$label'"
done
if [ -z "$plot" ]; then
  echo "compare: no per-job CSV to plot" >&2
  exit "$rc"
fi
if gnuplot -e 'set terminal' 2>&1 | grep -q pngcairo; then png=pngcairo; else png=png; fi
for t in png svg; do
  term=svg
  [ "$t" = png ] && term=$png
  gnuplot -e "set terminal $term size 800,500 noenhanced;
    set output '$out/jct-cdf.$t'; set grid; set key bottom right;
    set title 'JCT distribution (model seconds)'; set xlabel 'JCT (s)';
    set ylabel 'fraction of requests'; plot $plot"
done
rm -f "$out"/cdf-*.dat
echo "compare: wrote $out/"
exit "$rc"
