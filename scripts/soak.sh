#!/usr/bin/env bash
# The soak (tests/{server,router}/test-soak.c over tests/server/soak.c) for
# longer than CI runs it: 1,000 connections of good, invalid, vanishing and
# slow-reading clients against mlfqd, then mlfq-router over two replicas.
#
#   scripts/soak.sh [SECONDS [BUILD_DIR]]   default 300 s, build/
#
# It builds BUILD_DIR if needed and prints the "soak:" figures. Before
# each soak come warm-up rounds as long as the soak until the idle RSS
# settles (at most 4), so one test takes between 2 and 5 times SECONDS.
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
-h | --help)
  sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
  ;;
esac
seconds=${1:-300}
dir=${2:-build}
cmake -S . -B "$dir" >/dev/null
cmake --build "$dir" -j "$(nproc)" --target runner >/dev/null
for t in soak/daemon soak/router; do
  MLFQ_SOAK_SECONDS=$seconds "$dir/tests/runner" "$t"
  echo "$t: ok"
done
