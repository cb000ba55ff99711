#!/usr/bin/env bash
# Makes the base images docker/Dockerfile starts from, debian:bookworm and
# debian:bookworm-slim, where no image registry can be reached: debootstrap
# a minimal Debian bookworm from Debian's package mirror (DEBIAN_MIRROR,
# default http://deb.debian.org/debian) and import it into the local Docker
# engine under both names. Does nothing when both images exist. Needs root
# or sudo, and installs debootstrap with apt-get when it is missing.
set -euo pipefail

suite=bookworm
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
if docker image inspect "debian:$suite" >/dev/null 2>&1 &&
  docker image inspect "debian:$suite-slim" >/dev/null 2>&1; then
  echo "base-image.sh: debian:$suite and debian:$suite-slim exist"
  exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then sudo=sudo; fi
if ! command -v debootstrap >/dev/null 2>&1; then
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq debootstrap >/dev/null
fi
root="$(mktemp -d)"
trap '$sudo rm -rf "$root"' EXIT
echo "base-image.sh: debootstrap $suite from $mirror"
$sudo debootstrap --variant=minbase "$suite" "$root" "$mirror" >/dev/null
$sudo rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
$sudo tar -C "$root" -c . | docker import -c 'CMD ["bash"]' - "debian:$suite" >/dev/null
docker tag "debian:$suite" "debian:$suite-slim"
echo "base-image.sh: imported debian:$suite and debian:$suite-slim"
