# Experiment 5 plots: mean JCT vs arrival rate per batch size (one line per
# policy, error bars = sd over seeds), and the FastServe-shape results
# (mean and p99 JCT vs rate, max_batch 1 and 8).
# Run by batching.sh: gnuplot -e "dir='...'; term='pngcairo'; ext='png'; nseeds='10'; nreq='1000'"
if (!exists("dir")) dir = 'out/experiments/batching'
if (!exists("term")) term = 'pngcairo'
if (!exists("ext")) ext = 'png'
if (!exists("nseeds")) nseeds = '?'
if (!exists("nreq")) nreq = '?'

set datafile separator ','
set grid ytics mytics xtics
set logscale y
set format y '%g'
set key top left box opaque font ',9'
set bars small

col(p) = p eq 'fcfs' ? '#d62728' : p eq 'mlfq' ? '#1f77b4' : p eq 'srpt' ? '#2ca02c' : '#ff7f0e'
ptype(p) = p eq 'fcfs' ? 7 : p eq 'mlfq' ? 5 : p eq 'srpt' ? 9 : 13
f(part, b, p) = sprintf('%s/plot-%s-b%d-%s.csv', dir, part, b, p)

# ---- (a) batching: mean JCT (s) vs rate, one panel per max_batch
if (term eq 'svg') {
  set terminal svg size 1400,480 dynamic background rgb 'white'
} else {
  eval sprintf("set terminal %s size 1400,480", term)
}
set output dir.'/jct-batching.'.ext
set multiplot layout 1,3 title sprintf("Appendix B lengths, Poisson arrivals: mean JCT vs rate (mean ± sd over %s seeds, %s requests)", nseeds, nreq)
set xlabel 'arrival rate (req/s)'
set ylabel 'mean JCT (model s, log scale)'
pols = 'fcfs mlfq srpt'
do for [b in "1 8 32"] {
  set title sprintf('max\_batch %s', b)
  plot for [p in pols] f('a', b + 0, p) every ::1 using 1:($3/1000):($4/1000) \
         with yerrorlines pt ptype(p) ps 0.8 lw 1.5 lc rgb col(p) title p
}
unset multiplot

# ---- (b) FastServe shape: mean and p99 JCT vs rate, max_batch 1 and 8
if (term eq 'svg') {
  set terminal svg size 1100,800 dynamic background rgb 'white'
} else {
  eval sprintf("set terminal %s size 1100,800", term)
}
set output dir.'/fastserve.'.ext
set multiplot layout 2,2 title sprintf("FastServe shape: input uniform:16:1024, output zipf:1.2:1024, gamma arrivals cv 4 (mean ± sd over %s seeds, %s requests)", nseeds, nreq) font ',10'
pols = 'fcfs naive-mlfq mlfq srpt'
do for [b in "1 8"] {
  set title sprintf('max\_batch %s: mean JCT', b)
  set ylabel 'mean JCT (model s, log scale)'
  plot for [p in pols] f('b', b + 0, p) every ::1 using 1:($3/1000):($4/1000) \
         with yerrorlines pt ptype(p) ps 0.8 lw 1.5 lc rgb col(p) title p
  set title sprintf('max\_batch %s: p99 JCT', b)
  set ylabel 'p99 JCT (model s, log scale)'
  plot for [p in pols] f('b', b + 0, p) every ::1 using 1:($5/1000):($6/1000) \
         with yerrorlines pt ptype(p) ps 0.8 lw 1.5 lc rgb col(p) title p
}
unset multiplot
