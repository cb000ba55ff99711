#!/usr/bin/env bash
# Runs every experiment, in order; --quick runs each at small sizes in
# seconds (what CI does). Results go to out/experiments/. See
# docs/EXPERIMENTS.md.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
for arg in "$@"; do
  case "$arg" in
  --quick) ;;
  -h | --help)
    sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "run-all.sh: unknown argument '$arg' (try --help)" >&2
    exit 2
    ;;
  esac
done
for exp in fig6 appendix_b sweep_rate sweep_queues batching router memory; do
  echo "== $exp"
  bash "$here/$exp.sh" "$@"
done
