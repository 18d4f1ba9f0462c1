#include "oess/calibration/temperature.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "oess/core/error.h"

namespace oess::calibration {
namespace {

double log_p(double p) { return std::log(std::max(p, kMinProbability)); }

void check(const Probs& p, const std::vector<int>& truth, int k) {
  if (k != 2 && k != 4) throw Error(fmt::format("temperature scaling: {} classes; 2 or 4", k));
  if (p.size() != truth.size())
    throw Error(
        fmt::format("temperature scaling: {} probability rows but {} labels", p.size(), truth.size()));
  for (size_t i = 0; i < truth.size(); ++i)
    if (truth[i] < 0 || truth[i] >= k)
      throw Error(
          fmt::format("temperature scaling: label {} at row {} is outside 0..{}", truth[i], i, k - 1));
}

// Mean NLL at beta = 1/T and its first two derivatives in beta.
struct Objective {
  double value = 0, slope = 0, curvature = 0;
};

Objective objective(const Probs& p, const std::vector<int>& truth, int k, double beta) {
  Objective o;
  for (size_t i = 0; i < p.size(); ++i) {
    std::array<double, 4> z{};
    double top = -1e300;
    for (int c = 0; c < k; ++c) {
      z[static_cast<size_t>(c)] = log_p(p[i][static_cast<size_t>(c)]);
      top = std::max(top, beta * z[static_cast<size_t>(c)]);
    }
    double sum = 0, mean_z = 0, mean_z2 = 0;
    std::array<double, 4> w{};
    for (int c = 0; c < k; ++c) {
      w[static_cast<size_t>(c)] = std::exp(beta * z[static_cast<size_t>(c)] - top);
      sum += w[static_cast<size_t>(c)];
    }
    for (int c = 0; c < k; ++c) {
      const double s = w[static_cast<size_t>(c)] / sum;
      mean_z += s * z[static_cast<size_t>(c)];
      mean_z2 += s * z[static_cast<size_t>(c)] * z[static_cast<size_t>(c)];
    }
    const double zy = z[static_cast<size_t>(truth[i])];
    o.value += top + std::log(sum) - beta * zy;
    o.slope += mean_z - zy;
    o.curvature += mean_z2 - mean_z * mean_z;
  }
  const double n = static_cast<double>(p.size());
  o.value /= n;
  o.slope /= n;
  o.curvature /= n;
  return o;
}

}  // namespace

double nll(const Probs& p, const std::vector<int>& truth, int k, double temperature) {
  check(p, truth, k);
  if (p.empty()) return NAN;
  return objective(p, truth, k, 1.0 / temperature).value;
}

Probs scale(const Probs& p, int k, double temperature) {
  Probs out(p.size());
  for (size_t i = 0; i < p.size(); ++i) {
    double top = -1e300, sum = 0;
    std::array<double, 4> z{};
    for (int c = 0; c < k; ++c) {
      z[static_cast<size_t>(c)] = log_p(p[i][static_cast<size_t>(c)]) / temperature;
      top = std::max(top, z[static_cast<size_t>(c)]);
    }
    for (int c = 0; c < k; ++c)
      sum += (out[i][static_cast<size_t>(c)] = std::exp(z[static_cast<size_t>(c)] - top));
    for (int c = 0; c < k; ++c) out[i][static_cast<size_t>(c)] /= sum;
  }
  return out;
}

TemperatureFit fit_temperature(const Probs& p, const std::vector<int>& truth, int k) {
  check(p, truth, k);
  if (p.empty()) throw UsageError("temperature scaling: no validation images to fit the temperature on");
  TemperatureFit fit;
  fit.n = p.size();
  fit.nll_before = objective(p, truth, k, 1.0).value;
  double lo = kMinBeta, hi = kMaxBeta, beta = 1.0;
  for (fit.iterations = 1; fit.iterations <= 200; ++fit.iterations) {
    const Objective o = objective(p, truth, k, beta);
    if (std::abs(o.slope) < 1e-10) break;
    (o.slope > 0 ? hi : lo) = beta;  // convex: the minimum lies on the side the slope points away from
    double next = o.curvature > 0 ? beta - o.slope / o.curvature : NAN;
    if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
    if (hi - lo < 1e-14 * hi) break;
    beta = next;
  }
  fit.temperature = 1.0 / beta;
  fit.nll_after = objective(p, truth, k, beta).value;
  return fit;
}

}  // namespace oess::calibration
