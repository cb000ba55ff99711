#!/usr/bin/env bash
# Builds mlfqd with warnings as errors and runs the whole test suite.
#
#   scripts/test.sh          the normal build (build/)
#   scripts/test.sh --asan   AddressSanitizer + UndefinedBehaviorSanitizer
#                            (build-asan/)
#   scripts/test.sh --tsan   ThreadSanitizer (build-tsan/)
#
# Extra arguments after the variant go to ctest (e.g. -R golden).
set -euo pipefail
cd "$(dirname "$0")/.."

dir=build
flags=()
case "${1:-}" in
--asan)
  dir=build-asan
  flags=(-DMLFQ_ASAN=ON -DMLFQ_UBSAN=ON)
  shift
  ;;
--tsan)
  dir=build-tsan
  flags=(-DMLFQ_TSAN=ON)
  shift
  ;;
-h | --help)
  sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
  ;;
esac

scripts/deps.sh
cmake -S . -B "$dir" -DMLFQ_WERROR=ON ${flags[@]+"${flags[@]}"} >/dev/null
cmake --build "$dir" -j "$(nproc)"
ctest --test-dir "$dir" --output-on-failure -j "$(nproc)" "$@"
