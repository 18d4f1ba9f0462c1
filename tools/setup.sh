#!/usr/bin/env bash
# setup.sh — makes a Debian 12 machine ready to build, run and test oess, then builds it (Release, build/).
#
# Idempotent and quick when all is there: installs only the Debian packages still missing, configures only an
# unconfigured build folder, and lets the build tool rebuild only what changed. Run it as root, or as a user
# who can sudo. Environment: OESS_BUILD_DIR (default build/), OESS_JOBS (default 2: each translation unit
# that includes LibTorch takes ~1 GB of memory to compile), OESS_CMAKE_ARGS (extra configure arguments, for
# a new build folder), OESS_EXTRA_PACKAGES (more Debian packages, e.g. clang for tools/fuzz.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${OESS_BUILD_DIR:-$root/build}
jobs=${OESS_JOBS:-2}

packages=(
  # toolchain
  g++ cmake ninja-build ccache pkg-config git clang-format
  # libraries (see docs/DESIGN decisions: where each dependency belongs)
  libtorch-dev libopencv-dev libeigen3-dev libyaml-cpp-dev libfmt-dev libspdlog-dev
  libcli11-dev nlohmann-json3-dev catch2 libgdcm-dev libhdf5-dev
  # ONNX protobuf, checker and shape inference (`oess export --format onnx`)
  libonnx-dev libprotobuf-dev
  # oneDNN's headers (the library is LibTorch's own): the inference engine, runtime/net.h
  libdnnl-dev
  # an optimised BLAS for LibTorch (Debian's links libblas.so.3: the reference BLAS unless this is there);
  # the OpenMP build shares LibTorch's OpenMP threads, and oess sets its thread count per kind of work
  # (docs/PERFORMANCE.md, "BLAS")
  libopenblas0-openmp
  # test oracles: Python torchvision (network parity), scikit-learn (metrics, classifiers)
  python3-torchvision python3-sklearn python3-pydicom python3-pil
  # paired statistics oracles (McNemar, Holm): SciPy, statsmodels
  python3-scipy python3-statsmodels
  # a second ONNX checker for the exported files (Python's onnx: full check, strict shape inference)
  python3-onnx
  # Keras-layout HDF5 fixtures (python3-h5py) for the weights importer's parity tests
  python3-h5py
  # a real SLURM for the cluster test (ctest -L slurm): controller, node daemon, sbatch/squeue, munge
  slurmctld slurmd slurm-client munge
  # headless browser that checks report.html and gallery.html open cleanly and their images load
  # (chromium-driver and Selenium drive it from the Python test)
  chromium chromium-driver python3-selenium
  # clips (issue #33): OpenCV's video reader (its FFmpeg backend) and PyAV, an independent decoder for the
  # frames oess reads
  libopencv-videoio-dev python3-av
  # reader studies (issue #34): `oess read`'s local grading page (an HTTP server library, not our own)
  libcpp-httplib-dev
  # PNG decoding (issue #30): libdeflate inflates PNG's zlib stream in ~60% of zlib's time (data/png.h)
  libdeflate-dev
)
# Node.js and npm: npm fetches the real ImageNet weights (tools/get_weights.sh) and the TensorFlow.js test
# oracle. A machine that already has them (e.g. from NodeSource, whose nodejs bundles npm) keeps its own.
command -v node > /dev/null || packages+=(nodejs)
command -v npm > /dev/null || packages+=(npm)
# shellcheck disable=SC2206 # a space-separated list by design
packages+=(${OESS_EXTRA_PACKAGES:-})

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo > /dev/null || { echo "oess setup: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
  fi
  echo "oess setup: installing ${#missing[@]} Debian package(s): ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" > /tmp/oess-apt.log 2>&1 \
    || { tail -n 30 /tmp/oess-apt.log >&2; echo "oess setup: apt-get install failed (log: /tmp/oess-apt.log)" >&2; exit 1; }
else
  echo "oess setup: all ${#packages[@]} Debian packages present"
fi

# LibTorch finds its BLAS through Debian's libblas.so.3 alternative, which installing OpenBLAS points at it
# unless someone chose another by hand: say so (a run on the reference BLAS warns too), change nothing.
blas=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || true)
case "$blas" in
  */openblas*) ;;
  *) echo "oess setup: warning: libblas.so.3 is ${blas:-missing}, not OpenBLAS: training runs several times slower;" \
          "\`sudo update-alternatives --auto libblas.so.3-x86_64-linux-gnu\` picks OpenBLAS" >&2 ;;
esac

if [ ! -f "$build/CMakeCache.txt" ]; then
  echo "oess setup: configuring $build (Release)"
  # shellcheck disable=SC2086 # OESS_CMAKE_ARGS is a list of arguments
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release ${OESS_CMAKE_ARGS:-}
fi
echo "oess setup: building ${OESS_TARGET:-everything} with $jobs jobs"
cmake --build "$build" -j "$jobs" ${OESS_TARGET:+--target "$OESS_TARGET"}
# Real ImageNet weights (Keras Inception-v3 from npm's nsfwjs; docs/weights.md); offline: a notice, no error.
OESS_BUILD_DIR=$build bash "$root/tools/get_weights.sh"
echo "oess setup: ready — $build/oess"
