#!/usr/bin/env bash
# get_weights.sh — real ImageNet weights for Inception-v3 on a machine that reaches only Debian and npm.
#
# The npm package nsfwjs@4.4.0 (MIT licence) ships a Keras 2.2.4 InceptionV3 as a TensorFlow.js Layers model,
# 8-bit quantised. Its authors kept conv2d_1..50 and conv2d_55 (with their batch normalizations) frozen at
# Keras's ImageNet weights and fine-tuned the rest for another task (NSFW image classes): taps mixed0-mixed5
# are ImageNet, mixed6-mixed10 are not. This script fetches the package with npm, checks it against the
# pinned integrity hash, keeps the model's files (and the package's licence) in weights/nsfwjs-4.4.0/ — the
# parity tests run them in TensorFlow.js — and imports them once into weights/inception_v3_keras.pt with
# `oess weights import` (flavour keras, preprocessing keras_tf, provenance recorded in the file).
#
# Idempotent: nothing happens when the file is there and reads back. Offline (npm cannot fetch), it says so
# and exits 0: oess then runs on the seeded random backbone, with its loud warning.
# Environment: OESS_BUILD_DIR (default build/), OESS_WEIGHTS_DIR (default weights/).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${OESS_BUILD_DIR:-$root/build}
dir=${OESS_WEIGHTS_DIR:-$root/weights}
out=$dir/inception_v3_keras.pt
model=$dir/nsfwjs-4.4.0
package=nsfwjs@4.4.0
sha512=92b0b57e07932d7b59c20769289d239bb86abf481349141044bf8584e6b1689f568fddade3604eddcb0eda87708130206607f646f9303eda7447c01aedd73e30

if [ -f "$out" ] && [ -f "$model/model.min.js" ] && "$build/oess" weights inspect --summary "$out" > /dev/null 2>&1; then
  echo "oess weights: $out present"
  exit 0
fi
if ! command -v npm > /dev/null; then
  echo "oess weights: npm is not installed: no ImageNet weights (oess will use a random backbone)" >&2
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "oess weights: fetching $package (Keras ImageNet Inception-v3, 25 MB) with npm"
if ! (cd "$tmp" && npm pack "$package" --silent > pack.log 2>&1); then
  tail -n 5 "$tmp/pack.log" >&2 || true
  echo "oess weights: could not fetch $package (offline?): no ImageNet weights; oess will use a random backbone" >&2
  exit 0
fi
tgz=$(ls "$tmp"/nsfwjs-*.tgz)
got=$(sha512sum "$tgz" | cut -d' ' -f1)
if [ "$got" != "$sha512" ]; then
  echo "oess weights: $package integrity check FAILED (sha512 $got, expected $sha512): not imported" >&2
  exit 1
fi
tar xzf "$tgz" -C "$tmp" package/LICENSE package/dist/models/inception_v3
mkdir -p "$dir"
rm -rf "$model" "$model.partial"
cp -r "$tmp/package/dist/models/inception_v3" "$model.partial"
cp "$tmp/package/LICENSE" "$model.partial/LICENSE"
mv "$model.partial" "$model"
"$build/oess" weights import --from tfjs --arch inception_v3 --imagenet frozen \
  --note "From npm nsfwjs@4.4.0 (MIT): Keras 2.2.4 InceptionV3, 8-bit quantised; its authors kept the layers it marks frozen (conv2d_1..50, conv2d_55) at Keras's ImageNet weights and fine-tuned the rest for NSFW image classes" \
  "$model/model.min.js" --out "$out"
