#pragma once
// oess/data/balance.h — evening out the grades of a training set (the study's Table 2), and augmenting
// copies.
//
// oversample(train, scores, seed)
//   ensures: every original training sample once (copy 0), plus copies (copy 1, 2, ...) of the rarer grades
//   until every grade present has as many items as the largest; copies cycle through a seeded shuffle of
//   their grade, so each original is copied floor or ceil of the needed factor. Order: originals in input
//   order, then copies.
// class_weights(train, scores): n / (k * n_g) for each grade g present (k = grades present), 0 for absent
//   grades — the weights that make every grade count equally in the loss.
// augment(image, seed): a seeded random flip (horizontal, p = 0.5), rotation (±5°), scale (0.95-1.05), gain
//   (0.9-1.1) and contrast (0.9-1.1 around mid-grey). Same seed, same output; used for oversampled copies
//   so they differ from their originals.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

#include "oess/data/manifest.h"

namespace oess::data {

struct TrainItem {
  size_t sample;  // index into the manifest
  int copy = 0;   // 0 = the original; k > 0 = its k-th oversampled copy
};

std::vector<TrainItem> oversample(const std::vector<size_t>& train, const std::vector<int>& scores,
                                  uint64_t seed);
std::vector<TrainItem> no_balancing(const std::vector<size_t>& train);
std::array<double, kNumGrades> class_weights(const std::vector<size_t>& train,
                                             const std::vector<int>& scores);

cv::Mat augment(const cv::Mat& bgr8, uint64_t seed);

}  // namespace oess::data
