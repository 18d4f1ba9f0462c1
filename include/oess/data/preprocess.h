#pragma once
// oess/data/preprocess.h — a decoded 8-bit BGR image -> the float tensor [3, H, W] fed to a network: centre
// crop (crop_fraction), resize, channel order, (v * scale - mean) / std per channel. Which values a set of
// weights wants is the preset's business (models/preprocessing.h, which documents them).
#include <torch/types.h>

#include <opencv2/core/mat.hpp>

#include <array>
#include <cstdint>
#include <string>

namespace oess::data {

enum class Interpolation { kLinear, kArea };

struct Preprocessing {
  std::string preset = "torchvision";
  int64_t height = 299, width = 299;
  bool bgr = false;                                 // channel order fed to the network
  double scale = 1.0 / 255.0;                       // applied to 0..255 values first
  std::array<double, 3> mean{0.485, 0.456, 0.406};  // then (x - mean) / std, in network channel order
  std::array<double, 3> std{0.229, 0.224, 0.225};
  double crop_fraction = 1.0;  // centre crop kept before resizing (1 = whole image)
  Interpolation interpolation = Interpolation::kLinear;
};

// requires: preset one of torchvision | keras_tf | keras_caffe, else UsageError listing them.
// ensures: input size = native_input_size(arch).
// requires: an 8-bit 3-channel image (else Error), crop_fraction in (0, 1] (else UsageError).
torch::Tensor preprocess(const cv::Mat& bgr8, const Preprocessing& p);
// The same into out[0 .. 3 * height * width) (e.g. one image's slot of a batch); the same requirements.
void preprocess_into(const cv::Mat& bgr8, const Preprocessing& p, float* out);

}  // namespace oess::data
