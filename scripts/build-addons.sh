#!/bin/sh
# Compiles the daemon's addons (native/NAME.c or native/NAME.cc) into dist/native/NAME.node, against
# the headers of the node that runs the build — the one recipe for `make build` and for the npm
# package's `install` script (docs/install.md, "Addons"). Run from the package root:
#   sh scripts/build-addons.sh [NAME ...]       (default: every addon in native/)
# Each addon is optional (src/native.ts): one that cannot be compiled (no compiler, no headers, a
# compile error) gets a note and the script goes on and exits 0, so an install never fails on it.
# Environment: CC (default cc) and CXX (default c++) — CC=false CXX=false builds none, as on a
# machine without a compiler; NODE_INCLUDE, the node headers (default: include/node beside the
# running node, where node's own tarballs and distro packages put them; nothing is downloaded).
set -u
cd "$(dirname "$0")/.." || exit 1
node=${NODE:-${npm_node_execpath:-node}}
inc=${NODE_INCLUDE:-$("$node" -p "require('path').join(process.execPath, '../../include/node')" 2>/dev/null)}
cc=${CC:-cc}
cxx=${CXX:-c++}
[ $# -gt 0 ] || set -- $(ls native | sed -n 's/\.cc\{0,1\}$//p' | sort -u)
mkdir -p dist/native || exit 1

note() {
  echo "note: the $1 addon was not built ($2): the daemon runs without it (docs/install.md, Addons)" >&2
}

for name in "$@"; do
  if [ -f "native/$name.c" ]; then
    src=native/$name.c compiler=$cc
  elif [ -f "native/$name.cc" ]; then
    src=native/$name.cc compiler=$cxx
  else
    echo "build-addons: no native/$name.c or native/$name.cc" >&2
    exit 2
  fi
  if [ ! -f "$inc/node_api.h" ]; then
    note "$name" "no node headers in '$inc'; NODE_INCLUDE=DIR names them"
    continue
  fi
  if ! command -v "$compiler" >/dev/null 2>&1; then
    note "$name" "no compiler '$compiler' on PATH"
    continue
  fi
  # Into a temporary name first: a failed or concurrent build never leaves a partial .node behind.
  tmp=dist/native/.$name.$$.node
  case $src in
    # heap.cc calls V8: -isystem keeps V8's own header warnings out of the build output.
    *.cc) set -- -std=c++17 -isystem "$inc" ;;
    *) set -- -I "$inc" ;;
  esac
  if "$compiler" -O2 -Wall -Wextra -shared -fPIC "$@" -o "$tmp" "$src"; then
    mv -f "$tmp" "dist/native/$name.node"
  else
    rm -f "$tmp"
    note "$name" "'$compiler' failed on $src"
  fi
done
exit 0
