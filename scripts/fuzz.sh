#!/usr/bin/env bash
# Builds the libFuzzer harnesses of tests/fuzz with clang (ASan, UBSan,
# libFuzzer) in build-fuzz/ and runs each for a bounded time:
#
#   scripts/fuzz.sh [--seconds N] [NAME...]
#
# NAME is frame, daemon, router-client, router-replica, csv, profile, http
# or openai (default: all), N the seconds per harness (default 60). Each
# starts from a temporary copy of tests/fuzz/corpus/NAME (the committed
# seeds do not change) and writes crashes to out/fuzz/NAME/. Prints each
# harness's final libFuzzer figures; exits 1 if any harness found a crash,
# naming the reproducer. Installs clang and libFuzzer's runtime (Debian)
# if missing.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
seconds=60
names=()
while [ $# -gt 0 ]; do
  case $1 in
  --seconds) seconds=$2; shift 2 ;;
  --seconds=*) seconds=${1#*=}; shift ;;
  -h | --help) sed -n '2,13p' "$0"; exit 0 ;;
  *) names+=("$1"); shift ;;
  esac
done
[ ${#names[@]} -eq 0 ] && names=(frame daemon router-client router-replica csv profile http openai)

# The largest input worth trying per harness, in bytes.
max_len() {
  case $1 in
  csv | profile) echo 4096 ;;
  router-replica | openai) echo 8192 ;;
  *) echo 16384 ;;
  esac
}

"$root/scripts/deps.sh"
pkgs=(clang-14 libclang-rt-14-dev)
missing=()
for p in "${pkgs[@]}"; do
  if command -v dpkg-query >/dev/null 2>&1 &&
    ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  echo "fuzz.sh: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
cc=$(command -v clang-14 || command -v clang)

build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER="$cc" -DMLFQ_FUZZ=ON \
  -DMLFQ_BUILD_TESTS=OFF -DMLFQ_ASAN=ON -DMLFQ_UBSAN=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
targets=()
for n in "${names[@]}"; do targets+=("fuzz-$n"); done
cmake --build "$build" -j"$(nproc)" --target "${targets[@]}" >/dev/null

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
printf '%-15s %10s %8s %7s %7s %7s\n' harness runs exec/s cov ft corpus
for n in "${names[@]}"; do
  out="$root/out/fuzz/$n"
  mkdir -p "$out" "$work/$n"
  cp "$root/tests/fuzz/corpus/$n/"* "$work/$n/" 2>/dev/null || true
  log="$out/fuzz.log"
  set +e
  "$build/tests/fuzz/fuzz-$n" "$work/$n" -max_total_time="$seconds" \
    -max_len="$(max_len "$n")" -timeout=25 -rss_limit_mb=4096 \
    -print_final_stats=1 -artifact_prefix="$out/" >"$log" 2>&1
  rc=$?
  set -e
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | grep -E 'cov: ' | tail -1 || true)
  cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.*ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.*corp: \([0-9]*\/[0-9A-Za-z]*\).*/\1/p' <<<"$last")
  printf '%-15s %10s %8s %7s %7s %7s\n' "$n" "${runs:-?}" "${eps:-?}" \
    "${cov:-?}" "${ft:-?}" "${corp:-?}"
  if [ $rc -ne 0 ]; then
    status=1
    crash=$(ls -t "$out"/crash-* "$out"/leak-* "$out"/timeout-* "$out"/oom-* 2>/dev/null | head -1 || true)
    echo "fuzz.sh: $n failed (exit $rc); reproducer: ${crash:-none}; log: $log" >&2
  fi
done
exit $status
