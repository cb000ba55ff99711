#!/usr/bin/env bash
# The compose deployment, tested for real: builds the images from
# docker/Dockerfile (the base images made locally by base-image.sh when no
# registry has them), brings up docker/compose.yaml, waits for every
# server's health check, runs the comparison and checks its output, kills
# one replica with SIGKILL while requests go through the router (once
# Stats shows it with work in flight that cannot be done before the kill)
# and checks that none is lost (each ends done or REPLICA_LOST, and new requests all
# go to the survivor; `run --no-deps`, or compose would start it again),
# restarts it and checks the router takes it back,
# then tears everything down. Skips (exit 0, with a message) where no
# Docker engine or compose tool is reachable.
#
# Results go to out/docker-test/. Exit status: 0 passed or skipped, 1 a
# check failed.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"

skip() {
  echo "docker/test.sh: skipped: $*"
  exit 0
}
command -v docker >/dev/null 2>&1 || skip "no docker command"
docker info >/dev/null 2>&1 || skip "no Docker engine reachable (docker info failed)"
if docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
  compose=(docker-compose)
else
  skip "no compose tool (docker compose or docker-compose)"
fi

fail() {
  echo "docker/test.sh: FAILED: $*" >&2
  exit 1
}
step() { echo "docker/test.sh: $*"; }

out="$root/out/docker-test"
rm -rf "$out"
mkdir -p "$out/compare" "$out/failover" "$out/after"
project="mlfqdtest$$"
export MLFQ_TAG=test MLFQ_OUT="$out/compare" MLFQ_UID="$(id -u)"
export MLFQ_GID="$(id -g)" MLFQ_TIME_SCALE=0.05
# The failover's floor below assumes one token per iteration and the
# default rate and routing: the caller's environment (or a .env beside
# compose.yaml, which it overrides) must not change them.
export MLFQ_MAX_BATCH=1 MLFQ_RATE=20 MLFQ_DIST=poisson MLFQ_SEED=1
export MLFQ_ROUTE=least-tokens
dc() { "${compose[@]}" -p "$project" -f docker/compose.yaml "$@"; }
cleanup() {
  dc logs --no-color >"$out/compose.log" 2>&1 || true
  dc down -v --remove-orphans >/dev/null 2>&1 || true
}
trap cleanup EXIT

step "base images"
bash docker/base-image.sh
step "building the images (network host: apt reaches the host's mirror)"
start=$SECONDS
docker build --network=host -q -f docker/Dockerfile --target runtime \
  -t mlfqd:test . >/dev/null
docker build --network=host -q -f docker/Dockerfile --target loadgen \
  -t mlfqd-loadgen:test . >/dev/null
step "built in $((SECONDS - start)) s"

# container SERVICE: the id of the service's container.
container() { dc ps -q "$1"; }
# wait_healthy SERVICE...: every service's health check passes within 90 s.
wait_healthy() {
  local s st deadline=$((SECONDS + 90))
  for s in "$@"; do
    while :; do
      st="$(docker inspect -f '{{.State.Health.Status}}' "$(container "$s")" 2>/dev/null || echo none)"
      [ "$st" = healthy ] && break
      [ "$SECONDS" -lt "$deadline" ] || fail "$s is '$st', not healthy, after 90 s"
      sleep 0.5
    done
  done
}
# router_stats: the router's Stats as JSON, asked from inside its container
# (with docker exec: the compose tool's own start-up adds about a second).
router_stats() {
  docker exec "$router_id" mlfqctl stats --json --server 127.0.0.1:7070
}
# wait_router_up N: the router's Stats shows N replicas up within 30 s (it
# tries a lost replica again at least every 2 s).
wait_router_up() {
  local up deadline=$((SECONDS + 30))
  while :; do
    up="$(router_stats 2>/dev/null | json 'sum(1 for r in d["replicas"] if r["up"])' 2>/dev/null || echo 0)"
    [ "$up" = "$1" ] && break
    [ "$SECONDS" -lt "$deadline" ] || fail "the router shows $up replicas up, not $1"
    sleep 0.2
  done
}
# json EXPR: evaluates a Python expression over the JSON on stdin as d.
json() { python3 -c "import json, sys; d = json.load(sys.stdin); print($1)"; }

servers=(mlfqd-fcfs mlfqd-mlfq replica-1 replica-2 router)
step "compose up: ${servers[*]}"
dc up -d --no-build "${servers[@]}" >/dev/null 2>&1 || fail "compose up"
wait_healthy "${servers[@]}"
router_id="$(container router)"
step "every health check passes"

step "the comparison (loadgen against fcfs, mlfq and the router)"
MLFQ_NUM_REQUESTS=40 dc run --rm --no-deps loadgen >"$out/compare.txt" 2>&1 ||
  fail "the comparison exited $? (see $out/compare.txt)"
for f in loadgen.txt summary.json jobs-fcfs.csv jobs-mlfq.csv \
  jobs-router.csv router-stats.txt jct-cdf.png jct-cdf.svg; do
  [ -s "$out/compare/$f" ] || fail "compare: $f is missing or empty"
done
runs="$(json '" ".join("%s:%d:%d" % (r["label"], r["summary"]["requests"], r["summary"]["failed"]) for r in d["runs"])' \
  <"$out/compare/summary.json")"
[ "$runs" = "fcfs:40:0 mlfq:40:0 router:40:0" ] ||
  fail "compare: runs are '$runs', expected 40 requests and no failure each"
grep -q '^JCT mean / fcfs' "$out/compare/loadgen.txt" || fail "compare: no ratio row"
grep -q 'replica-2:7070' "$out/compare/router-stats.txt" || fail "compare: router stats"
step "comparison ok: $runs"

# The failover workload: 400 requests of 16 prompt tokens at the default
# rate (about a wall second at this time scale), 300 of 16 output tokens,
# which all complete within 27 model s, and every fourth of 3,200, which
# keep both replicas busy for 42 wall seconds (mlfqsim --replicas 2
# --route least-tokens --rate 20: makespan 839 model s). With 1,600, a
# loaded machine took 6 s from asking for Stats to the end of the kill,
# when replica-2 had 15 s of work left.
fo_in=16
awk -v in_len="$fo_in" 'BEGIN { print "input_length,output_length"
  for (i = 0; i < 400; i++) print in_len "," (i % 4 == 3 ? 3200 : 16) }' \
  >"$out/failover/workload.csv"
# An iteration of the built-in cost profile takes at least 5.11 model ms
# (data/profile_opt-1.3b.csv) and carries one token of one request
# (MLFQ_MAX_BATCH=1), so a replica with W prompt and output tokens left in
# its requests, n requests, has at least W - n * fo_in iterations and that
# many times 5.11 ms * MLFQ_TIME_SCALE of wall time left, less what it is
# behind its model clock: an engine that woke late runs its next
# iterations back to back until it has caught up, so the work can end up
# to its largest wake-up lateness sooner (Stats' lateness_us.max, wall
# microseconds).
fo_left='(lambda r: "%d %d %d %.3f" % (d["stats"]["completed"],
  r["up"] and r["stats"] is not None, r["outstanding_requests"],
  max(0, r["outstanding_tokens"] - r["outstanding_requests"] * '"$fo_in"')
  * 5.11e-3 * '"$MLFQ_TIME_SCALE"'
  - (r["stats"]["lateness_us"]["max"] / 1e6 if r["stats"] else 0)))(d["replicas"][1])'
# now: a monotonic clock in seconds (since boot).
now() {
  local t _
  read -r t _ </proc/uptime
  echo "$t"
}
step "failover: SIGKILL to replica-2 while 400 requests go through the router"
wait_router_up 2
replica2="$(container replica-2)"
MLFQ_OUT="$out/failover" dc run --rm --no-deps -e MLFQ_SERVERS=router=router:7070 \
  -e MLFQ_NUM_REQUESTS=400 -e MLFQ_WORKLOAD=/out/workload.csv \
  loadgen >"$out/failover.txt" 2>&1 &
lg=$!
# Kill once 10 requests have completed and the router's Stats, with
# replica-2's own reply in it, shows replica-2 with requests in flight.
# What it had left then is a floor from the model, however fast this
# machine runs; the kill must come before that has passed (it would take
# a machine stalled for seconds not to).
deadline=$((SECONDS + 60))
while :; do
  asked="$(now)"
  seen="$(router_stats 2>/dev/null | json "$fo_left" 2>/dev/null || echo "0 0 0 0")"
  read -r done_n r2_up r2_out r2_left <<<"$seen"
  [ "$done_n" -ge 10 ] && [ "$r2_up" = 1 ] && [ "$r2_out" -ge 1 ] && break
  [ "$SECONDS" -lt "$deadline" ] ||
    fail "failover: after 60 s, $done_n completed and replica-2 has $r2_out in flight (up and answering: $r2_up)"
  sleep 0.2
done
docker kill -s KILL "$replica2" >/dev/null || fail "kill replica-2"
killed="$(now)"
late="$(awk -v a="$asked" -v k="$killed" 'BEGIN { printf "%.2f", k - a }')"
awk -v late="$late" -v left="$r2_left" 'BEGIN { exit !(late < left) }' ||
  fail "failover: the kill came $late s after the Stats that showed replica-2 with $r2_left s of work left"
step "failover: killed replica-2 with $r2_out requests and at least $r2_left s of work in flight, $late s after the Stats showed them"
rc=0
wait "$lg" || rc=$?
# loadgen exits 1 when a request failed (the lost ones), 2 on a hard error.
[ "$rc" -le 1 ] || fail "failover: loadgen exited $rc (see $out/failover.txt)"
csv="$out/failover/jobs-router.csv"
[ -s "$csv" ] || fail "failover: no $csv"
counts="$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
  { n++; s[$col["status"]]++ }
  END { printf "%d %d %d", n, s["ok"], s["REPLICA_LOST"] }' "$csv")"
read -r total ok lost <<<"$counts"
[ "$total" = 400 ] || fail "failover: $total rows, expected 400"
[ $((ok + lost)) = 400 ] ||
  fail "failover: $ok done + $lost REPLICA_LOST of 400: others failed otherwise (see $csv)"
[ "$ok" -ge 10 ] || fail "failover: only $ok done"
[ "$lost" -ge 1 ] || fail "failover: replica-2 had nothing in flight when killed"
grep -q "REPLICA_LOST $lost" "$out/failover.txt" ||
  fail "failover: the summary does not count $lost REPLICA_LOST"
step "failover: $ok done, $lost ended REPLICA_LOST, none lost otherwise"

step "after the loss: 20 requests, all to replica 1"
MLFQ_OUT="$out/after" dc run --rm --no-deps -e MLFQ_SERVERS=router=router:7070 \
  -e MLFQ_NUM_REQUESTS=20 loadgen >"$out/after.txt" 2>&1 ||
  fail "after the loss: loadgen exited $? (see $out/after.txt)"
spread="$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
  { s[$col["status"] "@" $col["replica"]]++ }
  END { for (k in s) printf "%s=%d ", k, s[k] }' "$out/after/jobs-router.csv")"
[ "$spread" = "ok@1=20 " ] || fail "after the loss: $spread, expected ok@1=20"

step "restart replica-2: the router takes it back"
dc start replica-2 >/dev/null 2>&1 || fail "start replica-2"
wait_healthy replica-2
wait_router_up 2

step "compose down"
dc down -v --remove-orphans >/dev/null 2>&1 || fail "compose down"
left="$(docker ps -a -q --filter "label=com.docker.compose.project=$project")"
[ -z "$left" ] || fail "containers left after down: $left"
trap - EXIT
step "passed (results in out/docker-test/)"
