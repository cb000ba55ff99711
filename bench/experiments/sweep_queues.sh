#!/usr/bin/env bash
# Experiment 4: the number of queues x the quantum rate. mlfqsim's mlfq on
# the Appendix B lengths cycled to 500 requests (default OPT-1.3B profile,
# one engine, batch 1, Poisson arrivals) over K = 1..10 and quantum rate
# 1.5, 2, 4, 8, 16, 10 seeds per point, at two loads: "moderate" (0.7 of
# the capacity, which is measured first as fcfs's throughput with every
# request queued at once) and "overload" (experiment 2's 20 requests per
# second). fcfs and srpt at each load are the references. The whole grid
# runs again with starvation prevention on (--starve-limit-ms 2000 at the
# moderate load, 20000 at rate 20). Writes to out/experiments/sweep_queues/:
# points.csv (one line per run), summary.csv and summary.md (means over
# seeds), heatmap-{moderate,overload}.png/.svg (mean JCT / fcfs, K x
# rate), jct-vs-k-{moderate,overload}.png/.svg and starvation-p99.png/.svg.
# --quick: K in {1,4,10}, rates {2,16}, 2 seeds, 100 requests (seconds).
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

exp_build
exp_need_gnuplot
DIR="$(exp_out sweep_queues)"
rm -f "$DIR"/*

KS=(1 2 3 4 5 6 7 8 9 10)
RATES=(1.5 2 4 8 16)
NSEEDS=10
NREQ=500
if [ "$QUICK" = 1 ]; then
  KS=(1 4 10)
  RATES=(2 16)
  NSEEDS=2
  NREQ=100
fi
OVERLOAD=20
# Starvation limits (model ms). At the moderate load the mean JCT is ~2.4 s
# and jobs in the last level of a 4-queue mlfq never wait 2 s, so 2000 only
# fires where the deep levels' long quanta (K large) make jobs wait for
# seconds. At rate 20 everything waits for minutes: 20000 (~0.1x the mean
# JCT) promotes only the jobs that have been parked longest.
LIMIT_MODERATE=2000
LIMIT_OVERLOAD=20000
WL=(--workload data/appendix_b.csv --num-requests "$NREQ" --dist poisson)

# Capacity: fcfs with every request of the full 500-request workload queued
# at time 0; its throughput row is the most the engine can serve.
CAP="$("$BIN/mlfqsim" --workload data/appendix_b.csv --num-requests 500 \
  --policy fcfs --json "$EXP_TMP/cap.json" >/dev/null &&
  python3 -c 'import json, sys
print("%.4f" % json.load(open(sys.argv[1]))["runs"][0]["summary"]["throughput_rps"])' \
    "$EXP_TMP/cap.json")"
MODERATE="$(awk -v c="$CAP" 'BEGIN { printf "%.2f", 0.7 * c }')"
echo "sweep_queues: capacity $CAP req/s; loads: moderate $MODERATE req/s" \
  "(0.7 x capacity), overload $OVERLOAD req/s"

# One command per run, run $(nproc) at a time. JSON file names carry the
# load's tag; everything else is read back from the JSON's config.
JS="$EXP_TMP/json"
mkdir -p "$JS"
CMDS="$EXP_TMP/cmds"
: >"$CMDS"
n=0
for load in moderate overload; do
  if [ "$load" = moderate ]; then
    rate="$MODERATE" lim="$LIMIT_MODERATE"
  else
    rate="$OVERLOAD" lim="$LIMIT_OVERLOAD"
  fi
  for seed in $(seq 1 "$NSEEDS"); do
    echo "$BIN/mlfqsim ${WL[*]} --rate $rate --seed $seed --policy fcfs,srpt" \
      "--json $JS/$load-ref-$seed.json" >>"$CMDS"
    n=$((n + 1))
    for k in "${KS[@]}"; do
      for r in "${RATES[@]}"; do
        for l in 0 "$lim"; do
          echo "$BIN/mlfqsim ${WL[*]} --rate $rate --seed $seed --policy mlfq" \
            "--queues $k --quantum-rate $r --starve-limit-ms $l" \
            "--json $JS/$load-mlfq-$k-$r-$l-$seed.json" >>"$CMDS"
          n=$((n + 1))
        done
      done
    done
  done
done
echo "sweep_queues: $n mlfqsim runs ($NREQ requests each, $NSEEDS seeds)"
xargs -d '\n' -P "$(nproc)" -n 1 sh -c '$0 >/dev/null' <"$CMDS"

python3 - "$DIR" "$JS" "$MODERATE" "$OVERLOAD" "$CAP" "$NREQ" "$NSEEDS" \
  "$LIMIT_MODERATE" "$LIMIT_OVERLOAD" <<'EOF'
import glob, json, os, statistics, sys

out, js, moderate, overload, cap, nreq, nseeds, lim_m, lim_o = sys.argv[1:]
rate_of = {"moderate": float(moderate), "overload": float(overload)}
limit_of = {"moderate": float(lim_m), "overload": float(lim_o)}
cap = float(cap)

# points.csv: one line per (run, policy).
points = []
for f in sorted(glob.glob(os.path.join(js, "*.json"))):
    load = os.path.basename(f).split("-")[0]
    d = json.load(open(f))
    for run in d["runs"]:
        c, s = run["config"], run["summary"]
        mlfq = c["policy"] == "mlfq"
        points.append(dict(
            load=load, rate_rps=rate_of[load], policy=c["policy"],
            queues=c["queues"] if mlfq else "", quantum_rate=c["quantum_rate"] if mlfq else "",
            starve_limit_ms=c["starve_limit_ms"] if mlfq else "", seed=d["seed"],
            requests=s["requests"], jct_mean_ms=s["jct_ms"]["mean"],
            jct_p99_ms=s["jct_ms"]["p99"], jct_max_ms=s["jct_ms"]["max"],
            promotions=run["promotions"]))
cols = ["load", "rate_rps", "policy", "queues", "quantum_rate", "starve_limit_ms",
        "seed", "requests", "jct_mean_ms", "jct_p99_ms", "jct_max_ms", "promotions"]
with open(os.path.join(out, "points.csv"), "w") as fh:
    fh.write(",".join(cols) + "\n")
    for p in sorted(points, key=lambda p: (p["load"], p["policy"], str(p["queues"]).zfill(2),
                                           float(p["quantum_rate"] or 0),
                                           float(p["starve_limit_ms"] or 0), p["seed"])):
        fh.write(",".join(str(p[c]) for c in cols) + "\n")

# Means over seeds.
groups = {}
for p in points:
    key = (p["load"], p["policy"], p["queues"], p["quantum_rate"], p["starve_limit_ms"])
    groups.setdefault(key, []).append(p)
summ = {}
for key, ps in groups.items():
    m = [p["jct_mean_ms"] for p in ps]
    summ[key] = dict(seeds=len(ps), mean=statistics.mean(m),
                     sd=statistics.stdev(m) if len(m) > 1 else 0.0,
                     p99=statistics.mean(p["jct_p99_ms"] for p in ps),
                     prom=statistics.mean(p["promotions"] for p in ps))
loads = ["moderate", "overload"]
ks = sorted({p["queues"] for p in points if p["policy"] == "mlfq"})
rates = sorted({p["quantum_rate"] for p in points if p["policy"] == "mlfq"})
ref = lambda load, pol: summ[(load, pol, "", "", "")]
ml = lambda load, k, r, lim: summ[(load, "mlfq", k, r, lim)]

with open(os.path.join(out, "summary.csv"), "w") as fh:
    fh.write("load,rate_rps,policy,queues,quantum_rate,starve_limit_ms,seeds,"
             "jct_mean_ms,jct_mean_sd_ms,jct_p99_ms,jct_mean_vs_fcfs,promotions_per_run\n")
    for key in sorted(summ, key=lambda k: (k[0], k[1], str(k[2]).zfill(2), float(k[3] or 0), float(k[4] or 0))):
        s = summ[key]
        fh.write("%s,%g,%s,%s,%s,%s,%d,%.2f,%.2f,%.2f,%.4f,%.1f\n" % (
            key[0], rate_of[key[0]], key[1], key[2], key[3], key[4], s["seeds"], s["mean"],
            s["sd"], s["p99"], s["mean"] / ref(key[0], "fcfs")["mean"], s["prom"]))

# Plot data: heat map cells (x = rate index, y = K index, mean / fcfs,
# mean in s), lines (K, one column per rate), starvation slice.
with open(os.path.join(out, "axes.gp"), "w") as fh:
    fh.write("set xtics (%s)\n" % ", ".join('"%g" %d' % (r, i) for i, r in enumerate(rates)))
    fh.write("set ytics (%s)\n" % ", ".join('"%d" %d' % (k, i) for i, k in enumerate(ks)))
    fh.write("nx = %d; ny = %d; nrates = %d\n" % (len(rates), len(ks), len(rates)))
    for load in loads:
        fh.write("fcfs_%s = %.3f; srpt_%s = %.3f\n" % (
            load, ref(load, "fcfs")["mean"] / 1000, load, ref(load, "srpt")["mean"] / 1000))
        fh.write("rate_%s = '%g'; limit_%s = '%g'\n" % (load, rate_of[load], load, limit_of[load]))
        fh.write("fcfsp99_%s = %.3f\n" % (load, ref(load, "fcfs")["p99"] / 1000))
slice_ks = [k for k in (4, 10) if k in ks]
for load in loads:
    f = ref(load, "fcfs")["mean"]
    with open(os.path.join(out, "heat-%s.dat" % load), "w") as fh:
        for yi, k in enumerate(ks):
            for xi, r in enumerate(rates):
                s = ml(load, k, r, 0)
                fh.write("%d %d %.4f %.2f\n" % (xi, yi, s["mean"] / f, s["mean"] / 1000))
            fh.write("\n")
    with open(os.path.join(out, "lines-%s.dat" % load), "w") as fh:
        fh.write("K " + " ".join("rate_%g" % r for r in rates) + "\n")
        for k in ks:
            fh.write("%d " % k + " ".join("%.3f" % (ml(load, k, r, 0)["mean"] / 1000) for r in rates) + "\n")
    with open(os.path.join(out, "starve-%s.dat" % load), "w") as fh:
        lim = limit_of[load]
        fh.write("ri rate " + " ".join("K%d_off K%d_on" % (k, k) for k in slice_ks) + "\n")
        for xi, r in enumerate(rates):
            fh.write("%d %g " % (xi, r) + " ".join("%.3f %.3f" % (
                ml(load, k, r, 0)["p99"] / 1000, ml(load, k, r, lim)["p99"] / 1000) for k in slice_ks) + "\n")

# summary.md
fmt = lambda ms: "{:,.0f}".format(ms)
pct = lambda a, b: "%+.1f%%" % (100.0 * (a - b) / b)
L = []
L.append("# Experiment 4: number of queues x quantum rate (mlfq)\n")
L.append("mlfqsim, data/appendix_b.csv lengths cycled to %s requests, OPT-1.3B profile, one engine, "
         "batch 1, Poisson arrivals, %s seeds per point; level-1 quantum 5.11 ms (the smallest "
         "decode time), q_i = 5.11 * rate^(i-1). Capacity (fcfs throughput, all queued at once): "
         "%.2f req/s. Times are model milliseconds; JCT mean and p99 are each run's, then the mean "
         "over seeds.\n" % (nreq, nseeds, cap))
for load in loads:
    lim = limit_of[load]
    f, sr = ref(load, "fcfs"), ref(load, "srpt")
    L.append("## %s: %g req/s (%.2f x capacity)\n" % (
        "Moderate load" if load == "moderate" else "Overload", rate_of[load], rate_of[load] / cap))
    L.append("References: fcfs mean %s ms (p99 %s), srpt mean %s ms (p99 %s).\n" % (
        fmt(f["mean"]), fmt(f["p99"]), fmt(sr["mean"]), fmt(sr["p99"])))
    cells = {(k, r): ml(load, k, r, 0) for k in ks for r in rates}
    best = min(cells, key=lambda kr: cells[kr]["mean"])
    worst = max(cells, key=lambda kr: cells[kr]["mean"])
    L.append("Mean JCT (ms), mean over seeds; the cell in bold is the best, (x) is mean / fcfs:\n")
    L.append("| K \\ rate | " + " | ".join("%g" % r for r in rates) + " |")
    L.append("|---:|" + "---:|" * len(rates))
    for k in ks:
        row = []
        for r in rates:
            s = "%s (%.3f)" % (fmt(cells[(k, r)]["mean"]), cells[(k, r)]["mean"] / f["mean"])
            row.append("**%s**" % s if (k, r) == best else s)
        L.append("| %d | " % k + " | ".join(row) + " |")
    b = cells[best]
    sds = [c["sd"] for c in cells.values()]
    L.append("")
    L.append("Best: K = %d, rate %g: %s ms = %.3f x fcfs, %.2f x srpt (seed-to-seed sd of that "
             "cell's mean %s ms; median sd over the grid %s ms). Worst: K = %d, rate %g: %s ms. "
             "Default K = 4, rate 2: %s ms.\n" % (
                 best[0], best[1], fmt(b["mean"]), b["mean"] / f["mean"], b["mean"] / sr["mean"],
                 fmt(b["sd"]), fmt(statistics.median(sds)), worst[0], worst[1],
                 fmt(cells[worst]["mean"]),
                 fmt(cells[(4, 2)]["mean"]) if (4, 2) in cells else "n/a"))
    L.append("Starvation prevention, --starve-limit-ms %g (off / on):\n" % lim)
    L.append("| K | rate | mean off | mean on | change | p99 off | p99 on | change | promotions per run |")
    L.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for k in slice_ks:
        for r in rates:
            a, o = ml(load, k, r, 0), ml(load, k, r, lim)
            L.append("| %d | %g | %s | %s | %s | %s | %s | %s | %.0f |" % (
                k, r, fmt(a["mean"]), fmt(o["mean"]), pct(o["mean"], a["mean"]),
                fmt(a["p99"]), fmt(o["p99"]), pct(o["p99"], a["p99"]), o["prom"]))
    dm = [ml(load, k, r, lim)["mean"] / ml(load, k, r, 0)["mean"] - 1 for k in ks for r in rates if k > 1]
    dp = [ml(load, k, r, lim)["p99"] / ml(load, k, r, 0)["p99"] - 1 for k in ks for r in rates if k > 1]
    L.append("")
    L.append("Over the whole grid (K >= 2, %d cells), starvation prevention changes the mean JCT by "
             "%+.1f%% to %+.1f%% (median %+.1f%%) and the p99 by %+.1f%% to %+.1f%% (median %+.1f%%).\n" % (
                 len(dm), 100 * min(dm), 100 * max(dm), 100 * statistics.median(dm),
                 100 * min(dp), 100 * max(dp), 100 * statistics.median(dp)))
with open(os.path.join(out, "summary.md"), "w") as fh:
    fh.write("\n".join(L))
EOF

if gnuplot -e 'set terminal' 2>&1 | grep -q pngcairo; then PNG=pngcairo; else PNG=png; fi
here="$(dirname "$0")"
for t in "$PNG" svg; do
  ext=png
  [ "$t" = svg ] && ext=svg
  for load in moderate overload; do
    gnuplot -e "dir='$DIR'; term='$t'; ext='$ext'; kind='heat'; load='$load'" "$here/sweep_queues.gp"
    gnuplot -e "dir='$DIR'; term='$t'; ext='$ext'; kind='lines'; load='$load'" "$here/sweep_queues.gp"
  done
  gnuplot -e "dir='$DIR'; term='$t'; ext='$ext'; kind='starve'; load=''" "$here/sweep_queues.gp"
done

echo
cat "$DIR/summary.md"
echo
echo "sweep_queues: wrote $DIR/"
