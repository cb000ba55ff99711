#!/usr/bin/env bash
# Builds the benchmarks in Release and runs them one at a time; see
# docs/BENCHMARKS.md for what each one measures and the targets.
#
#   bench/run.sh                  every benchmark, 5 runs each (~23 min, 19 of them loadgen)
#   bench/run.sh --quick          tiny sizes, 1 run, a few seconds (CI)
#   bench/run.sh --runs N         N runs of each measurement
#   bench/run.sh --only NAME      sched, mem, sim, daemon, loadgen, router, http or front
#   bench/run.sh --build-dir DIR  build in DIR (default build-bench)
#   bench/run.sh --no-build       use the programs already built in DIR
#   bench/run.sh --out DIR        results in DIR (default: bench-results in
#                                 the build directory)
#   bench/run.sh --quiet          output to DIR/output.txt; only errors
#                                 reach the terminal (how the tests run it)
#
# Every run prints key=value lines; the runs go to raw.txt in the results
# directory, and at the end one "summary" line per measurement gives min/median/max over the runs. The exact command of each
# measurement is printed as a "# cmd:" line. The daemon benchmarks start a
# fresh mlfqd on 127.0.0.1:0 for every run, point bench-daemon at it and stop
# it with SIGTERM; no daemon outlives the script. The loadgen group does the
# same for loadgen (its JSON is read with python3). Exits 77 if
# /usr/bin/time (the Debian package "time") or, for the loadgen group,
# python3 is missing, 1 if a benchmark fails, prints a malformed line or
# reports failed requests, or a daemon exits non-zero. Nothing here checks
# speed.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
runs=5
only=
dir=build-bench
build=1
out=
quiet=0
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
  --out)
    out="$2"
    shift
    ;;
  --quiet) quiet=1 ;;
  -h | --help)
    sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'
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
if { [ -z "$only" ] || [ "$only" = loadgen ]; } && ! command -v python3 >/dev/null; then
  echo "run.sh: python3 is missing (the loadgen group reads loadgen's JSON)" >&2
  exit 77
fi

if [ "$build" = 1 ]; then
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$dir" -j "$(nproc)" --target bench-sched bench-mem mlfqsim \
    mlfqd bench-daemon loadgen mlfq-router bench-router bench-http >/dev/null
fi
sched="$dir/bench/bench-sched"
mem="$dir/bench/bench-mem"
sim="$dir/mlfqsim"
mlfqd="$dir/mlfqd"
bdaemon="$dir/bench/bench-daemon"
lg="$dir/loadgen"
rtr="$dir/mlfq-router"
brouter="$dir/bench/bench-router"
bhttp="$dir/bench/bench-http"
for p in "$sched" "$mem" "$sim" "$mlfqd" "$bdaemon" "$lg" "$rtr" "$brouter" \
  "$bhttp"; do
  if [ ! -x "$p" ]; then
    echo "run.sh: $p is not built" >&2
    exit 1
  fi
done
out="${out:-$dir/bench-results}"
mkdir -p "$out"
raw="$out/raw.txt"
: >"$raw"
if [ "$quiet" = 1 ]; then
  exec >"$out/output.txt"
fi
tmp="$(mktemp -d)"

# The mlfqd of the measurement running now (started by daemon_start).
daemon_pid=
daemon_addr=

# The mlfq-router of the measurement running now (started by router_start).
router_pid=
router_addr=

# Stops process $1 (named $2 in messages): SIGTERM, then waits for it
# (SIGKILL after 60 s). Returns its exit status.
stop_pid() {
  local pid="$1" state=Z rc=0
  if [ -z "$pid" ]; then return 0; fi
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 600); do
    state="$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null || echo Z)"
    if [ "$state" = Z ]; then break; fi
    sleep 0.1
  done
  if [ "$state" != Z ]; then
    echo "run.sh: $2 (pid $pid) did not stop within 60 s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" || rc=$?
  return "$rc"
}

# Stops the daemon; returns its exit status.
daemon_stop() {
  local pid="$daemon_pid"
  daemon_pid=
  stop_pid "$pid" mlfqd
}

# Stops the router; returns its exit status.
router_stop() {
  local pid="$router_pid"
  router_pid=
  stop_pid "$pid" mlfq-router
}

trap 'router_stop || true; daemon_stop || true; rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

policies="fcfs naive-mlfq mlfq srpt"
num='[0-9]+(\.[0-9]+)?'

cc="$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$dir/CMakeCache.txt")"
btype="$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$dir/CMakeCache.txt")"
echo "# machine: nproc=$(nproc)" \
  "cpu=\"$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)\"" \
  "cc=\"$("${cc:-cc}" --version | head -1)\" build_type=${btype:-?}" \
  "kernel=$(uname -r)"
commit="$(git rev-parse --short HEAD 2>/dev/null || echo none)"
if [ -n "$(git status --porcelain -- common sim server router 2>/dev/null)" ]; then
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
daemon_load="bench=daemon mode=[a-z]+ conns=[0-9]+ requests=[0-9]+"
daemon_load+=" tokens_per_request=[0-9]+ window=[0-9]+ done=[0-9]+"
daemon_load+=" errors=[0-9]+ tokens=[0-9]+ seconds=$num requests_per_s=[0-9]+"
daemon_load+=" tokens_per_s=[0-9]+"
daemon_late="bench=daemon mode=lateness workers=[0-9]+ iterations=[0-9]+"
daemon_late+=" p50_us=$num p99_us=$num max_us=$num"
daemon_mem="bench=daemon mode=memory requests=[0-9]+ pending=[0-9]+"
daemon_mem+=" rejected=[0-9]+ rss_before_kb=[0-9]+ rss_after_kb=[0-9]+"
daemon_mem+=" bytes_per_request=-?$num rss_after_mb=$num"
daemon_line="($daemon_load|$daemon_late|$daemon_mem)"
lg_run_line="bench=loadgen mode=(fidelity|rate) policy=[a-z-]+ dist=[a-z]+"
lg_run_line+=" rate=$num( schedule_per_s=$num)? requests=[0-9]+ time_scale=$num"
lg_run_line+=" failed=0 mean_jct_pct=-?$num abs_mean_jct_pct=$num"
lg_run_line+=" job_diff_mean_ms=$num job_diff_p95_ms=$num within_0_5_ms_pct=$num"
lg_run_line+=" send_p50_us=$num send_p99_us=$num send_max_us=$num"
lg_run_line+=" sent_per_s=$num"
lg_mem_line="bench=loadgen mode=memory requests=[0-9]+ timeouts=[0-9]+"
lg_mem_line+=" maxrss_kb=[0-9]+ base_maxrss_kb=[0-9]+ bytes_per_request=-?$num"
lg_trace_line="bench=loadgen mode=trace requests=[0-9]+ tokens=[0-9]+"
lg_trace_line+=" base_maxrss_kb=[0-9]+ run_maxrss_kb=[0-9]+ peak_maxrss_kb=[0-9]+"
lg_trace_line+=" bytes_per_token_run=-?$num bytes_per_token_peak=-?$num"
lg_line="($lg_run_line|$lg_mem_line|$lg_trace_line)"
router_lat="bench=router mode=latency streams=[0-9]+ tokens_per_request=[0-9]+"
router_lat+=" tokens_direct=[0-9]+ tokens_router=[0-9]+ errors=[0-9]+"
router_lat+=" router_tokens_per_s=[0-9]+ t0_rtt_us=$num direct_p50_us=$num"
router_lat+=" direct_p99_us=$num direct_max_us=$num router_p50_us=$num"
router_lat+=" router_p99_us=$num router_max_us=$num added_p50_us=-?$num"
router_lat+=" added_p99_us=-?$num added_max_us=-?$num events=[0-9]+"
router_lat+=" negative=[0-9]+ paired_p50_us=$num paired_p99_us=$num"
router_lat+=" paired_max_us=$num unstamped=[0-9]+"
router_tok="bench=router mode=tokens path=(direct|router) conns=[0-9]+"
router_tok+=" requests=[0-9]+ tokens_per_request=[0-9]+ window=[0-9]+"
router_tok+=" done=[0-9]+ errors=[0-9]+ tokens=[0-9]+ seconds=$num"
router_tok+=" requests_per_s=[0-9]+ tokens_per_s=[0-9]+"
router_line="($router_lat|$router_tok)"
http_line="bench=http mode=(stream|plain) keep_alive=[01] conns=[0-9]+"
http_line+=" requests=[0-9]+ tokens_per_request=[0-9]+ done=[0-9]+ errors=0"
http_line+=" tokens=[0-9]+ seconds=$num requests_per_s=[0-9]+"
http_line+=" tokens_per_s=[0-9]+( server_cpu_s=$num server_us_per_request=$num"
http_line+=" server_us_per_token=$num)?"
front_line="bench=front decode_ms=$num ${http_line#bench=http }"
http_proto="bench=http mode=protocol conns=[0-9]+ requests=[0-9]+"
http_proto+=" tokens_per_request=[0-9]+ window=[0-9]+ done=[0-9]+ errors=0"
http_proto+=" tokens=[0-9]+ seconds=$num requests_per_s=[0-9]+ tokens_per_s=[0-9]+"
http_line="($http_line|$http_proto)"

# Peak RSS in kB from the /usr/bin/time -v output in $tmp/time.
maxrss() {
  sed -n 's/^.*Maximum resident set size (kbytes): //p' "$tmp/time"
}

# Runs loadgen under /usr/bin/time -v (to $tmp/time) with the arguments
# after $2, ADDR standing for the address of a fresh mlfqd started with the
# options in $1; the daemon is stopped afterwards. Fails unless loadgen
# exits with status $2 and the daemon exits 0.
lg_daemon_run() {
  local dopts="$1" want="$2" a st=0 rc=0
  local args=()
  shift 2
  daemon_start "$dopts" || return 1
  for a in "$@"; do
    case "$a" in
    ADDR) args+=("$daemon_addr") ;;
    *) args+=("$a") ;;
    esac
  done
  /usr/bin/time -v -o "$tmp/time" "$lg" "${args[@]}" >"$tmp/lg.out" \
    2>"$tmp/lg.err" || st=$?
  if [ "$st" != "$want" ]; then
    echo "run.sh: loadgen exited $st, not $want: $lg ${args[*]}" >&2
    cat "$tmp/lg.err" >&2
    rc=1
  fi
  if ! daemon_stop; then
    echo "run.sh: mlfqd exited non-zero: $mlfqd $dopts" >&2
    rc=1
  fi
  if [ "$rc" != 0 ]; then
    cat "$tmp/daemon.err" >&2
    return 1
  fi
}

# key=value fields of the run in loadgen's JSON $tmp/lg.json; fails if a
# request failed or there is no model error.
lg_json() {
  python3 - "$tmp/lg.json" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
r = doc["runs"][0]
failed = sum(r["failures"].values())
me = r.get("model_error")
if failed or me is None:
    sys.exit("run.sh: loadgen: %d failed requests %s" % (failed, r["failures"]))
print("requests=%d time_scale=%g failed=%d mean_jct_pct=%.4f"
      " abs_mean_jct_pct=%.4f job_diff_mean_ms=%.4f job_diff_p95_ms=%.4f"
      " within_0_5_ms_pct=%.2f send_p50_us=%.1f send_p99_us=%.1f"
      " send_max_us=%.1f sent_per_s=%.1f" % (
          doc["requests"], r["time_scale"], failed, me["mean_jct_pct"],
          abs(me["mean_jct_pct"]), me["job_diff_mean_ms"],
          me["job_diff_p95_ms"], me["jobs_within_0_5_ms"] * 100,
          r["send_error_p50_us"], r["send_error_p99_us"],
          r["send_error_max_us"], r["sent_per_s"]))
EOF
}

# One loadgen run that must complete every request, against a fresh mlfqd
# with the options in $2: a mode=fidelity or mode=rate line ($1) with the
# fields in $3, then the run's model error, send error and send rate. The
# rest are loadgen's arguments.
lg_complete() {
  local mode="$1" dopts="$2" fields="$3" m
  shift 3
  lg_daemon_run "$dopts" 0 "$@" --json "$tmp/lg.json" --quiet || return 1
  m="$(lg_json)" || return 1
  echo "bench=loadgen mode=$mode $fields $m"
}

# Requests per second of the schedule itself (first to last arrival) for
# $1 requests at rate $2 with arrivals $3, from mlfqsim's per-job CSV: the
# same options and seed give loadgen's send times.
lg_schedule_rate() {
  "$sim" --num-requests "$1" --rate "$2" --dist "$3" --input-len fixed:16 \
    --output-len fixed:1 --prefill-ms-per-token 0 --decode-ms 0 \
    --jobs-csv "$tmp/sched.csv" >/dev/null || return 1
  python3 - "$tmp/sched.csv" <<'EOF'
import csv, sys
a = [float(r["arrival_ms"]) for r in csv.DictReader(open(sys.argv[1]))]
print("%.1f" % ((len(a) - 1) / ((max(a) - min(a)) / 1000)))
EOF
}

# Loadgen's memory per in-flight request: peak RSS of $1 requests that
# never finish (all sent at once, all failing TIMEOUT after $2 s; loadgen
# exits 1), minus that of the same command with 1 request, per request.
lg_memory() {
  local n="$1" t="$2" dopts="$3" k rss base fails
  for k in 1 "$n"; do
    lg_daemon_run "$dopts" 1 --server ADDR --rate inf --num-requests "$k" \
      --timeout "$t" --input-len fixed:16 --output-len fixed:1000 \
      --json "$tmp/lg.json" --quiet || return 1
    fails="$(python3 -c 'import json, sys
print(json.load(open(sys.argv[1]))["runs"][0]["failures"].get("TIMEOUT", 0))' \
      "$tmp/lg.json")" || return 1
    if [ "$fails" != "$k" ]; then
      echo "run.sh: $fails of $k requests timed out" >&2
      return 1
    fi
    if [ "$k" = 1 ]; then base="$(maxrss)"; else rss="$(maxrss)"; fi
  done
  echo "bench=loadgen mode=memory requests=$n timeouts=$fails maxrss_kb=$rss" \
    "base_maxrss_kb=$base bytes_per_request=$(awk -v a="$rss" -v b="$base" \
      -v n="$n" 'BEGIN { printf "%.1f", (a - b) * 1024 / n }')"
}

# Memory of the token timestamps: $1 requests of 100 tokens sent at once
# to a fresh zero-time mlfqd (options $2), without --trace-csv, with it
# written to a file, and with it pointed at a directory that does not
# exist (loadgen keeps the timestamps through the run, then fails to open
# the file before it builds the sorted trace, and exits 1).
lg_trace() {
  local n="$1" dopts="$2" base run peak want v
  local targs=(--server ADDR --rate inf --num-requests "$n" --input-len fixed:16
    --output-len fixed:100 --quiet)
  for v in base peak run; do
    want=0
    case "$v" in
    base) lg_daemon_run "$dopts" 0 "${targs[@]}" || return 1 ;;
    peak) lg_daemon_run "$dopts" 0 "${targs[@]}" \
      --trace-csv "$tmp/trace.csv" || return 1 ;;
    run)
      lg_daemon_run "$dopts" 1 "${targs[@]}" \
        --trace-csv "$tmp/none/trace.csv" || return 1
      if ! grep -q 'cannot write' "$tmp/lg.err"; then
        cat "$tmp/lg.err" >&2
        return 1
      fi
      ;;
    esac
    printf -v "$v" '%s' "$(maxrss)"
  done
  if [ "$(wc -l <"$tmp/trace.csv")" != $((n * 100 + 1)) ]; then
    echo "run.sh: the trace has $(wc -l <"$tmp/trace.csv") lines" >&2
    return 1
  fi
  echo "bench=loadgen mode=trace requests=$n tokens=$((n * 100))" \
    "base_maxrss_kb=$base run_maxrss_kb=$run peak_maxrss_kb=$peak" \
    "$(awk -v b="$base" -v r="$run" -v p="$peak" -v t=$((n * 100)) 'BEGIN {
      printf "bytes_per_token_run=%.1f bytes_per_token_peak=%.1f",
        (r - b) * 1024 / t, (p - b) * 1024 / t }')"
}

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

# Starts the server program $1 with the options in $2 (split on spaces),
# which must include --listen HOST:0, its output in $tmp/$3.out and
# $tmp/$3.err; sets started_pid, and started_addr, the address it prints
# as its first line once it listens. Returns 1 if it does not (the
# process is then stopped).
started_pid=
started_addr=
server_start() {
  local state
  # Emptied here, not only by the redirection below: that runs in the
  # child, which may not have run yet when the loop first reads the file
  # (it would read the previous server's address).
  : >"$tmp/$3.out"
  # shellcheck disable=SC2086
  "$1" $2 >"$tmp/$3.out" 2>"$tmp/$3.err" &
  started_pid=$!
  for _ in $(seq 200); do
    if IFS= read -r started_addr <"$tmp/$3.out"; then return 0; fi
    state="$(cut -d' ' -f3 "/proc/$started_pid/stat" 2>/dev/null || echo Z)"
    if [ "$state" = Z ]; then break; fi
    sleep 0.05
  done
  echo "run.sh: $3 did not start: $1 $2" >&2
  cat "$tmp/$3.err" >&2
  stop_pid "$started_pid" "$3" || true
  return 1
}

# Starts mlfqd with the options in $1; sets daemon_pid and daemon_addr.
daemon_start() {
  server_start "$mlfqd" "$1" daemon || return 1
  daemon_pid="$started_pid"
  daemon_addr="$started_addr"
}

# Starts mlfq-router with the options in $1; sets router_pid and
# router_addr.
router_start() {
  server_start "$rtr" "$1" router || return 1
  router_pid="$started_pid"
  router_addr="$started_addr"
}

# One daemon measurement: a fresh mlfqd with the options in $1, then
# bench-daemon with the other arguments, ADDR and PID standing for the
# daemon's address and pid, then the daemon is stopped. Prints
# bench-daemon's lines, the memory line with the RSS after in MB (10^6
# bytes) appended; fails on errors or rejected requests, or if the daemon
# does not exit 0.
daemon_run() {
  local dopts="$1" a rc=0
  local args=()
  shift
  daemon_start "$dopts" || return 1
  for a in "$@"; do
    case "$a" in
    ADDR) args+=("$daemon_addr") ;;
    PID) args+=("$daemon_pid") ;;
    *) args+=("$a") ;;
    esac
  done
  "$bdaemon" "${args[@]}" >"$tmp/bd" || rc=1
  if ! daemon_stop; then
    echo "run.sh: mlfqd exited non-zero: $mlfqd $dopts" >&2
    rc=1
  fi
  if [ "$rc" != 0 ]; then
    cat "$tmp/daemon.err" >&2
    return 1
  fi
  if grep -Eq ' (errors|rejected)=[1-9]' "$tmp/bd"; then
    echo "run.sh: failed requests: $(cat "$tmp/bd")" >&2
    return 1
  fi
  awk '$2 == "mode=memory" {
         for (i = 3; i <= NF; i++) {
           if ($i ~ /^rss_after_kb=/) kb = substr($i, 14)
           if ($i ~ /^requests=/) n = substr($i, 10)
           if ($i ~ /^pending=/) p = substr($i, 9)
         }
         if (p != n) { print "run.sh: pending " p " of " n > "/dev/stderr"; exit 1 }
         $0 = $0 sprintf(" rss_after_mb=%.1f", kb * 1024 / 1e6)
       }
       { print }' "$tmp/bd"
}

# One router measurement: a fresh mlfqd with the options in $1 and a fresh
# mlfq-router in front of it with the options in $2 (and --replica), then
# the command in the other arguments, REPLICA and ROUTER standing for their
# addresses; then the router and the daemon are stopped, and each must
# exit 0. Prints the command's lines; bench-daemon's tokens line becomes a
# bench=router line with path=direct or path=router, the address it got.
router_run() {
  local dopts="$1" ropts="$2" a rc=0 path=
  local args=()
  shift 2
  daemon_start "$dopts" || return 1
  if ! router_start "$ropts --replica $daemon_addr"; then
    daemon_stop || true
    return 1
  fi
  for a in "$@"; do
    case "$a" in
    REPLICA)
      args+=("$daemon_addr")
      path=direct
      ;;
    ROUTER)
      args+=("$router_addr")
      path=router
      ;;
    *) args+=("$a") ;;
    esac
  done
  "${args[@]}" >"$tmp/br" || rc=1
  if ! router_stop; then
    echo "run.sh: mlfq-router exited non-zero: $rtr $ropts" >&2
    rc=1
  fi
  if ! daemon_stop; then
    echo "run.sh: mlfqd exited non-zero: $mlfqd $dopts" >&2
    rc=1
  fi
  if [ "$rc" != 0 ]; then
    cat "$tmp/router.err" "$tmp/daemon.err" >&2
    return 1
  fi
  if grep -Eq ' errors=[1-9]' "$tmp/br"; then
    echo "run.sh: failed requests: $(cat "$tmp/br")" >&2
    return 1
  fi
  sed "s/^bench=daemon mode=tokens /bench=router mode=tokens path=$path /" \
    "$tmp/br"
}

# One HTTP measurement: a fresh mlfqd with the options in $1 and its HTTP
# front door on a free port, then the command in the other arguments, HTTP
# standing for that port's address and ADDR for the protocol one, then the
# daemon is stopped; bench-daemon's lines become mode=protocol lines.
# Fails on errors, or if the daemon does not exit 0.
http_run() {
  local dopts="$1" a rc=0 haddr
  local args=()
  shift
  daemon_start "$dopts --http-listen 127.0.0.1:0 --http-port-file $tmp/http.port" ||
    return 1
  haddr="$(cat "$tmp/http.port")"
  for a in "$@"; do
    case "$a" in
    HTTP) args+=("$haddr") ;;
    ADDR) args+=("$daemon_addr") ;;
    PID) args+=("$daemon_pid") ;;
    *) args+=("$a") ;;
    esac
  done
  "${args[@]}" >"$tmp/hr" || rc=1
  if ! daemon_stop; then
    echo "run.sh: mlfqd exited non-zero: $mlfqd $dopts" >&2
    rc=1
  fi
  if [ "$rc" != 0 ]; then
    cat "$tmp/hr" "$tmp/daemon.err" >&2
    return 1
  fi
  sed 's/^bench=daemon mode=tokens /bench=http mode=protocol /' "$tmp/hr"
}

# min/median/max of the metrics over the runs of each key in the raw file,
# of the lines of that bench that match the ERE $4 if given.
summarize() {
  local bench="$1" keys="$2" metrics="$3" sel="${4:-}"
  awk -v bench="$bench" -v keys="$keys" -v metrics="$metrics" -v sel="$sel" '
    function num_sort(a, n, i, j, t) {
      for (i = 2; i <= n; i++)
        for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
          t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
        }
    }
    function fmt(v) {
      return sprintf(v >= 10000 || v == int(v) ? "%.0f" : v < 1 && v > -1 ? "%.4f" : "%.2f", v)
    }
    BEGIN { nk = split(keys, K, " "); nm = split(metrics, M, " ") }
    $1 == "bench=" bench && (sel == "" || $0 ~ sel) {
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

if [ -z "$only" ] || [ "$only" = daemon ]; then
  late_tokens=1500 req_n=200000 tok_n=2000 mem_n=100000
  if [ "$quick" = 1 ]; then
    late_tokens=20 req_n=2000 tok_n=20 mem_n=1000
  fi
  listen="--listen 127.0.0.1:0 --log-level warn"
  late_d="$listen --policy fcfs --prefill-ms-per-token 0.001 --decode-ms 1"
  zero_d="$listen --policy fcfs --prefill-ms-per-token 0 --decode-ms 0"
  zero_d+=" --max-batch 256"
  mem_d="$listen --policy mlfq --decode-ms 100000 --max-pending 200000"
  mem_d+=" --max-pending-per-conn 200000" # one connection holds them all
  late1=(--server ADDR --mode lateness --requests 2 --tokens "$late_tokens"
    --window 64)
  late4=(--server ADDR --mode lateness --requests 8 --tokens "$late_tokens"
    --window 64)
  reqs=(--server ADDR --mode requests --requests "$req_n" --window 8192)
  toks=(--server ADDR --mode tokens --conns 8 --requests "$tok_n" --tokens 64
    --window 256)
  memo=(--server ADDR --mode memory --requests "$mem_n" --pid PID)
  echo "# daemon: every run starts its own mlfqd; ADDR is the address it" \
    "prints first, PID its pid; it is stopped with SIGTERM after the run"
  echo "# cmd: $mlfqd $late_d --workers 1 ; $bdaemon ${late1[*]}"
  echo "# cmd: $mlfqd $late_d --workers 4 ; $bdaemon ${late4[*]}"
  echo "# cmd: $mlfqd $zero_d ; $bdaemon ${reqs[*]}"
  echo "# cmd: $mlfqd $zero_d ; $bdaemon ${toks[*]}"
  echo "# cmd: $mlfqd $mem_d ; $bdaemon ${memo[*]}"
  for _ in $(seq "$runs"); do
    record "$daemon_line" daemon_run "$late_d --workers 1" "${late1[@]}"
    record "$daemon_line" daemon_run "$late_d --workers 4" "${late4[@]}"
    record "$daemon_line" daemon_run "$zero_d" "${reqs[@]}"
    record "$daemon_line" daemon_run "$zero_d" "${toks[@]}"
    record "$daemon_line" daemon_run "$mem_d" "${memo[@]}"
  done
fi

if [ -z "$only" ] || [ "$only" = loadgen ]; then
  fid_n= fid_ts= rate_n=100000 slow_n=10000 lmem_n=100000 lmem_t=3 tr_n=10000
  if [ "$quick" = 1 ]; then
    fid_n="--num-requests 20" fid_ts="--time-scale 0.05"
    rate_n=2000 slow_n=200 lmem_n=1000 lmem_t=0.5 tr_n=100
  fi
  listen="--listen 127.0.0.1:0 --log-level warn"
  fid_d="$listen $fid_ts"
  zero_d="$listen --policy fcfs --prefill-ms-per-token 0 --decode-ms 0"
  zero_d+=" --max-batch 256"
  lmem_d="$listen --policy fcfs --decode-ms 100000 --max-pending 200000"
  lmem_d+=" --max-pending-per-conn 200000" # one connection holds them all
  # shellcheck disable=SC2206
  fid=(--server ADDR --workload data/appendix_b.csv $fid_n --rate 20 --dist poisson)
  zero=(--input-len fixed:16 --output-len fixed:1)
  echo "# loadgen: every run starts its own mlfqd; ADDR is the address it" \
    "prints first; it is stopped with SIGTERM after the run. F is loadgen's" \
    "--json file"
  for p in fcfs mlfq; do
    echo "# cmd: $mlfqd $fid_d --policy $p ; $lg ${fid[*]} --json F --quiet"
  done
  declare -A sched_rate=()
  for rd in "20000 $rate_n poisson" "20000 $rate_n uniform" \
    "1000 $slow_n poisson" "1000 $slow_n uniform"; do
    set -- $rd
    echo "# cmd: $mlfqd $zero_d ; $lg --server ADDR --rate $1 --dist $3" \
      "--num-requests $2 ${zero[*]} --json F --quiet"
    sched_rate[$rd]="$(lg_schedule_rate "$2" "$1" "$3")"
  done
  echo "# cmd: $mlfqd $lmem_d ; /usr/bin/time -v $lg --server ADDR --rate inf" \
    "--num-requests N --timeout $lmem_t --input-len fixed:16" \
    "--output-len fixed:1000 --json F --quiet   (N = $lmem_n and 1; exits 1)"
  echo "# cmd: $mlfqd $zero_d ; /usr/bin/time -v $lg --server ADDR --rate inf" \
    "--num-requests $tr_n --input-len fixed:16 --output-len fixed:100" \
    "--quiet [--trace-csv FILE | --trace-csv NO-SUCH-DIR/FILE (exits 1)]"
  for _ in $(seq "$runs"); do
    for p in fcfs mlfq; do
      record "$lg_line" lg_complete fidelity "$fid_d --policy $p" \
        "policy=$p dist=poisson rate=20" "${fid[@]}"
    done
    for rd in "20000 $rate_n poisson" "20000 $rate_n uniform" \
      "1000 $slow_n poisson" "1000 $slow_n uniform"; do
      set -- $rd
      record "$lg_line" lg_complete rate "$zero_d" \
        "policy=fcfs dist=$3 rate=$1 schedule_per_s=${sched_rate[$rd]}" \
        --server ADDR --rate "$1" --dist "$3" --num-requests "$2" "${zero[@]}"
    done
    record "$lg_line" lg_memory "$lmem_n" "$lmem_t" "$lmem_d"
    record "$lg_line" lg_trace "$tr_n" "$zero_d"
  done
fi

if [ -z "$only" ] || [ "$only" = router ]; then
  lat_tokens=2000 tok_n=2000
  if [ "$quick" = 1 ]; then
    lat_tokens=50 tok_n=20
  fi
  listen="--listen 127.0.0.1:0 --log-level warn"
  lat_d="$listen --policy fcfs --prefill-ms-per-token 0.001 --decode-ms 1"
  lat_d+=" --max-batch 20"
  zero_d="$listen --policy fcfs --prefill-ms-per-token 0 --decode-ms 0"
  zero_d+=" --max-batch 256"
  lat=("$brouter" --direct REPLICA --router ROUTER --streams 10
    --tokens "$lat_tokens")
  toks=(--mode tokens --conns 8 --requests "$tok_n" --tokens 64 --window 256)
  echo "# router: every run starts its own mlfqd and an mlfq-router in front" \
    "of it; REPLICA and ROUTER are the addresses they print first; both are" \
    "stopped with SIGTERM after the run"
  echo "# cmd: $mlfqd $lat_d ; $rtr $listen --replica REPLICA ; ${lat[*]}"
  echo "# cmd: $mlfqd $zero_d ; $rtr $listen --replica REPLICA ;" \
    "$bdaemon --server REPLICA|ROUTER ${toks[*]}"
  for _ in $(seq "$runs"); do
    record "$router_line" router_run "$lat_d" "$listen" "${lat[@]}"
    record "$router_line" router_run "$zero_d" "$listen" "$bdaemon" \
      --server REPLICA "${toks[@]}"
    record "$router_line" router_run "$zero_d" "$listen" "$bdaemon" \
      --server ROUTER "${toks[@]}"
  done
fi

if [ -z "$only" ] || [ "$only" = http ]; then
  # S streams of 64 tokens at 1 ms per iteration: at most S x 1,000
  # tokens/s, which a front door that keeps up reaches.
  hs=256 hn=2048 hpc=8
  if [ "$quick" = 1 ]; then
    hs=16 hn=32 hpc=2
  fi
  http_d="--listen 127.0.0.1:0 --log-level warn --policy fcfs"
  http_d+=" --prefill-ms-per-token 0 --decode-ms 1 --max-batch 1024"
  http_d+=" --max-connections 2048"
  hstream=("$bhttp" --server HTTP --mode stream --conns "$hs" --requests "$hn"
    --tokens 64)
  hplain=("$bhttp" --server HTTP --mode plain --conns "$hs" --requests "$hn"
    --tokens 64)
  hmux=("$bdaemon" --server ADDR --mode tokens --conns 1 --requests "$hn"
    --tokens 64 --window "$hs")
  hconn=("$bdaemon" --server ADDR --mode tokens --conns "$hs" --requests "$hpc"
    --tokens 64 --window 1)
  echo "# http: every run starts its own mlfqd with the options below and" \
    "--http-listen 127.0.0.1:0; HTTP and ADDR are its HTTP and protocol" \
    "addresses; it is stopped with SIGTERM after the run. $hs requests are" \
    "in flight in each: HTTP streams and plain responses (a connection" \
    "each), protocol streams on one connection, and on one connection each"
  for c in hstream hplain hmux hconn; do
    declare -n cmd="$c"
    echo "# cmd: $mlfqd $http_d ; ${cmd[*]}"
  done
  for _ in $(seq "$runs"); do
    record "$http_line" http_run "$http_d" "${hstream[@]}"
    record "$http_line" http_run "$http_d" "${hplain[@]}"
    record "$http_line" http_run "$http_d" "${hmux[@]}"
    record "$http_line" http_run "$http_d" "${hconn[@]}"
  done
fi

if [ -z "$only" ] || [ "$only" = front ]; then
  # The front door with a fast model: plain completions of 8 tokens on 64
  # connections, kept alive or one per request, and 64 kept-alive streams
  # of 256 tokens at 0, 0.01 and 0.2 ms per iteration (batches of 64), with
  # the server's CPU time per request and per token.
  fp=30000 fs=640
  if [ "$quick" = 1 ]; then
    fp=500 fs=64
  fi
  front_d="--listen 127.0.0.1:0 --log-level warn --policy fcfs"
  front_d+=" --prefill-ms-per-token 0 --max-batch 64 --max-connections 2048"
  fplain=("$bhttp" --server HTTP --server-pid PID --mode plain --conns 64
    --requests "$fp" --tokens 8)
  fstream=("$bhttp" --server HTTP --server-pid PID --mode stream --conns 64
    --requests "$fs" --tokens 256 --keep-alive)
  echo "# front: every run starts its own mlfqd with the options below," \
    "--decode-ms D and --http-listen 127.0.0.1:0 (HTTP), and stops it after"
  echo "# cmd: $mlfqd $front_d --decode-ms 0.01 ; ${fplain[*]} [--keep-alive]"
  echo "# cmd: $mlfqd $front_d --decode-ms D ; ${fstream[*]}"
  front_run() {
    local d="$1"
    shift
    http_run "$front_d --decode-ms $d" "$@" |
      sed "s/^bench=http /bench=front decode_ms=$d /"
    return "${PIPESTATUS[0]}"
  }
  for _ in $(seq "$runs"); do
    record "$front_line" front_run 0.01 "${fplain[@]}" --keep-alive
    record "$front_line" front_run 0.01 "${fplain[@]}"
    for d in 0 0.01 0.2; do
      record "$front_line" front_run "$d" "${fstream[@]}"
    done
  done
fi

echo "# end: $(date -u +%FT%TZ) load=\"$(cut -d' ' -f1-3 /proc/loadavg)\""
summarize sched "policy max_batch" "iter_per_s job_iter_per_s" | tee "$out/summary.txt"
summarize mem "policy" "bytes_per_job sched_bytes_per_job maxrss_kb" |
  tee -a "$out/summary.txt"
summarize sim "policy rate" "wall_s maxrss_kb throughput_rps" |
  tee -a "$out/summary.txt"
summarize daemon "mode workers" "p50_us p99_us max_us" " p99_us=" |
  tee -a "$out/summary.txt"
summarize daemon "mode conns requests tokens_per_request" "requests_per_s" \
  " mode=requests " | tee -a "$out/summary.txt"
summarize daemon "mode conns requests tokens_per_request" "tokens_per_s" \
  " mode=tokens " | tee -a "$out/summary.txt"
summarize daemon "mode requests" "bytes_per_request rss_after_mb" \
  " mode=memory " | tee -a "$out/summary.txt"
summarize loadgen "mode policy dist rate requests time_scale" \
  "abs_mean_jct_pct within_0_5_ms_pct job_diff_p95_ms" " mode=fidelity " |
  tee -a "$out/summary.txt"
summarize loadgen "mode dist rate requests" \
  "sent_per_s schedule_per_s send_p50_us send_p99_us send_max_us" \
  " mode=rate " | tee -a "$out/summary.txt"
summarize loadgen "mode requests" "bytes_per_request maxrss_kb base_maxrss_kb" \
  " mode=memory " | tee -a "$out/summary.txt"
summarize loadgen "mode requests tokens" \
  "bytes_per_token_run bytes_per_token_peak" " mode=trace " |
  tee -a "$out/summary.txt"
summarize router "mode streams tokens_per_request" \
  "added_p50_us added_p99_us added_max_us paired_p50_us paired_p99_us paired_max_us direct_p99_us router_p99_us router_tokens_per_s" \
  " mode=latency " | tee -a "$out/summary.txt"
summarize router "mode path conns requests tokens_per_request" "tokens_per_s" \
  " mode=tokens " | tee -a "$out/summary.txt"
summarize http "mode keep_alive conns window requests tokens_per_request" \
  "requests_per_s tokens_per_s" | tee -a "$out/summary.txt"
summarize front "mode keep_alive decode_ms conns tokens_per_request" \
  "requests_per_s tokens_per_s server_us_per_request server_us_per_token" |
  tee -a "$out/summary.txt"
