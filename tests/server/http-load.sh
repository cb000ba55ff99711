#!/usr/bin/env bash
# Load on mlfqd's HTTP front door from a real HTTP benchmark tool, over
# persistent connections (docs/HTTP.md, "With benchmark tools"):
#
#   tests/server/http-load.sh MLFQD wrk|hey SECONDS [CONNECTIONS]
#
# starts MLFQD (the mlfqd binary) with HTTP on a free port and a fast model
# (0.01 ms per decode, batches of 64, no cap on requests per connection),
# runs `wrk` (tests/server/wrk-post.lua: POST /v1/completions, 8 tokens) or
# `hey` (the same body; keep-alive is its default) with CONNECTIONS
# (default 16) connections for SECONDS, and fails unless every response
# was a 200, the tool saw no socket error, it made at least 100 requests,
# and the server's side of the port holds at most CONNECTIONS sockets in
# TIME_WAIT after (the side that closes first keeps TIME_WAIT: a server
# that closed after every response would hold one per request). Prints
# one line of figures (hey reports at most 1,000,000 responses, so its
# count stops there on a long fast run). The daemon is stopped with
# SIGTERM however the test ends.
set -euo pipefail

mlfqd=$1
tool=$2
seconds=$3
conns=${4:-16}
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d "${TMPDIR:-/tmp}/http-load-XXXXXX")
pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT

fail() {
  echo "http-load: $tool: $*" >&2
  sed 's/^/  /' "$dir/out" >&2 || true
  exit 1
}

command -v "$tool" >/dev/null || fail "$tool is not installed"
command -v ss >/dev/null || fail "ss (iproute2) is not installed"
"$mlfqd" --listen 127.0.0.1:0 --http-listen 127.0.0.1:0 \
  --http-port-file "$dir/port" --decode-ms 0.01 --prefill-ms-per-token 0.001 \
  --max-batch 64 --max-pending 4096 --http-max-requests 0 \
  --log-file "$dir/log" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 100); do
  [ -s "$dir/port" ] && break
  kill -0 "$pid" 2>/dev/null || fail "mlfqd exited: $(cat "$dir/log")"
  sleep 0.1
done
[ -s "$dir/port" ] || fail "mlfqd did not write its HTTP port within 10 s"
port=$(sed 's/.*://' "$dir/port")
url=http://127.0.0.1:$port/v1/completions
body='{"model":"mlfqd","prompt":"a b c d","max_tokens":8}'

case $tool in
wrk)
  timeout $((seconds + 30)) wrk -t 2 -c "$conns" -d "${seconds}s" \
    -s "$here/wrk-post.lua" "$url" >"$dir/out" 2>&1 || fail "wrk failed"
  requests=$(awk '/requests in/ {print $1}' "$dir/out")
  rate=$(awk '/^Requests\/sec:/ {print $2}' "$dir/out")
  ! grep -q "Non-2xx or 3xx responses" "$dir/out" || fail "non-2xx responses"
  ! grep -q "Socket errors" "$dir/out" || fail "socket errors"
  ;;
hey)
  timeout $((seconds + 30)) hey -z "${seconds}s" -c "$conns" -m POST \
    -T application/json -d "$body" "$url" >"$dir/out" 2>&1 || fail "hey failed"
  requests=$(awk '/^  \[200\]/ {print $2}' "$dir/out")
  rate=$(awk '/Requests\/sec:/ {print $2}' "$dir/out")
  [ -n "$requests" ] || fail "no 200 responses"
  ! grep -q "Error distribution" "$dir/out" || fail "errors"
  ! grep -E '^  \[[0-9]+\]' "$dir/out" | grep -vq '^  \[200\]' ||
    fail "responses other than 200"
  ;;
*)
  fail "no such tool (wrk or hey)"
  ;;
esac
[ "${requests:-0}" -ge 100 ] || fail "only ${requests:-0} requests"
tw=$(ss -Htan state time-wait "( sport = :$port )" | wc -l)
[ "$tw" -le "$conns" ] ||
  fail "$tw server sockets in TIME_WAIT for $conns connections"
echo "http-load: $tool ${seconds}s $conns connections (keep-alive):" \
  "$requests requests, $rate requests/s, all 200, no socket errors," \
  "$tw server sockets in TIME_WAIT"
