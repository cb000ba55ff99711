# Plots of experiment 4 (sweep_queues.sh). Variables: dir (output folder,
# with axes.gp and the .dat files the script wrote), term, ext, kind
# ('heat', 'lines' or 'starve') and load ('moderate' or 'overload'; unused
# for 'starve').
load dir.'/axes.gp'
rate_of(l) = (l eq 'moderate') ? rate_moderate : rate_overload
lim_of(l) = (l eq 'moderate') ? limit_moderate : limit_overload

if (kind eq 'heat') {
  set terminal term size 760,640 font ',11'
  set output dir.'/heatmap-'.load.'.'.ext
  set title sprintf("mlfq mean JCT / fcfs, %s load (%s req/s, mean over seeds)", load, rate_of(load))
  set xlabel 'quantum rate'
  set ylabel 'queues K'
  set xrange [-0.5:nx - 0.5]
  set yrange [-0.5:ny - 0.5]
  set cblabel 'mean JCT / fcfs (lower is better)'
  set palette defined (0 '#1a9850', 0.5 '#ffffbf', 1 '#d73027')
  set tics out nomirror
  plot dir.'/heat-'.load.'.dat' using 1:2:3 with image notitle, \
       '' using 1:2:(sprintf("%.3f\n%.2f s", $3, $4)) with labels font ',8' notitle
}

if (kind eq 'lines') {
  set terminal term size 820,520 font ',11'
  set output dir.'/jct-vs-k-'.load.'.'.ext
  set title sprintf("mlfq mean JCT vs queues, %s load (%s req/s)", load, rate_of(load))
  set xlabel 'queues K'
  set ylabel 'mean JCT (s)'
  set key outside right top
  set grid
  set xtics 1
  set ytics autofreq
  fc = value('fcfs_'.load)
  sr = value('srpt_'.load)
  set yrange [0.9 * sr:*]
  plot for [i = 2:nrates + 1] dir.'/lines-'.load.'.dat' using 1:i with linespoints \
         lw 2 pt 7 ps 0.8 title 'rate '.substr(columnheader(i), 6, 10), \
       fc with lines lw 2 dt 2 lc rgb '#555555' title 'fcfs', \
       sr with lines lw 2 dt 3 lc rgb '#000000' title 'srpt'
}

if (kind eq 'starve') {
  set terminal term size 1100,480 font ',11'
  set output dir.'/starvation-p99.'.ext
  set multiplot layout 1,2 title 'mlfq p99 JCT with and without starvation prevention (mean over seeds)'
  set xlabel 'quantum rate'
  set ylabel 'p99 JCT (s)'
  set grid
  set key bottom right
  set offsets 0.3, 0.3, 0, 0
  set ytics autofreq
  set yrange [0:*]
  do for [l in 'moderate overload'] {
    set title sprintf("%s load (%s req/s), limit %s ms", l, rate_of(l), lim_of(l))
    f = dir.'/starve-'.l.'.dat'
    plot f using 1:3:xtic(2) with linespoints lw 2 pt 7 lc 1 title 'K=4 off', \
         f using 1:4 with linespoints lw 2 pt 5 dt 2 lc 1 title 'K=4 on', \
         f using 1:5 with linespoints lw 2 pt 7 lc 2 title 'K=10 off', \
         f using 1:6 with linespoints lw 2 pt 5 dt 2 lc 2 title 'K=10 on', \
         value('fcfsp99_'.l) with lines lw 2 dt 3 lc rgb '#555555' title 'fcfs p99'
  }
  unset multiplot
}
