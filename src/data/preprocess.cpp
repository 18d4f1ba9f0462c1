// Image -> network input tensor (data/preprocess.h).
#include "oess/data/preprocess.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <cmath>
#include <opencv2/imgproc.hpp>

#include "oess/core/error.h"

namespace oess::data {

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

}  // namespace oess::data
