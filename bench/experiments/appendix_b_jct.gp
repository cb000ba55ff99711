# Per-job JCT of the Appendix B run, fcfs and mlfq against mlfqd.
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
set output dir.'/jct-per-job.'.ext
set datafile separator ','
set key top left box opaque
set grid ytics mytics
set logscale y
set xlabel 'job id (arrival order)'
set ylabel 'JCT (model ms, log scale)'
set title sprintf("Appendix B, rate 20 Poisson: per-job JCT against mlfqd (time scale %s)", scale)
plot dir.'/jobs-fcfs.csv' every ::1 using 1:7 with points pt 7 ps 0.8 lc rgb '#d62728' title 'fcfs', \
     dir.'/jobs-mlfq.csv' every ::1 using 1:7 with points pt 5 ps 0.8 lc rgb '#1f77b4' title 'mlfq'
