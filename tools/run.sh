#!/usr/bin/env bash
# run.sh — the README's main job: sets up and builds oess if needed (tools/setup.sh), then runs the study's
# 4-class experiment, experiments/paper_4class_inception.yaml, on the embedded synthetic dataset (made on
# first use with the study's Table 1 counts, in data/synthetic/): Inception-v3 features at all 11 mixed
# layers (cached) -> one classifier per layer -> the best layer on validation -> a 10-member ensemble ->
# metrics with 95% CIs -> report and model in runs/paper_4class_inception/.
#
# Weights: OESS_WEIGHTS=path/to/inception_v3.pt uses real ImageNet weights (torchvision's, converted: see
# docs/weights.md); by default the backbone is randomly initialised from a seed, and every output says so.
# Further arguments go to `oess run` (e.g. --set ensemble.members=5, --out DIR).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${OESS_BUILD_DIR:-$root/build}
bash "$root/tools/setup.sh"
cd "$root"
weights=()
if [ -n "${OESS_WEIGHTS:-}" ]; then
  weights=(--set "backbone.weights=$OESS_WEIGHTS" --set backbone.transform_input=true)
fi
exec "$build/oess" run experiments/paper_4class_inception.yaml "${weights[@]}" "$@"
