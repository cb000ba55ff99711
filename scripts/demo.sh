#!/usr/bin/env bash
# The main job: compares every scheduling policy on the exercise's Appendix B
# dataset (99 requests, Poisson arrivals at 20 requests per second, the
# OPT-1.3B cost profile) and writes the per-job CSVs, the per-token traces
# and a JSON summary into out/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
cmake -S . -B build >/dev/null
cmake --build build -j "$(nproc)" --target mlfqsim >/dev/null

mkdir -p out/demo
build/mlfqsim --workload data/appendix_b.csv --rate 20 --dist poisson \
  --policy all --jobs-csv out/demo/jobs.csv --trace-csv out/demo/trace.csv \
  --json out/demo/summary.json "$@"
echo
echo "per-job CSVs, traces and summary.json are in out/demo/"
