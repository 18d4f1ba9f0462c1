// Preprocessing presets against values worked out by hand.
#include <torch/torch.h>
#include <catch2/catch.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <cmath>

#include "oess/core/error.h"
#include "oess/models/preprocessing.h"

using oess::models::Arch;

namespace {
// A 2x2 BGR image; pixel (0,0) = B 10, G 20, R 30.
cv::Mat tiny() {
  cv::Mat m(2, 2, CV_8UC3, cv::Scalar(0, 0, 0));
  m.at<cv::Vec3b>(0, 0) = cv::Vec3b(10, 20, 30);
  m.at<cv::Vec3b>(1, 1) = cv::Vec3b(255, 255, 255);
  return m;
}
oess::models::Preprocessing at_size(std::string preset, int64_t s) {
  auto p = oess::models::preprocessing_preset(preset, Arch::kVgg16);
  p.height = p.width = s;
  return p;
}
}  // namespace

TEST_CASE("presets bind the network input size", "[preprocessing]") {
  CHECK(oess::models::preprocessing_preset("torchvision", Arch::kVgg16).height == 224);
  CHECK(oess::models::preprocessing_preset("keras_tf", Arch::kInceptionV3).width == 299);
  REQUIRE_THROWS_AS(oess::models::preprocessing_preset("imagenet", Arch::kVgg16), oess::UsageError);
}

TEST_CASE("torchvision preset: RGB, /255, ImageNet mean and std", "[preprocessing]") {
  const auto t = oess::models::preprocess(tiny(), at_size("torchvision", 2));
  REQUIRE(t.sizes() == torch::IntArrayRef({3, 2, 2}));
  // channel 0 is red: (30/255 - 0.485) / 0.229
  CHECK(t[0][0][0].item<double>() == Approx((30 / 255.0 - 0.485) / 0.229).epsilon(1e-6));
  CHECK(t[1][0][0].item<double>() == Approx((20 / 255.0 - 0.456) / 0.224).epsilon(1e-6));
  CHECK(t[2][0][0].item<double>() == Approx((10 / 255.0 - 0.406) / 0.225).epsilon(1e-6));
  CHECK(t[2][1][1].item<double>() == Approx((1.0 - 0.406) / 0.225).epsilon(1e-6));
}

TEST_CASE("keras_tf preset: RGB in [-1, 1]", "[preprocessing]") {
  const auto t = oess::models::preprocess(tiny(), at_size("keras_tf", 2));
  CHECK(t[0][0][0].item<double>() == Approx(30 / 127.5 - 1));
  CHECK(t[0][0][1].item<double>() == Approx(-1.0));
  CHECK(t[0][1][1].item<double>() == Approx(1.0));
}

TEST_CASE("keras_caffe preset: BGR minus the ImageNet BGR mean", "[preprocessing]") {
  const auto t = oess::models::preprocess(tiny(), at_size("keras_caffe", 2));
  CHECK(t[0][0][0].item<double>() == Approx(10 - 103.939));  // blue first
  CHECK(t[2][0][0].item<double>() == Approx(30 - 123.68));
}

TEST_CASE("the whole image is resized, a centre crop only when asked", "[preprocessing]") {
  // 4x8 image: left half black, right half white. Resized whole to 2x2: one black, one white column.
  cv::Mat m(4, 8, CV_8UC3, cv::Scalar(0, 0, 0));
  m(cv::Rect(4, 0, 4, 4)).setTo(cv::Scalar(255, 255, 255));
  auto p = at_size("keras_tf", 2);
  auto t = oess::models::preprocess(m, p);
  CHECK(t[0][0][0].item<double>() == Approx(-1.0));
  CHECK(t[0][0][1].item<double>() == Approx(1.0));
  // A centre crop of half of each side keeps only the white middle of a black-framed image.
  cv::Mat framed(4, 8, CV_8UC3, cv::Scalar(0, 0, 0));
  framed(cv::Rect(2, 1, 4, 2)).setTo(cv::Scalar(255, 255, 255));
  p.crop_fraction = 0.5;
  t = oess::models::preprocess(framed, p);
  CHECK(t.min().item<double>() == Approx(1.0));
  p.crop_fraction = 1.0;
  CHECK(oess::models::preprocess(framed, p).min().item<double>() < 0.0);  // whole image: the frame shows
  p.crop_fraction = 0.0;
  REQUIRE_THROWS_AS(oess::models::preprocess(m, p), oess::UsageError);
}

TEST_CASE("non-BGR8 input is refused with what it got", "[preprocessing]") {
  cv::Mat grey(4, 4, CV_8UC1, cv::Scalar(0));
  REQUIRE_THROWS_WITH(oess::models::preprocess(grey, at_size("torchvision", 2)),
                      Catch::Matchers::Contains("got 1 channel(s)"));
}

// The arithmetic as separate tensor operations, the way preprocess() computed it before its one-pass loop:
// what the features of every earlier run were made from, so the loop must give the same bits.
namespace {
torch::Tensor by_tensor_ops(const cv::Mat& bgr8, const oess::models::Preprocessing& p) {
  cv::Mat img = bgr8, resized;
  if (p.crop_fraction < 1.0) {
    const int w = std::max(1, static_cast<int>(std::lround(bgr8.cols * p.crop_fraction)));
    const int h = std::max(1, static_cast<int>(std::lround(bgr8.rows * p.crop_fraction)));
    img = bgr8(cv::Rect((bgr8.cols - w) / 2, (bgr8.rows - h) / 2, w, h));
  }
  cv::resize(img, resized, cv::Size(static_cast<int>(p.width), static_cast<int>(p.height)), 0, 0,
             cv::INTER_LINEAR);
  if (!p.bgr) cv::cvtColor(resized, resized, cv::COLOR_BGR2RGB);
  cv::Mat f;
  resized.convertTo(f, CV_32FC3);
  auto chw =
      torch::from_blob(f.data, {p.height, p.width, 3}, torch::kFloat32).permute({2, 0, 1}).contiguous();
  for (int c = 0; c < 3; ++c)
    chw[c].mul_(p.scale).sub_(p.mean[static_cast<size_t>(c)]).div_(p.std[static_cast<size_t>(c)]);
  return chw;
}
}  // namespace

TEST_CASE("preprocess gives the bits of the per-channel tensor arithmetic", "[preprocessing]") {
  cv::Mat m(97, 131, CV_8UC3);
  cv::randu(m, cv::Scalar::all(0), cv::Scalar::all(256));
  for (const char* preset : {"torchvision", "keras_tf", "keras_caffe"})
    for (double crop : {1.0, 0.8}) {
      auto p = oess::models::preprocessing_preset(preset, Arch::kInceptionV3);
      p.crop_fraction = crop;
      const auto got = oess::models::preprocess(m, p), want = by_tensor_ops(m, p);
      INFO(preset << ", crop " << crop);
      REQUIRE(got.sizes() == want.sizes());
      CHECK(torch::equal(got, want));
      CHECK(want.abs().max().item<double>() > 0.5);  // a real image's range, not zeros on both sides
    }
}
