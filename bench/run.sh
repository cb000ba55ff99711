#!/usr/bin/env bash
# Builds the benchmarks in Release and runs them one at a time; see
# docs/BENCHMARKS.md for what each one measures and the targets.
#
#   bench/run.sh                  every benchmark, 5 runs each (a few minutes)
#   bench/run.sh --quick          tiny sizes, 1 run, a few seconds (CI)
#   bench/run.sh --runs N         N runs of each measurement
#   bench/run.sh --only NAME      sched, mem or sim
#   bench/run.sh --build-dir DIR  build in DIR (default build-bench)
#   bench/run.sh --no-build       use the programs already built in DIR
#
# Every run prints one key=value line; the runs go to
# DIR/bench-results/raw.txt, and at the end one "summary" line per
# measurement gives min/median/max over the runs. The exact command of each
# measurement is printed as a "# cmd:" line. Exits 77 if /usr/bin/time (the
# Debian package "time") is missing, 1 if a benchmark fails or prints a
# malformed line. Nothing here checks speed.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
runs=5
only=
dir=build-bench
build=1
while [ $# -gt 0 ]; do
  case "$1" in
  --quick) quick=1 ;;
  --runs)
    runs="$2"
    shift
    ;;
  --only)
    only="$2"
    shift
    ;;
  --build-dir)
    dir="$2"
    shift
    ;;
  --no-build) build=0 ;;
  -h | --help)
    sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "run.sh: unknown argument '$1' (try --help)" >&2
    exit 2
    ;;
  esac
  shift
done
if [ "$quick" = 1 ]; then
  runs=1
fi
case "$runs" in
'' | *[!0-9]* | 0)
  echo "run.sh: --runs: '$runs' is not a whole number >= 1" >&2
  exit 2
  ;;
esac
if [ ! -x /usr/bin/time ]; then
  echo "run.sh: /usr/bin/time is missing (apt-get install time)" >&2
  exit 77
fi

if [ "$build" = 1 ]; then
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$dir" -j "$(nproc)" --target bench-sched bench-mem mlfqsim \
    >/dev/null
fi
sched="$dir/bench/bench-sched"
mem="$dir/bench/bench-mem"
sim="$dir/mlfqsim"
for p in "$sched" "$mem" "$sim"; do
  if [ ! -x "$p" ]; then
    echo "run.sh: $p is not built" >&2
    exit 1
  fi
done
out="$dir/bench-results"
mkdir -p "$out"
raw="$out/raw.txt"
: >"$raw"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

policies="fcfs naive-mlfq mlfq srpt"
num='[0-9]+(\.[0-9]+)?'

cc="$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$dir/CMakeCache.txt")"
btype="$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$dir/CMakeCache.txt")"
echo "# machine: nproc=$(nproc)" \
  "cpu=\"$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)\"" \
  "cc=\"$("${cc:-cc}" --version | head -1)\" build_type=${btype:-?}" \
  "kernel=$(uname -r)"
commit="$(git rev-parse --short HEAD 2>/dev/null || echo none)"
if [ -n "$(git status --porcelain -- common sim 2>/dev/null)" ]; then
  commit="$commit+modified-core"
fi
echo "# start: $(date -u +%FT%TZ) commit=$commit load=\"$(cut -d' ' -f1-3 /proc/loadavg)\"" \
  "runs=$runs quick=$quick"

# Runs a command whose stdout must be lines matching the pattern (ERE);
# appends them to the raw file and echoes them.
record() {
  local pattern="$1" line
  shift
  if ! "$@" >"$tmp/out" 2>"$tmp/err"; then
    echo "run.sh: failed: $*" >&2
    cat "$tmp/err" >&2
    exit 1
  fi
  if [ ! -s "$tmp/out" ]; then
    echo "run.sh: no output from: $*" >&2
    exit 1
  fi
  while IFS= read -r line; do
    if ! printf '%s\n' "$line" | grep -Eqx "$pattern"; then
      echo "run.sh: malformed line from $*: $line" >&2
      exit 1
    fi
  done <"$tmp/out"
  tee -a "$raw" <"$tmp/out"
}

sched_line="bench=sched policy=[a-z-]+ max_batch=[0-9]+ jobs=[0-9]+"
sched_line+=" warmup=[0-9]+ iterations=[0-9]+ job_iterations=[0-9]+"
sched_line+=" seconds=$num iter_per_s=[0-9]+ job_iter_per_s=[0-9]+"
sched_line+=" resubmitted=[0-9]+ waiting=[0-9]+ model_ns=[0-9]+"
mem_line="bench=mem policy=[a-z-]+ jobs=[0-9]+ sizeof_job=[0-9]+"
mem_line+=" rss_before_kb=[0-9]+ job_array_bytes_per_job=-?$num"
mem_line+=" sched_bytes_per_job=-?$num bytes_per_job=-?$num"
mem_line+=" maxrss_kb=[0-9]+ waiting=[0-9]+"
sim_line="bench=sim policy=[a-z-]+ requests=[0-9]+ rate=$num wall_s=$num"
sim_line+=" maxrss_kb=[0-9]+ makespan_s=$num throughput_rps=$num"

# One mlfqsim run under /usr/bin/time -v, as a bench=sim line.
sim_run() {
  local policy="$1" n="$2" rate="$3" wall rss makespan tput
  shift 3
  /usr/bin/time -v -o "$tmp/time" "$sim" --num-requests "$n" --rate "$rate" \
    --dist poisson --output-len uniform:1:199 --input-len uniform:1:512 \
    --max-batch 32 --policy "$policy" >"$tmp/sim" || return 1
  wall="$(sed -n 's/^.*Elapsed (wall clock) time.*: //p' "$tmp/time" |
    awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }')"
  rss="$(sed -n 's/^.*Maximum resident set size (kbytes): //p' "$tmp/time")"
  makespan="$(awk '$1 == "makespan" { printf "%.3f", $3 / 1000 }' "$tmp/sim")"
  tput="$(awk '$1 == "throughput" && $2 == "(req/s)" { print $3 }' "$tmp/sim")"
  echo "bench=sim policy=$policy requests=$n rate=$rate wall_s=$wall" \
    "maxrss_kb=$rss makespan_s=$makespan throughput_rps=$tput"
}

# min/median/max of the metrics over the runs of each key in the raw file.
summarize() {
  local bench="$1" keys="$2" metrics="$3"
  awk -v bench="$bench" -v keys="$keys" -v metrics="$metrics" '
    function num_sort(a, n, i, j, t) {
      for (i = 2; i <= n; i++)
        for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
          t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
        }
    }
    function fmt(v) { return sprintf(v >= 10000 || v == int(v) ? "%.0f" : "%.2f", v) }
    BEGIN { nk = split(keys, K, " "); nm = split(metrics, M, " ") }
    $1 == "bench=" bench {
      delete f
      for (i = 1; i <= NF; i++) {
        eq = index($i, "=")
        f[substr($i, 1, eq - 1)] = substr($i, eq + 1)
      }
      key = "bench=" bench
      for (i = 1; i <= nk; i++) key = key " " K[i] "=" f[K[i]]
      if (!(key in seen)) { seen[key] = 1; order[++nkeys] = key }
      for (i = 1; i <= nm; i++) {
        id = key SUBSEP M[i]
        vals[id, ++cnt[id]] = f[M[i]] + 0
      }
    }
    END {
      for (k = 1; k <= nkeys; k++)
        for (i = 1; i <= nm; i++) {
          id = order[k] SUBSEP M[i]
          n = cnt[id]
          for (j = 1; j <= n; j++) a[j] = vals[id, j]
          num_sort(a, n)
          med = n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
          printf "summary %s metric=%s runs=%d min=%s median=%s max=%s\n",
                 order[k], M[i], n, fmt(a[1]), fmt(med), fmt(a[n])
        }
    }' "$raw"
}

if [ -z "$only" ] || [ "$only" = sched ]; then
  q=
  if [ "$quick" = 1 ]; then q=--quick; fi
  echo "# cmd: $sched --policy P $q"
  for _ in $(seq "$runs"); do
    for p in $policies; do
      record "$sched_line" "$sched" --policy "$p" $q
    done
  done
  echo "# cmd: $sched --policy P --max-batch 32 --iterations 2000000" \
    "--warmup 100000 $q"
  for _ in $(seq "$runs"); do
    for p in $policies; do
      record "$sched_line" "$sched" --policy "$p" --max-batch 32 \
        --iterations 2000000 --warmup 100000 $q
    done
  done
fi

if [ -z "$only" ] || [ "$only" = mem ]; then
  q=
  if [ "$quick" = 1 ]; then q=--quick; fi
  echo "# cmd: $mem --policy P $q"
  for _ in $(seq "$runs"); do
    for p in $policies; do
      record "$mem_line" "$mem" --policy "$p" $q
    done
  done
fi

if [ -z "$only" ] || [ "$only" = sim ]; then
  n=1000000
  if [ "$quick" = 1 ]; then n=10000; fi
  for rate in 20 40; do
    echo "# cmd: /usr/bin/time -v $sim --num-requests $n --rate $rate" \
      "--dist poisson --output-len uniform:1:199 --input-len uniform:1:512" \
      "--max-batch 32 --policy P"
    for _ in $(seq "$runs"); do
      for p in $policies; do
        record "$sim_line" sim_run "$p" "$n" "$rate"
      done
    done
  done
fi

echo "# end: $(date -u +%FT%TZ) load=\"$(cut -d' ' -f1-3 /proc/loadavg)\""
summarize sched "policy max_batch" "iter_per_s job_iter_per_s" | tee "$out/summary.txt"
summarize mem "policy" "bytes_per_job sched_bytes_per_job maxrss_kb" |
  tee -a "$out/summary.txt"
summarize sim "policy rate" "wall_s maxrss_kb throughput_rps" |
  tee -a "$out/summary.txt"
