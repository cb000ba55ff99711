# Plots of experiment 7 (memory.sh): mean JCT and preemptions per request
# against the KV capacity, one line per policy and on_full mode. Variables:
# dir (with the plot-POLICY-MODE.csv files: capacity,jct_mean_ms,
# preemptions_per_req), term, ext.
set datafile separator ','
set grid
set key outside right top
set xlabel 'KV capacity (tokens)'
set logscale x 2
set logscale y
set style line 1 lw 2 pt 7 ps 0.8 lc rgb '#1b9e77'
set style line 2 lw 2 pt 5 ps 0.8 lc rgb '#d95f02'
set style line 3 lw 2 pt 9 ps 0.8 lc rgb '#7570b3'
modes = 'defer recompute swap'

set terminal term size 820,520 font ',11'
set output dir.'/sweep-jct.'.ext
set title 'Appendix B at 20/s, max batch 8: mean JCT under memory pressure'
set ylabel 'mean JCT (s, log)'
plot for [i = 1:3] dir.'/plot-fcfs-'.word(modes, i).'.csv' using 1:($2 / 1000) \
       with linespoints ls i dt 1 title 'fcfs '.word(modes, i), \
     for [i = 1:3] dir.'/plot-mlfq-'.word(modes, i).'.csv' using 1:($2 / 1000) \
       with linespoints ls i dt 2 title 'mlfq '.word(modes, i)

set output dir.'/sweep-preemptions.'.ext
set title 'Appendix B at 20/s, max batch 8: preemptions per request'
set ylabel 'preemptions per request (log)'
plot for [i = 2:3] dir.'/plot-fcfs-'.word(modes, i).'.csv' using 1:($3 > 0 ? $3 : 1/0) \
       with linespoints ls i dt 1 title 'fcfs '.word(modes, i), \
     for [i = 2:3] dir.'/plot-mlfq-'.word(modes, i).'.csv' using 1:($3 > 0 ? $3 : 1/0) \
       with linespoints ls i dt 2 title 'mlfq '.word(modes, i)
