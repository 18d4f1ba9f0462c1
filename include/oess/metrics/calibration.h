#pragma once
// oess/metrics/calibration.h — do the probabilities mean what they say? (torch-free)
//
// brier(truth, p, k)
//   k = 2: mean over images of (p1 - y)^2, y = 1 for diseased (scikit-learn's brier_score_loss), 0..1;
//   k = 4: mean over images of sum_c (p_c - [y = c])^2 (Brier's original multi-class score), 0..2.
//   NaN when empty.
// reliability(correct, confidence, bins)
//   Equal-width bins of the confidence (the probability of the predicted class) over [0, 1]: a confidence c
//   falls in bin min(floor(c * bins), bins - 1), so bin b is [b/B, (b+1)/B) and the last bin is closed.
//   Confidences within 1e-6 outside [0, 1] (float rounding) are clamped; further out is an error.
//   Per bin: the number of images, their mean confidence and the share predicted right (NaN when empty).
// expected_calibration_error(table) = sum over bins of n_b / n * |accuracy_b - confidence_b| (0 when
//   perfectly calibrated; NaN when there are no images).
// kCalibrationBins: the bins metrics.json's `ece` and reliability table use (10).
#include <array>
#include <vector>

namespace oess::metrics {

constexpr int kCalibrationBins = 10;

double brier(const std::vector<int>& truth, const std::vector<std::array<double, 4>>& p, int k);

struct ReliabilityBin {
  double lo = 0, hi = 0;
  long n = 0;
  double confidence = 0, accuracy = 0;  // means over the bin's images (NaN when n = 0)
};

std::vector<ReliabilityBin> reliability(const std::vector<bool>& correct,
                                        const std::vector<double>& confidence, int bins = kCalibrationBins);

double expected_calibration_error(const std::vector<ReliabilityBin>& table);

// The reliability table of a set of calls: each image right when called[i] == truth[i], its confidence the
// called class's probability p[i][called[i]] (what metrics.json's `ece` and `reliability` use).
std::vector<ReliabilityBin> call_reliability(const std::vector<int>& truth, const std::vector<int>& called,
                                             const std::vector<std::array<double, 4>>& p,
                                             int bins = kCalibrationBins);

}  // namespace oess::metrics
