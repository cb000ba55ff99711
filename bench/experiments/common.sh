# Shared by the experiment scripts (sourced, not run). Each experiment is
# one script that writes its tables (CSV and Markdown) and plots (PNG and
# SVG) into out/experiments/NAME/. QUICK=1 (or --quick) runs it at small
# sizes in seconds, which is what CI does.
set -euo pipefail

EXP_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$EXP_ROOT"
QUICK="${QUICK:-0}"
for arg in "$@"; do
  case "$arg" in
  --quick) QUICK=1 ;;
  -h | --help)
    sed -n '2,/^set /p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "$(basename "$0"): unknown argument '$arg' (try --help)" >&2
    exit 2
    ;;
  esac
done
BIN="$EXP_ROOT/build"

# Builds the programs the experiments use.
exp_build() {
  scripts/deps.sh
  cmake -S . -B build >/dev/null
  cmake --build build -j "$(nproc)" --target mlfqsim mlfqd loadgen >/dev/null
}

# Fails with the install command when gnuplot is missing.
exp_need_gnuplot() {
  if ! command -v gnuplot >/dev/null 2>&1; then
    echo "$(basename "$0"): gnuplot is needed for the plots:" \
      "apt-get install gnuplot-nox (scripts/deps.sh installs it)" >&2
    exit 2
  fi
}

# Makes and prints the output folder of experiment $1.
exp_out() {
  local d="out/experiments/$1"
  mkdir -p "$d"
  echo "$d"
}

EXP_PIDS=()
exp_stop_daemons() {
  local p
  for p in ${EXP_PIDS[@]+"${EXP_PIDS[@]}"}; do
    kill -TERM "$p" 2>/dev/null || true
  done
  for p in ${EXP_PIDS[@]+"${EXP_PIDS[@]}"}; do
    while kill -0 "$p" 2>/dev/null; do sleep 0.05; done
  done
  EXP_PIDS=()
}
EXP_TMP="$(mktemp -d)"
trap 'exp_stop_daemons; rm -rf "$EXP_TMP"' EXIT

# Starts an mlfqd daemon with the given options on a free port and sets
# EXP_ADDR to its HOST:PORT (call it directly, not in $(...)); it is stopped
# when the script exits, or by exp_stop_daemons.
exp_daemon() {
  local n=${#EXP_PIDS[@]}
  "$BIN/mlfqd" --listen 127.0.0.1:0 --daemon --log-level warn \
    --pidfile "$EXP_TMP/d$n.pid" --port-file "$EXP_TMP/d$n.port" \
    --log-file "$EXP_TMP/d$n.log" "$@" >/dev/null
  EXP_PIDS+=("$(cat "$EXP_TMP/d$n.pid")")
  EXP_ADDR="$(cat "$EXP_TMP/d$n.port")"
}

# exp_plot GP [GNUPLOT_ASSIGNMENTS]: runs bench/experiments/GP twice, for a
# PNG (pngcairo when gnuplot has it) and an SVG, with dir, term and ext set
# (and the assignments given, e.g. "scale='0.25'").
exp_plot() {
  local png=png t ext
  if gnuplot -e 'set terminal' 2>&1 | grep -q pngcairo; then png=pngcairo; fi
  for t in "$png" svg; do
    ext=png
    [ "$t" = svg ] && ext=svg
    gnuplot -e "dir='$DIR'; term='$t'; ext='$ext'; ${2:-}" \
      "$EXP_ROOT/bench/experiments/$1"
  done
}
