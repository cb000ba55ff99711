# Plot of experiment 6 (router.sh): mean and p99 JCT per routing policy,
# fcfs and mlfq engines, one panel per workload. Variables: dir (with
# plot-appendix_b.dat and plot-heavy.dat, no header: route fcfs_mean
# mlfq_mean fcfs_p99 mlfq_p99, seconds), term, ext.
set terminal term size 1100,520 font ',11' noenhanced
set output dir.'/jct-by-route.'.ext
set multiplot layout 1,2
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set grid ytics
set key outside top center horizontal
set xtics rotate by -25
set ylabel 'JCT (s)'
set yrange [0:*]
set xrange [-0.6:4.6]
do for [wl in 'appendix_b heavy'] {
  set title sprintf('%s: 4 replicas behind mlfq-router', wl)
  plot dir.'/plot-'.wl.'.dat' using 2:xtic(1) title 'fcfs mean' lc rgb '#1b9e77', \
       '' using 3 title 'mlfq mean' lc rgb '#d95f02', \
       '' using 4 title 'fcfs p99' lc rgb '#66c2a5', \
       '' using 5 title 'mlfq p99' lc rgb '#fc8d62'
}
unset multiplot
