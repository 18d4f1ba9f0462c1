#!/usr/bin/env bash
# fuzz.sh [SECONDS] [TARGET...] — builds the libFuzzer targets (fuzz/, clang-14 with ASan + UBSan, in
# build-fuzz/; set-up installs clang-14 and libclang-rt-14-dev) and runs each for SECONDS (default 60) from
# its committed seed corpus (fuzz/corpus/TARGET) plus what earlier runs found (fuzz-out/corpus/TARGET).
# Targets: manifest config weights image model tfjs h5. Prints executions and coverage per target; a crash (or an
# exception other than oess::Error, or a sanitizer report) leaves fuzz-out/crash-TARGET-* and makes the exit
# status 1 — turn each into a regression test (tests/fuzz_regressions/, run by `fuzz.regressions`).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
shift || true
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=(manifest config weights image model tfjs h5)
export OESS_BUILD_DIR=${OESS_FUZZ_BUILD_DIR:-$root/build-fuzz}
export OESS_EXTRA_PACKAGES="clang-14 libclang-rt-14-dev ${OESS_EXTRA_PACKAGES:-}"
export OESS_CMAKE_ARGS="-DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 -DOESS_FUZZ=ON -DOESS_BUILD_TESTS=OFF -DOESS_BUILD_BENCH=OFF ${OESS_CMAKE_ARGS:-}"
bash "$root/tools/setup.sh"
out=${OESS_FUZZ_OUT:-$root/fuzz-out}
mkdir -p "$out"
# Leak checking per input is off: LibTorch and OpenCV keep process-lifetime caches that read as leaks after
# one input; leaks are checked by the whole suite under tools/sanitize.sh instead.
# allocator_may_return_null: an impossible request returns NULL, as glibc's malloc does in the normal build,
# instead of aborting: libhdf5 1.10 asks for hundreds of GB for a corrupt metadata entry and handles the NULL
# as an error (tests/fuzz_regressions/h5/). oess's own allocations go through operator new, which ASan still
# reports when it cannot be met.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
printf '%-9s %10s %8s %8s %s\n' target executions cov ft result
for t in "${targets[@]}"; do
  corpus=$out/corpus/$t
  mkdir -p "$corpus"
  log=$out/$t.log
  if "$OESS_BUILD_DIR/fuzz/fuzz_$t" -max_total_time="$secs" -print_final_stats=1 -timeout=20 -rss_limit_mb=4096 \
      -artifact_prefix="$out/crash-$t-" "$corpus" "$root/fuzz/corpus/$t" > "$log" 2>&1; then
    result=ok
  else
    result="CRASH (see $log)"
    status=1
  fi
  execs=$(grep -aoE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo "?")
  cov=$(grep -aoE 'cov: [0-9]+' "$log" | tail -n 1 | grep -oE '[0-9]+' || echo "?")
  ft=$(grep -aoE 'ft: [0-9]+' "$log" | tail -n 1 | grep -oE '[0-9]+' || echo "?")
  printf '%-9s %10s %8s %8s %s\n' "$t" "$execs" "$cov" "$ft" "$result"
done
exit "$status"
