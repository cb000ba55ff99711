# JCT CDF of the Appendix B run, fcfs and mlfq: measured against mlfqd
# (solid) and mlfqsim's model (dashed).
# Run by appendix_b.sh: gnuplot -e "dir='...'; term='pngcairo'; ext='png'; scale='0.25'"
if (!exists("dir")) dir = 'out/experiments/appendix_b'
if (!exists("term")) term = 'pngcairo'
if (!exists("ext")) ext = 'png'
if (!exists("scale")) scale = '?'
if (term eq 'svg') {
  set terminal svg size 900,500 dynamic background rgb 'white'
} else {
  eval sprintf("set terminal %s size 900,500", term)
}
set output dir.'/jct-cdf.'.ext
set datafile separator ','
set key bottom right box opaque
set grid
set logscale x
set yrange [0:1]
set xlabel 'JCT (model ms, log scale)'
set ylabel 'fraction of jobs'
set title sprintf("Appendix B, rate 20 Poisson: JCT CDF (time scale %s)", scale)
plot dir.'/cdf-fcfs.csv' every ::1 using 1:2 with steps lw 2 lc rgb '#d62728' title 'fcfs (mlfqd)', \
     dir.'/cdf-mlfq.csv' every ::1 using 1:2 with steps lw 2 lc rgb '#1f77b4' title 'mlfq (mlfqd)', \
     dir.'/sim-cdf-fcfs.csv' every ::1 using 1:2 with steps lw 1 dt 2 lc rgb '#d62728' title 'fcfs (model)', \
     dir.'/sim-cdf-mlfq.csv' every ::1 using 1:2 with steps lw 1 dt 2 lc rgb '#1f77b4' title 'mlfq (model)'
