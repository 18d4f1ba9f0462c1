#!/usr/bin/env bash
# sanitize.sh [CTEST ARGS...] — the test suite under AddressSanitizer + UndefinedBehaviorSanitizer: sets up
# (tools/setup.sh), builds liboess, the `oess` command and the tests with -fsanitize=address,undefined in
# build-asan/ (OESS_SANITIZE=ON), then runs ctest (default: everything but the `long`, `install` and `lint`
# labels — the install check builds an uninstrumented consumer, lint is not code). Any ASan report or UB
# fails the test it happens in. LibTorch, OpenCV and the Python oracles are not instrumented; the only
# suppressions are in tools/sanitize/*.supp, each with the evidence that it is inside them.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export OESS_BUILD_DIR=${OESS_BUILD_DIR:-$root/build-asan}
export OESS_CMAKE_ARGS="-DOESS_SANITIZE=ON -DOESS_BUILD_BENCH=OFF ${OESS_CMAKE_ARGS:-}"
bash "$root/tools/setup.sh"
supp=$root/tools/sanitize
# A distinct exit code (86) for any sanitizer report, so that a test expecting oess's own exit 1 fails on one.
# allocator_may_return_null: see tools/fuzz.sh (libhdf5's impossible malloc on a corrupt .h5 returns NULL,
# as in the normal build, and HDF5 reports an error).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:exitcode=86:check_initialization_order=1:strict_init_order=1:allocator_may_return_null=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-exitcode=86:suppressions=$supp/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-exitcode=86:print_stacktrace=1:halt_on_error=1:suppressions=$supp/ubsan.supp}
args=("$@")
[ "${#args[@]}" -gt 0 ] || args=(-LE "long|install|lint")
cd "$OESS_BUILD_DIR"
exec ctest --output-on-failure -j "${OESS_JOBS:-2}" --timeout 1800 "${args[@]}"
