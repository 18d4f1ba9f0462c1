#!/usr/bin/env bash
# run.sh — the README's main job: sets up and builds oess if needed (tools/setup.sh), then runs the study's
# 4-class experiment, experiments/paper_4class_inception.yaml, on the embedded synthetic dataset (made on
# first use with the study's Table 1 counts, in data/synthetic/): Inception-v3 features at all 11 mixed
# layers (cached) -> one classifier per layer -> the best layer on validation -> a 10-member ensemble ->
# metrics with 95% CIs -> report and model in runs/paper_4class_inception/.
#
# Weights: by default the Keras ImageNet Inception-v3 that tools/get_weights.sh (run by setup.sh) imports from
# npm's nsfwjs into weights/inception_v3_keras.pt (taps mixed0-mixed5 ImageNet, mixed6-mixed10 fine-tuned
# for another task; docs/weights.md). OESS_WEIGHTS=FILE uses another file (a converted torchvision one needs
# --set backbone.transform_input=true), OESS_WEIGHTS=none the seeded random backbone. Without network access
# at set-up the file is missing and the random backbone is used, with a loud warning in every output.
# Only the `oess` program is built (not the tests). Further arguments go to `oess run` (e.g.
# --set ensemble.members=5, --out DIR).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${OESS_BUILD_DIR:-$root/build}
OESS_TARGET=oess_cli bash "$root/tools/setup.sh"
cd "$root"
file=${OESS_WEIGHTS:-$root/weights/inception_v3_keras.pt}
if [ "$file" != none ] && [ ! -f "$file" ]; then
  echo "oess run.sh: $file is missing (no network at set-up?): running on a RANDOM backbone" >&2
  file=none
fi
weights=(--set "backbone.weights=$file")
exec "$build/oess" run experiments/paper_4class_inception.yaml "${weights[@]}" "$@"
