# Experiment 3: JCT against arrival rate, one panel per arrival
# distribution, one line per policy, error bars +-1 standard deviation over
# seeds. metric='mean' plots the mean JCT, metric='p99' the p99 JCT.
# Run by sweep_rate.sh: gnuplot -e "dir='...'; term='pngcairo'; ext='png'; metric='mean'; nreq='500'; nseeds='10'"
# Input: dir/plot/DIST-POLICY.dat (rate mean low high p99 low high, seconds).
if (!exists("dir")) dir = 'out/experiments/sweep_rate'
if (!exists("term")) term = 'pngcairo'
if (!exists("ext")) ext = 'png'
if (!exists("metric")) metric = 'mean'
if (!exists("nreq")) nreq = '?'
if (!exists("nseeds")) nseeds = '?'
if (!exists("cap")) cap = '1.07'
if (term eq 'svg') {
  set terminal svg size 1100,800 dynamic background rgb 'white'
} else {
  eval sprintf("set terminal %s size 1100,800", term)
}
set output dir.'/jct-'.metric.'.'.ext
c = (metric eq 'p99') ? 5 : 2   # first of the value, low, high columns

dists = 'poisson uniform gamma2 gamma4'
dname(i) = word('poisson uniform gamma_cv_2 gamma_cv_4', i)
pols = 'fcfs naive-mlfq mlfq srpt'
colors = '#d62728 #ff7f0e #1f77b4 #2ca02c'
# small x offsets so the error bars of the four policies do not overlap
off(j) = (j - 2.5) * 0.008

set key top left box opaque font ',9'
set grid
set offsets 0.1, 0.1, 0, 0
set logscale y
set xlabel sprintf("arrival rate (requests per model second; capacity about %s)", cap)
set ylabel sprintf('JCT %s (model s, log scale)', metric)
set multiplot layout 2,2 title sprintf("JCT %s against rate: Appendix B lengths, %s requests, 1 engine, batch 1; mean +- sd over %s seeds", metric, nreq, nseeds)
do for [i = 1:4] {
  set title sprintf('%s arrivals', system(sprintf("echo '%s' | tr _ ' '", dname(i))))
  plot for [j = 1:4] sprintf('%s/plot/%s-%s.dat', dir, word(dists, i), word(pols, j)) \
    using ($1 + off(j)):c:(column(c + 1)):(column(c + 2)) with yerrorlines \
    lw 2 pt 7 ps 0.6 lc rgb word(colors, j) title word(pols, j)
}
unset multiplot
