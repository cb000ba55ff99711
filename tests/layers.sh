#!/bin/sh
# The layering of common/ (docs/DESIGN.md, "Layers"), checked two ways.
#
#   layers.sh includes ROOT   every #include "LAYER/..." in common/LAYER and in
#                             each program's folder names a layer it may use
#   layers.sh links BINARY    BINARY needs neither libuv nor protobuf-c: no
#                             such library among its NEEDED entries and no
#                             uv_* or protobuf_c_* symbol, defined or not
#
# Prints each violation as FILE:LINE: what; exits 1 if there is any.
set -u

# The layers a folder may include, itself among them.
allowed() {
  case "$1" in
  common/base) echo "base" ;;
  common/core) echo "base core" ;;
  common/load) echo "base core load" ;;
  common/wire) echo "base core wire" ;;
  common/net) echo "base core wire net" ;;
  common/http) echo "base http" ;;
  sim) echo "base core load" ;;
  *) echo "base core load wire net http" ;;
  esac
}

includes() {
  root=$1
  bad=0
  for dir in common/base common/core common/load common/wire common/net \
    common/http sim server router client; do
    ok=$(allowed "$dir")
    for f in "$root/$dir"/*.c "$root/$dir"/*.h; do
      [ -f "$f" ] || continue
      # Each quoted include with a folder: its layer.
      grep -n '^#include "[a-z]*/' "$f" | while IFS= read -r hit; do
        line=${hit%%:*}
        layer=$(printf '%s\n' "$hit" | sed 's/^[0-9]*:#include "\([a-z]*\)\/.*/\1/')
        case " $ok " in
        *" $layer "*) ;;
        *) echo "${f#$root/}:$line: $dir may not include $layer/" ;;
        esac
      done
    done
  done | grep . && bad=1
  # No header of common/ at the top of common/ (each lives in its layer).
  for f in "$root"/common/*.h "$root"/common/*.c; do
    [ -f "$f" ] && echo "${f#$root/}: outside any layer" && bad=1
  done
  return $bad
}

links() {
  bin=$1
  bad=0
  if ! readelf -d "$bin" >/dev/null 2>&1; then
    echo "$bin: not a binary readelf reads" >&2
    return 2
  fi
  if readelf -d "$bin" | grep -E 'NEEDED.*(libuv|libprotobuf-c)'; then
    bad=1
  fi
  if nm "$bin" | grep -E ' (uv|protobuf_c)_[a-z_]+$' | head -5 | grep .; then
    bad=1
  fi
  [ $bad = 0 ] || echo "$bin: links the network stack"
  return $bad
}

case "${1:-}" in
includes) includes "$2" ;;
links) links "$2" ;;
*)
  echo "usage: layers.sh includes ROOT | links BINARY" >&2
  exit 2
  ;;
esac
