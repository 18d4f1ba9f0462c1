#!/usr/bin/env bash
# test.sh [CTEST ARGS...] — sets up and builds oess if needed (tools/setup.sh), then runs the test suite
# through ctest. By default tests labelled `long` are left out; pass e.g. `-L long` to run only those, or
# `-R parity` to pick by name. Ends with ctest's summary line; exit status is ctest's.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${OESS_BUILD_DIR:-$root/build}
bash "$root/tools/setup.sh"
# The tests' independent runtimes from npm (TensorFlow.js, pure JavaScript; ONNX Runtime, its CPU binary
# inside the package), pinned by tests/js/package-lock.json.
if [ ! -f "$root/tests/js/node_modules/.package-lock.json" ] ||
   [ "$root/tests/js/package-lock.json" -nt "$root/tests/js/node_modules/.package-lock.json" ]; then
  echo "oess test: installing tests/js (npm ci)"
  (cd "$root/tests/js" && npm ci --ignore-scripts --no-audit --no-fund --silent) ||
    echo "oess test: npm ci failed: the TensorFlow.js and ONNX Runtime parity tests will fail" >&2
fi
args=("$@")
[ "${#args[@]}" -gt 0 ] || args=(-LE long)
cd "$build"
exec ctest --output-on-failure -j "${OESS_JOBS:-2}" "${args[@]}"
