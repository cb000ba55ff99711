#!/usr/bin/env bash
# Installs the Debian packages that building and testing mlfqd needs, when
# any is missing. Uses apt-get (through sudo when not root).
set -euo pipefail

pkgs=(gcc libc6-dev make cmake pkg-config libcjson-dev libuv1-dev libprotobuf-c-dev gnuplot-nox
  protobuf-c-compiler libhttp-parser-dev time curl prometheus python3 wrk hey
  iproute2)

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "deps.sh: not a Debian system; install by hand: ${pkgs[*]}" >&2
  exit 0
fi
missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
    grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -ne 0 ] && sudo=sudo
echo "deps.sh: installing ${missing[*]}" >&2
$sudo apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
