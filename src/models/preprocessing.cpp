#include "oess/models/preprocessing.h"

#include <fmt/format.h>

#include <cmath>
#include <opencv2/imgproc.hpp>

#include "oess/core/error.h"

namespace oess::models {

std::vector<std::string> preprocessing_preset_names() { return {"torchvision", "keras_tf", "keras_caffe"}; }

Preprocessing preprocessing_preset(const std::string& preset, Arch arch) {
  Preprocessing p;
  p.preset = preset;
  p.height = p.width = native_input_size(arch);
  if (preset == "torchvision") return p;  // the defaults
  if (preset == "keras_tf") {
    p.scale = 1.0 / 127.5;
    p.mean = {1.0, 1.0, 1.0};
    p.std = {1.0, 1.0, 1.0};
    return p;
  }
  if (preset == "keras_caffe") {
    p.bgr = true;
    p.scale = 1.0;
    p.mean = {103.939, 116.779, 123.68};  // B, G, R
    p.std = {1.0, 1.0, 1.0};
    return p;
  }
  throw UsageError(fmt::format(
      "unknown preprocessing preset \"{}\": expected torchvision, keras_tf or keras_caffe", preset));
}

torch::Tensor preprocess(const cv::Mat& bgr8, const Preprocessing& p) {
  if (bgr8.empty()) throw Error("preprocess: empty image");
  if (bgr8.type() != CV_8UC3)
    throw Error(
        fmt::format("preprocess: expected an 8-bit 3-channel BGR image, got {} channel(s) of depth {}",
                    bgr8.channels(), bgr8.depth()));
  if (!(p.crop_fraction > 0.0 && p.crop_fraction <= 1.0))
    throw UsageError(fmt::format("crop fraction {} is outside (0, 1]", p.crop_fraction));
  cv::Mat img = bgr8;
  if (p.crop_fraction < 1.0) {
    const int w = std::max(1, static_cast<int>(std::lround(bgr8.cols * p.crop_fraction)));
    const int h = std::max(1, static_cast<int>(std::lround(bgr8.rows * p.crop_fraction)));
    img = bgr8(cv::Rect((bgr8.cols - w) / 2, (bgr8.rows - h) / 2, w, h));
  }
  cv::Mat resized;
  if (img.rows != p.height || img.cols != p.width)
    cv::resize(img, resized, cv::Size(static_cast<int>(p.width), static_cast<int>(p.height)), 0, 0,
               p.interpolation == Interpolation::kArea ? cv::INTER_AREA : cv::INTER_LINEAR);
  else
    resized = img;
  if (!p.bgr) cv::cvtColor(resized, resized, cv::COLOR_BGR2RGB);
  cv::Mat f;
  resized.convertTo(f, CV_32FC3);
  // HWC -> CHW, then per-channel (x * scale - mean) / std.
  auto hwc = torch::from_blob(f.data, {p.height, p.width, 3}, torch::kFloat32);
  auto chw = hwc.permute({2, 0, 1}).contiguous();
  for (int c = 0; c < 3; ++c)
    chw[c].mul_(p.scale).sub_(p.mean[static_cast<size_t>(c)]).div_(p.std[static_cast<size_t>(c)]);
  return chw;
}

}  // namespace oess::models
