#include "oess/metrics/metrics.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "oess/core/error.h"

namespace oess::metrics {

long Confusion::n() const {
  long s = 0;
  for (const auto& r : m)
    for (long v : r) s += v;
  return s;
}

Confusion confusion(const std::vector<int>& truth, const std::vector<int>& pred, int k) {
  if (truth.size() != pred.size())
    throw Error(fmt::format("confusion: {} truths but {} predictions", truth.size(), pred.size()));
  Confusion c;
  c.k = k;
  c.m.assign(static_cast<size_t>(k), std::vector<long>(static_cast<size_t>(k), 0));
  for (size_t i = 0; i < truth.size(); ++i) {
    if (truth[i] < 0 || truth[i] >= k || pred[i] < 0 || pred[i] >= k)
      throw Error(fmt::format("confusion: label pair ({}, {}) at row {} is outside 0..{}", truth[i], pred[i],
                              i, k - 1));
    ++c.m[static_cast<size_t>(truth[i])][static_cast<size_t>(pred[i])];
  }
  return c;
}

double accuracy(const Confusion& c) {
  long diag = 0;
  for (int i = 0; i < c.k; ++i) diag += c.m[static_cast<size_t>(i)][static_cast<size_t>(i)];
  return c.n() ? static_cast<double>(diag) / c.n() : std::numeric_limits<double>::quiet_NaN();
}

std::vector<double> per_class_accuracy(const Confusion& c) {
  std::vector<double> out;
  for (int i = 0; i < c.k; ++i) {
    long row = 0;
    for (long v : c.m[static_cast<size_t>(i)]) row += v;
    out.push_back(row ? static_cast<double>(c.m[static_cast<size_t>(i)][static_cast<size_t>(i)]) / row
                      : std::numeric_limits<double>::quiet_NaN());
  }
  return out;
}

double mean_per_class_accuracy(const Confusion& c) {
  double s = 0;
  int n = 0;
  for (double a : per_class_accuracy(c))
    if (!std::isnan(a)) {
      s += a;
      ++n;
    }
  return n ? s / n : std::numeric_limits<double>::quiet_NaN();
}

double kappa(const Confusion& c, KappaWeights w) {
  const int k = c.k;
  const double n = static_cast<double>(c.n());
  std::vector<double> rows(static_cast<size_t>(k), 0), cols(static_cast<size_t>(k), 0);
  for (int i = 0; i < k; ++i)
    for (int j = 0; j < k; ++j) {
      rows[static_cast<size_t>(i)] += c.m[static_cast<size_t>(i)][static_cast<size_t>(j)];
      cols[static_cast<size_t>(j)] += c.m[static_cast<size_t>(i)][static_cast<size_t>(j)];
    }
  double observed = 0, expected = 0;
  for (int i = 0; i < k; ++i)
    for (int j = 0; j < k; ++j) {
      const double d = k > 1 ? std::abs(i - j) / static_cast<double>(k - 1) : 0;
      const double wij = w == KappaWeights::kUnweighted ? (i != j) : w == KappaWeights::kLinear ? d : d * d;
      observed += wij * c.m[static_cast<size_t>(i)][static_cast<size_t>(j)];
      expected += wij * rows[static_cast<size_t>(i)] * cols[static_cast<size_t>(j)] / n;
    }
  return expected == 0 ? std::numeric_limits<double>::quiet_NaN() : 1.0 - observed / expected;
}

double sensitivity(const Confusion& c) {
  const double pos = static_cast<double>(c.m[1][0] + c.m[1][1]);
  return pos ? c.m[1][1] / pos : std::numeric_limits<double>::quiet_NaN();
}

double specificity(const Confusion& c) {
  const double neg = static_cast<double>(c.m[0][0] + c.m[0][1]);
  return neg ? c.m[0][0] / neg : std::numeric_limits<double>::quiet_NaN();
}

SensSpec one_vs_rest(const Confusion& c, int grade) {
  const auto g = static_cast<size_t>(grade);
  double tp = 0, fn = 0, fp = 0, tn = 0;
  for (size_t i = 0; i < static_cast<size_t>(c.k); ++i)
    for (size_t j = 0; j < static_cast<size_t>(c.k); ++j) {
      const double v = static_cast<double>(c.m[i][j]);
      if (i == g)
        (j == g ? tp : fn) += v;
      else
        (j == g ? fp : tn) += v;
    }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  return {tp + fn > 0 ? tp / (tp + fn) : nan, tn + fp > 0 ? tn / (tn + fp) : nan};
}

namespace {

// The share of pairs whose grade distance satisfies `keep`; NaN when there are none.
template <class Keep>
double share_of_errors(const std::vector<int>& truth, const std::vector<int>& pred, Keep keep) {
  if (truth.size() != pred.size())
    throw Error(fmt::format("grade errors: {} truths but {} predictions", truth.size(), pred.size()));
  if (truth.empty()) return std::numeric_limits<double>::quiet_NaN();
  double s = 0;
  for (size_t i = 0; i < truth.size(); ++i) s += keep(std::abs(pred[i] - truth[i]));
  return s / static_cast<double>(truth.size());
}

}  // namespace

double mean_absolute_error(const std::vector<int>& truth, const std::vector<int>& pred) {
  return share_of_errors(truth, pred, [](int e) { return static_cast<double>(e); });
}

double share_within(const std::vector<int>& truth, const std::vector<int>& pred, int grades) {
  return share_of_errors(truth, pred, [grades](int e) { return e <= grades ? 1.0 : 0.0; });
}

double share_off_by_at_least(const std::vector<int>& truth, const std::vector<int>& pred, int grades) {
  return share_of_errors(truth, pred, [grades](int e) { return e >= grades ? 1.0 : 0.0; });
}

std::vector<int> to_binary(const std::vector<int>& grades) {
  std::vector<int> b;
  b.reserve(grades.size());
  for (int g : grades) b.push_back(g >= 2 ? 1 : 0);
  return b;
}

std::string format_confusion(const Confusion& c, const std::vector<std::string>& names) {
  std::string s = fmt::format("{:>14}", "truth \\ pred");
  for (int j = 0; j < c.k; ++j) s += fmt::format("{:>10}", names[static_cast<size_t>(j)]);
  s += fmt::format("{:>8}\n", "total");
  for (int i = 0; i < c.k; ++i) {
    long row = 0;
    s += fmt::format("{:>14}", names[static_cast<size_t>(i)]);
    for (int j = 0; j < c.k; ++j) {
      s += fmt::format("{:>10}", c.m[static_cast<size_t>(i)][static_cast<size_t>(j)]);
      row += c.m[static_cast<size_t>(i)][static_cast<size_t>(j)];
    }
    s += fmt::format("{:>8}\n", row);
  }
  s += fmt::format("{:>14}", "accuracy");
  for (double a : per_class_accuracy(c))
    s += std::isnan(a) ? fmt::format("{:>10}", "-") : fmt::format("{:>9.1f}%", 100 * a);
  s += fmt::format("{:>7.1f}%\n", 100 * accuracy(c));
  return s;
}

}  // namespace oess::metrics
