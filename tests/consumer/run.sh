#!/usr/bin/env bash
# run.sh BUILD_DIR WORK_DIR — installs BUILD_DIR into WORK_DIR/prefix, then configures, builds and runs
# tests/consumer against that install tree only (find_package(oess) through CMAKE_PREFIX_PATH).
set -euo pipefail
build=$1 work=$2
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work"
mkdir -p "$work"
cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
test -x "$work/prefix/bin/oess" || { echo "FAIL: bin/oess not installed"; exit 1; }
"$work/prefix/bin/oess" --version
cmake -S "$here" -B "$work/build" -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release > "$work/configure.log" \
  || { cat "$work/configure.log"; exit 1; }
cmake --build "$work/build" > "$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
LD_LIBRARY_PATH="$work/prefix/lib:${LD_LIBRARY_PATH:-}" "$work/build/consumer"
echo "ok: find_package(oess) consumer built and ran against $work/prefix"
