#include "oess/metrics/calibration.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "oess/core/error.h"

namespace oess::metrics {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}

double brier(const std::vector<int>& truth, const std::vector<std::array<double, 4>>& p, int k) {
  if (truth.size() != p.size())
    throw Error(fmt::format("brier: {} truths but {} probability rows", truth.size(), p.size()));
  if (k != 2 && k != 4) throw Error(fmt::format("brier: k = {}; 2 or 4 classes", k));
  if (truth.empty()) return kNaN;
  double s = 0;
  for (size_t i = 0; i < truth.size(); ++i) {
    if (k == 2) {
      const double d = p[i][1] - (truth[i] == 1 ? 1.0 : 0.0);
      s += d * d;
      continue;
    }
    for (int c = 0; c < 4; ++c) {
      const double d = p[i][static_cast<size_t>(c)] - (truth[i] == c ? 1.0 : 0.0);
      s += d * d;
    }
  }
  return s / static_cast<double>(truth.size());
}

std::vector<ReliabilityBin> reliability(const std::vector<bool>& correct,
                                        const std::vector<double>& confidence, int bins) {
  if (bins < 1) throw UsageError(fmt::format("reliability: {} bins; at least 1", bins));
  if (correct.size() != confidence.size())
    throw Error(
        fmt::format("reliability: {} outcomes but {} confidences", correct.size(), confidence.size()));
  std::vector<ReliabilityBin> table(static_cast<size_t>(bins));
  std::vector<double> conf_sum(table.size(), 0), right(table.size(), 0);
  for (size_t b = 0; b < table.size(); ++b) {
    table[b].lo = static_cast<double>(b) / bins;
    table[b].hi = static_cast<double>(b + 1) / bins;
  }
  for (size_t i = 0; i < correct.size(); ++i) {
    // Float32 probabilities summed may overshoot by a few ulps: that is rounding, not a bad input.
    if (!(confidence[i] >= -1e-6 && confidence[i] <= 1 + 1e-6))
      throw Error(fmt::format("reliability: confidence {} is outside [0, 1]", confidence[i]));
    const double c = std::clamp(confidence[i], 0.0, 1.0);
    const auto b = static_cast<size_t>(std::min(static_cast<int>(std::floor(c * bins)), bins - 1));
    ++table[b].n;
    conf_sum[b] += c;
    right[b] += correct[i] ? 1 : 0;
  }
  for (size_t b = 0; b < table.size(); ++b) {
    const double n = static_cast<double>(table[b].n);
    table[b].confidence = n > 0 ? conf_sum[b] / n : kNaN;
    table[b].accuracy = n > 0 ? right[b] / n : kNaN;
  }
  return table;
}

std::vector<ReliabilityBin> call_reliability(const std::vector<int>& truth, const std::vector<int>& called,
                                             const std::vector<std::array<double, 4>>& p, int bins) {
  if (truth.size() != called.size() || truth.size() != p.size())
    throw Error(fmt::format("reliability: {} truths, {} calls and {} probability rows", truth.size(),
                            called.size(), p.size()));
  std::vector<bool> right;
  std::vector<double> confidence;
  for (size_t i = 0; i < truth.size(); ++i) {
    right.push_back(called[i] == truth[i]);
    confidence.push_back(p[i][static_cast<size_t>(called[i])]);
  }
  return reliability(right, confidence, bins);
}

double expected_calibration_error(const std::vector<ReliabilityBin>& table) {
  double n = 0, s = 0;
  for (const auto& b : table) {
    if (b.n == 0) continue;
    n += static_cast<double>(b.n);
    s += static_cast<double>(b.n) * std::abs(b.accuracy - b.confidence);
  }
  return n > 0 ? s / n : kNaN;
}

}  // namespace oess::metrics
