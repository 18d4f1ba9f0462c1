#pragma once
// oess/calibration/temperature.h — temperature scaling of class probabilities (torch-free).
//
// Scaling: probabilities p (a row per image, k = 2 or 4 classes, summing to 1) become
//   q = softmax(log(p) / T),   log p clamped below at log(kMinProbability),
// which keeps every image's most probable class (T > 0) and moves its confidence: T > 1 softens
// over-confident probabilities, T < 1 sharpens under-confident ones. For an ensemble, p is the members' mean.
//
// fit_temperature(p, truth, k)
//   The T minimising the mean negative log-likelihood NLL(T) = mean_i -log q_i[truth_i] on these images (the
//   validation set: never the test set). NLL is convex in beta = 1/T (a log-sum-exp of lines), so Newton's
//   method on beta, kept inside a shrinking bracket [kMinBeta, kMaxBeta] by bisection, finds the minimum to
//   |dNLL/dbeta| < 1e-10; at a bracket end (e.g. every image right with certainty) T stops there.
//   errors: UsageError when there are no images (an empty validation set cannot calibrate); Error when
//   truth and p differ in length or a label is outside 0..k-1.
// nll(p, truth, k, T): that objective at T.
// scale(p, k, T): the scaled probabilities.
#include <array>
#include <cstddef>
#include <vector>

namespace oess::calibration {

using Probs = std::vector<std::array<double, 4>>;  // k = 2 uses [0] and [1]

constexpr double kMinProbability = 1e-12;
constexpr double kMinBeta = 1e-3, kMaxBeta = 1e3;  // T within [1e-3, 1e3]

struct TemperatureFit {
  double temperature = 1;
  double nll_before = 0, nll_after = 0;  // at T = 1 and at the fitted T
  size_t n = 0;
  int iterations = 0;
};

TemperatureFit fit_temperature(const Probs& p, const std::vector<int>& truth, int k);
double nll(const Probs& p, const std::vector<int>& truth, int k, double temperature);
Probs scale(const Probs& p, int k, double temperature);

}  // namespace oess::calibration
