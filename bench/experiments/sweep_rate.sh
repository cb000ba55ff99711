#!/usr/bin/env bash
# Experiment 3: arrival rate x arrival distribution. Mean and p99 JCT of
# fcfs, naive-mlfq, mlfq and srpt against the arrival rate, for Poisson,
# uniform and gamma (cv 2 and cv 4) arrivals. Workload: the Appendix B
# lengths (data/appendix_b.csv cycled to 500 requests), the default OPT-1.3B
# profile, one engine, batch 1 (capacity ~1.07 requests/s). mlfqsim runs
# the sweep, 10 seeds per point (mean and standard deviation over seeds);
# three Poisson points (light, middle, heavy; seed 1, 100 requests, fcfs
# and mlfq) are checked against real mlfqd daemons at time scale 0.05.
# Writes to out/experiments/sweep_rate/: points.csv (every seed), summary.csv,
# summary.md, check.csv, check.md, jct-mean.png/.svg and jct-p99.png/.svg
# (2x2: one panel per distribution, one line per policy, error bars +-1 sd).
# --quick: 2 rates, 2 seeds, 100 requests, one check point (seconds).
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

exp_build
exp_need_gnuplot
DIR="$(exp_out sweep_rate)"
rm -rf "${DIR:?}"/*
mkdir -p "$DIR/json" "$DIR/plot"

SCALE=0.05
POLICIES=(fcfs naive-mlfq mlfq srpt)
DISTS=(poisson uniform gamma2 gamma4) # gammaN: gamma arrivals with cv N
if [ "$QUICK" = 1 ]; then
  RATES=(0.4 1.0)
  SEEDS=(1 2)
  NREQ=100
  CHECK_RATES=(1.0)
else
  RATES=(0.2 0.4 0.6 0.8 1.0 1.2)
  SEEDS=(1 2 3 4 5 6 7 8 9 10)
  NREQ=500
  CHECK_RATES=(0.2 0.6 1.0)
fi
CHECK_NREQ=100
CHECK_POLICIES=(fcfs mlfq)
BASE=(--workload data/appendix_b.csv)

dist_opts() {
  case "$1" in
  gamma*) echo "--dist gamma --cv ${1#gamma}" ;;
  *) echo "--dist $1" ;;
  esac
}

# Capacity of the engine at these lengths: every request at time 0.
cap="$("$BIN/mlfqsim" "${BASE[@]}" --rate 0 --policy fcfs --json "$EXP_TMP/cap.json" >/dev/null &&
  python3 -c 'import json,sys; print("%.3f" % json.load(open(sys.argv[1]))["runs"][0]["summary"]["throughput_rps"])' "$EXP_TMP/cap.json")"
echo "sweep_rate: capacity ~$cap requests/s (one engine, batch 1); rates ${RATES[*]}"
echo "sweep_rate: ${#DISTS[@]} distributions x ${#RATES[@]} rates x ${#SEEDS[@]} seeds, $NREQ requests each, policies ${POLICIES[*]}"

# --- The sweep (mlfqsim) ---
for d in "${DISTS[@]}"; do
  for r in "${RATES[@]}"; do
    for s in "${SEEDS[@]}"; do
      # shellcheck disable=SC2046
      "$BIN/mlfqsim" "${BASE[@]}" --num-requests "$NREQ" --rate "$r" \
        $(dist_opts "$d") --seed "$s" --policy all \
        --json "$DIR/json/$d-$r-$s.json" >/dev/null
    done
  done
done

# --- The daemon check (started now, runs in the background while the sweep
# is aggregated): one daemon and one loadgen per (rate, policy), in parallel.
declare -A LG_PID
for r in "${CHECK_RATES[@]}"; do
  for p in "${CHECK_POLICIES[@]}"; do
    exp_daemon --policy "$p" --time-scale "$SCALE"
    "$BIN/loadgen" --server "$p=$EXP_ADDR" "${BASE[@]}" --num-requests "$CHECK_NREQ" \
      --rate "$r" --dist poisson --seed 1 --quiet \
      --json "$DIR/json/check-lg-$r-$p.json" >"$EXP_TMP/lg-$r-$p.txt" 2>&1 &
    LG_PID[$r-$p]=$!
  done
  "$BIN/mlfqsim" "${BASE[@]}" --num-requests "$CHECK_NREQ" --rate "$r" \
    --dist poisson --seed 1 --policy "$(IFS=,; echo "${CHECK_POLICIES[*]}")" \
    --json "$DIR/json/check-sim-$r.json" >/dev/null
done
echo "sweep_rate: daemon check at time scale $SCALE, Poisson rates ${CHECK_RATES[*]}," \
  "seed 1, $CHECK_NREQ requests (longest ~$(awk -v r="${CHECK_RATES[0]}" -v n="$CHECK_NREQ" -v s="$SCALE" 'BEGIN { printf "%.0f", n / r * s + 3 }') s wall)"

# --- Aggregate ---
python3 - "$DIR" "$NREQ" "${#SEEDS[@]}" "${DISTS[*]}" "${RATES[*]}" "${SEEDS[*]}" "${POLICIES[*]}" <<'PY'
import json, math, os, sys
d, nreq, nseeds = sys.argv[1], sys.argv[2], sys.argv[3]
dists, rates, seeds, pols = (a.split() for a in sys.argv[4:8])
names = {"poisson": "poisson", "uniform": "uniform", "gamma2": "gamma cv 2", "gamma4": "gamma cv 4"}
pts = open(os.path.join(d, "points.csv"), "w")
pts.write("dist,rate,seed,policy,requests,failed,jct_mean_ms,jct_p99_ms\n")
agg = {}
for di in dists:
    for r in rates:
        for s in seeds:
            j = json.load(open(os.path.join(d, "json", f"{di}-{r}-{s}.json")))
            for run in j["runs"]:
                sm = run["summary"]
                p = run["label"]
                pts.write(f"{names[di]},{r},{s},{p},{sm['requests']},{sm['failed']},"
                          f"{sm['jct_ms']['mean']:.2f},{sm['jct_ms']['p99']:.2f}\n")
                a = agg.setdefault((di, r, p), ([], []))
                a[0].append(sm["jct_ms"]["mean"]); a[1].append(sm["jct_ms"]["p99"])
pts.close()
def ms(v):
    m = sum(v) / len(v)
    sd = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1)) if len(v) > 1 else 0.0
    return m, sd
csv = open(os.path.join(d, "summary.csv"), "w")
csv.write("dist,rate,policy,seeds,jct_mean_ms,jct_mean_sd_ms,jct_p99_ms,jct_p99_sd_ms,jct_mean_vs_fcfs\n")
md = open(os.path.join(d, "summary.md"), "w")
md.write("| dist | rate (req/s) | policy | JCT mean (s) | JCT p99 (s) | mean / fcfs |\n")
md.write("|---|---:|---|---:|---:|---:|\n")
for di in dists:
    for r in rates:
        base = ms(agg[(di, r, "fcfs")][0])[0]
        for p in pols:
            (m, sd), (m99, sd99) = ms(agg[(di, r, p)][0]), ms(agg[(di, r, p)][1])
            csv.write(f"{names[di]},{r},{p},{len(agg[(di, r, p)][0])},{m:.2f},{sd:.2f},{m99:.2f},{sd99:.2f},{m / base:.3f}\n")
            md.write(f"| {names[di]} | {r} | {p} | {m / 1000:.2f} ± {sd / 1000:.2f} | "
                     f"{m99 / 1000:.2f} ± {sd99 / 1000:.2f} | {m / base:.3f} |\n")
        # plot data: rate, value, low, high (low clamped above 0 for log scale)
    for p in pols:
        with open(os.path.join(d, "plot", f"{di}-{p}.dat"), "w") as f:
            f.write("# rate jct_mean_s low high jct_p99_s low high\n")
            for r in rates:
                (m, sd), (m99, sd99) = ms(agg[(di, r, p)][0]), ms(agg[(di, r, p)][1])
                f.write(f"{r} {m / 1000:.4f} {max(m - sd, m * 0.05) / 1000:.4f} {(m + sd) / 1000:.4f} "
                        f"{m99 / 1000:.4f} {max(m99 - sd99, m99 * 0.05) / 1000:.4f} {(m99 + sd99) / 1000:.4f}\n")
md.write(f"\nmlfqsim, {nreq} requests (data/appendix_b.csv lengths, cycled), OPT-1.3B profile, "
         f"one engine, batch 1; mean ± standard deviation over {nseeds} seeds; "
         "times in model seconds. Uniform arrivals are evenly spaced and the lengths "
         "come from the file in order, so the seed changes nothing there (sd 0).\n")
md.close(); csv.close()
PY

# --- Plots ---
if gnuplot -e 'set terminal' 2>&1 | grep -q pngcairo; then PNG=pngcairo; else PNG=png; fi
here="$(dirname "$0")"
for t in "$PNG" svg; do
  ext=png
  [ "$t" = svg ] && ext=svg
  for metric in mean p99; do
    gnuplot -e "dir='$DIR'; term='$t'; ext='$ext'; metric='$metric'; nreq='$NREQ'; nseeds='${#SEEDS[@]}'; cap='$cap'" \
      "$here/sweep_rate.gp"
  done
done

# --- Collect the daemon check ---
lg_rc=0
for k in "${!LG_PID[@]}"; do
  rc=0
  wait "${LG_PID[$k]}" || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "sweep_rate: loadgen ($k) exited $rc:" >&2
    cat "$EXP_TMP/lg-$k.txt" >&2
    [ "$rc" -gt "$lg_rc" ] && lg_rc=$rc
  fi
done
exp_stop_daemons
if [ "$lg_rc" -ge 2 ]; then
  echo "sweep_rate: loadgen failed (exit $lg_rc)" >&2
  exit "$lg_rc"
fi
python3 - "$DIR" "$SCALE" "$CHECK_NREQ" "${CHECK_RATES[*]}" "${CHECK_POLICIES[*]}" <<'PY'
import json, os, sys
d, scale, nreq = sys.argv[1], sys.argv[2], sys.argv[3]
rates, pols = sys.argv[4].split(), sys.argv[5].split()
csv = open(os.path.join(d, "check.csv"), "w")
csv.write("dist,rate,seed,policy,requests,completed,model_jct_mean_ms,measured_jct_mean_ms,rel_diff,model_jct_p99_ms,measured_jct_p99_ms\n")
md = open(os.path.join(d, "check.md"), "w")
md.write("| dist | rate (req/s) | policy | completed | model JCT mean (ms) | measured JCT mean (ms) | difference | model p99 (ms) | measured p99 (ms) |\n")
md.write("|---|---:|---|---:|---:|---:|---:|---:|---:|\n")
for r in rates:
    sim = {run["label"]: run["summary"] for run in json.load(open(os.path.join(d, "json", f"check-sim-{r}.json")))["runs"]}
    for p in pols:
        lg = json.load(open(os.path.join(d, "json", f"check-lg-{r}-{p}.json")))["runs"][0]["summary"]
        m, x = sim[p]["jct_ms"]["mean"], lg["jct_ms"]["mean"]
        rel = (x - m) / m
        done = lg["requests"] - lg["failed"]
        csv.write(f"poisson,{r},1,{p},{lg['requests']},{done},{m:.2f},{x:.2f},{rel:.5f},"
                  f"{sim[p]['jct_ms']['p99']:.2f},{lg['jct_ms']['p99']:.2f}\n")
        md.write(f"| poisson | {r} | {p} | {done}/{lg['requests']} | {m:.2f} | {x:.2f} | {rel * 100:+.3f}% | "
                 f"{sim[p]['jct_ms']['p99']:.2f} | {lg['jct_ms']['p99']:.2f} |\n")
md.write(f"\nmodel: mlfqsim; measured: loadgen against mlfqd at time scale {scale} "
         f"(one daemon per row, run in parallel); Poisson seed 1, {nreq} requests; model milliseconds.\n")
PY

echo
cat "$DIR/summary.md"
echo
cat "$DIR/check.md"
echo
echo "sweep_rate: wrote $DIR/"
exit "$lg_rc"
