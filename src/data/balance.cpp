#include "oess/data/balance.h"

#include <algorithm>
#include <opencv2/imgproc.hpp>

#include "oess/core/random.h"

namespace oess::data {

std::vector<TrainItem> no_balancing(const std::vector<size_t>& train) {
  std::vector<TrainItem> out;
  for (size_t i : train) out.push_back({i, 0});
  return out;
}

std::vector<TrainItem> oversample(const std::vector<size_t>& train, const std::vector<int>& scores,
                                  uint64_t seed) {
  std::vector<TrainItem> out = no_balancing(train);
  std::vector<std::vector<size_t>> groups(kNumGrades);
  for (size_t i : train) groups[static_cast<size_t>(scores[i])].push_back(i);
  size_t largest = 0;
  for (const auto& g : groups) largest = std::max(largest, g.size());
  Rng rng(mix_seed(seed, 0x0BA1));
  std::vector<int> copy_of(scores.size(), 0);
  for (auto& g : groups) {
    if (g.empty() || g.size() == largest) continue;
    std::vector<size_t> order = g;
    size_t need = largest - g.size(), pos = 0;
    rng.shuffle(order);
    while (need-- > 0) {
      if (pos == order.size()) {  // next cycle: a fresh shuffle, so cycles differ
        rng.shuffle(order);
        pos = 0;
      }
      const size_t s = order[pos++];
      out.push_back({s, ++copy_of[s]});
    }
  }
  return out;
}

std::array<double, kNumGrades> class_weights(const std::vector<size_t>& train,
                                             const std::vector<int>& scores) {
  std::array<double, kNumGrades> n{};
  for (size_t i : train) n[static_cast<size_t>(scores[i])] += 1;
  const double present =
      static_cast<double>(std::count_if(n.begin(), n.end(), [](double c) { return c > 0; }));
  std::array<double, kNumGrades> w{};
  for (size_t g = 0; g < kNumGrades; ++g)
    w[g] = n[g] > 0 ? static_cast<double>(train.size()) / (present * n[g]) : 0;
  return w;
}

cv::Mat augment(const cv::Mat& bgr8, uint64_t seed) {
  Rng rng(seed);
  const bool flip = rng.uniform() < 0.5;
  const double angle = rng.uniform(-5.0, 5.0), scale = rng.uniform(0.95, 1.05);
  const double gain = rng.uniform(0.9, 1.1), contrast = rng.uniform(0.9, 1.1);
  cv::Mat img;
  if (flip)
    cv::flip(bgr8, img, 1);
  else
    img = bgr8.clone();
  const cv::Point2f centre(static_cast<float>(img.cols) / 2.0f, static_cast<float>(img.rows) / 2.0f);
  const cv::Mat m = cv::getRotationMatrix2D(centre, angle, scale);
  cv::Mat warped;
  cv::warpAffine(img, warped, m, img.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar(0, 0, 0));
  // v' = gain * (contrast * (v - 128) + 128), saturated to 0..255.
  cv::Mat out;
  warped.convertTo(out, CV_8U, gain * contrast, gain * 128.0 * (1.0 - contrast));
  return out;
}

}  // namespace oess::data
