#pragma once
// oess/models/preprocessing.h — the presets: which preprocessing (data/preprocess.h) a backbone's weights
// expect.
//
// The preset belongs to the weights, not to the architecture: torchvision's and timm's "tv_in1k" weights
// want `torchvision`, Keras's VGG-16 `keras_caffe`, Keras's Inception-v3 `keras_tf`.
//
//   preset        channels  value fed to the network (v = 8-bit pixel value 0..255)
//   torchvision   RGB       (v / 255 - mean) / std, mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225)
//   keras_tf      RGB       v / 127.5 - 1
//   keras_caffe   BGR       v - (103.939, 116.779, 123.68)
//
// Geometry: by default the whole image is resized to the network's input size (224x224 VGG-16, 299x299
// Inception-v3), as the study did; aspect ratio is not kept, and nothing is cut off (a centre crop, as in
// torchvision's ImageNet evaluation, could remove the colour box). An explicit centre crop keeps the middle
// `crop_fraction` of each side before resizing. Resizing is OpenCV's: bilinear (INTER_LINEAR) by default,
// or area averaging (INTER_AREA), which is what to use when shrinking a lot; neither is PIL's antialiased
// bilinear, so features differ slightly from a PIL pipeline (docs/preprocessing.md).
//
// With the torchvision preset, torchvision's own Inception-v3 weights (Google's port) additionally need
// transform_input=True on the backbone — torchvision switches it on whenever it loads those weights.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>
#include <opencv2/core/mat.hpp>

#include "oess/data/preprocess.h"
#include "oess/models/taps.h"

namespace oess::models {

using data::Interpolation;
using data::preprocess;
using data::Preprocessing;

Preprocessing preprocessing_preset(const std::string& preset, Arch arch);
std::vector<std::string> preprocessing_preset_names();

// requires: image 8-bit, 3 channels in OpenCV's BGR order (decoding converts grey/alpha/16-bit first),
//           non-empty; crop_fraction in (0, 1].
// ensures:  float32 [3, height, width] on the CPU, normalised per `p`.

}  // namespace oess::models
