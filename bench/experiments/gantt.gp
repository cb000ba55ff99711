# Gantt chart of scheduler iterations, for bench/experiments/fig6.sh.
# Input (set with gnuplot -e): datafile, a CSV with a header line and the
# columns row,start_ms,end_ms,label,color (row from 0 at the top, color a
# small integer, e.g. the job of the batch's first token); out, the output
# path without extension (out.png and out.svg are written); ttl, the title;
# nrows, the number of rows; rowtics, a ytics list such as
# '("engine 0" 0, "engine 1" 1)'; xmax, the end of the time axis in ms.
if (!exists("ttl")) ttl = ""
if (!exists("nrows")) nrows = 1
if (!exists("rowtics")) rowtics = '("engine 0" 0)'

set datafile separator ","
set key off
set title ttl
set xlabel "time (ms)"
set xrange [0:xmax]
set yrange [nrows - 0.5:-0.5]
eval "set ytics " . rowtics
set xtics 1 out nomirror
set mxtics 1
set grid xtics lc rgb "#dddddd"
set tics font ",10"
set style fill solid 0.85 border lc rgb "#333333"
set palette maxcolors 6
set palette defined (0 "#8ecae6", 1 "#ffb703", 2 "#90be6d", 3 "#f4a3c0", 4 "#c3b1e1", 5 "#f9844a")
set cbrange [-0.5:5.5]
unset colorbox

rows_px = 110 + 60 * nrows
if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
  eval sprintf('set terminal pngcairo size 900,%d font "sans,10"', rows_px)
} else {
  eval sprintf('set terminal png size 900,%d', rows_px)
}
h = 0.35
set output out . ".png"
plot datafile skip 1 using (($2 + $3) / 2):1:(($3 - $2) / 2):(h):(int($5) % 6) \
       with boxxyerror fc palette, \
     '' skip 1 using (($2 + $3) / 2):1:4 with labels font ",10"
eval sprintf('set terminal svg size 900,%d font "sans,10" background rgb "white"', rows_px)
set output out . ".svg"
replot
set output
