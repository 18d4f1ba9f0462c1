#!/usr/bin/env bash
# test.sh [CTEST ARGS...] — sets up and builds oess if needed (tools/setup.sh), then runs the test suite
# through ctest. By default tests labelled `long` are left out; pass e.g. `-L long` to run only those, or
# `-R parity` to pick by name. Ends with ctest's summary line; exit status is ctest's.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${OESS_BUILD_DIR:-$root/build}
bash "$root/tools/setup.sh"
args=("$@")
[ "${#args[@]}" -gt 0 ] || args=(-LE long)
cd "$build"
exec ctest --output-on-failure -j "${OESS_JOBS:-2}" "${args[@]}"
