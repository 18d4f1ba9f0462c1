#include "oess/metrics/paired.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>

#include "oess/core/error.h"
#include "oess/core/random.h"
#include "oess/metrics/metrics.h"

namespace oess::metrics {

double mcnemar_exact(int64_t b, int64_t c) {
  const int64_t n = b + c;
  if (n == 0) return 1.0;
  const int64_t k = std::min(b, c);
  // P(X <= k) for X ~ Binomial(n, 1/2), summed in log space (n can be in the thousands).
  double tail = 0;
  for (int64_t i = 0; i <= k; ++i)
    tail += std::exp(std::lgamma(static_cast<double>(n + 1)) - std::lgamma(static_cast<double>(i + 1)) -
                     std::lgamma(static_cast<double>(n - i + 1)) - static_cast<double>(n) * std::log(2.0));
  return std::min(1.0, 2 * tail);
}

std::vector<double> holm(const std::vector<double>& p) {
  const size_t m = p.size();
  std::vector<size_t> order(m);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&p](size_t a, size_t b) { return p[a] < p[b]; });
  std::vector<double> out(m);
  double running = 0;
  for (size_t r = 0; r < m; ++r) {
    running = std::max(running, std::min(1.0, p[order[r]] * static_cast<double>(m - r)));
    out[order[r]] = running;
  }
  return out;
}

double percentile(std::vector<double> v, double q) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return std::isnan(x); }), v.end());
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

namespace {

struct Pair {
  double accuracy, kappa;
};

Pair figures(const std::vector<int>& truth, const std::vector<int>& pred, const std::vector<size_t>& rows,
             int k) {
  std::vector<int> t, p;
  t.reserve(rows.size());
  p.reserve(rows.size());
  for (size_t r : rows) {
    t.push_back(truth[r]);
    p.push_back(pred[r]);
  }
  const Confusion c = confusion(t, p, k);
  return {accuracy(c), kappa(c, KappaWeights::kQuadratic)};
}

}  // namespace

PairedDifference paired_bootstrap(const std::vector<int>& truth, const std::vector<int>& a,
                                  const std::vector<int>& b, const std::vector<std::string>& units, int k,
                                  int resamples, uint64_t seed) {
  const size_t n = truth.size();
  if (n == 0 || a.size() != n || b.size() != n || (!units.empty() && units.size() != n))
    throw Error(
        fmt::format("paired comparison: {} truths, {} and {} predictions, {} units: need one length > 0", n,
                    a.size(), b.size(), units.size()));
  PairedDifference d;
  d.n = static_cast<int64_t>(n);
  for (size_t i = 0; i < n; ++i) {
    d.only_a += (a[i] == truth[i] && b[i] != truth[i]) ? 1 : 0;
    d.only_b += (b[i] == truth[i] && a[i] != truth[i]) ? 1 : 0;
  }
  d.mcnemar_p = mcnemar_exact(d.only_a, d.only_b);
  std::vector<size_t> all(n);
  std::iota(all.begin(), all.end(), size_t{0});
  const Pair fa = figures(truth, a, all, k), fb = figures(truth, b, all, k);
  d.accuracy_a = fa.accuracy;
  d.accuracy_b = fb.accuracy;
  d.kappa_a = fa.kappa;
  d.kappa_b = fb.kappa;
  d.accuracy_diff = fb.accuracy - fa.accuracy;
  d.kappa_diff = fb.kappa - fa.kappa;
  // Units: the images of each patient (or each image alone), in first-appearance order.
  std::vector<std::vector<size_t>> groups;
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < n; ++i) {
    if (units.empty()) {
      groups.push_back({i});
      continue;
    }
    auto [it, fresh] = index.emplace(units[i], groups.size());
    if (fresh) groups.emplace_back();
    groups[it->second].push_back(i);
  }
  d.units = static_cast<int64_t>(groups.size());
  Rng rng(seed);
  std::vector<double> acc, kap;
  for (int r = 0; r < resamples; ++r) {
    std::vector<size_t> rows;
    for (size_t g = 0; g < groups.size(); ++g) {
      const auto& pick = groups[static_cast<size_t>(rng.below(groups.size()))];
      rows.insert(rows.end(), pick.begin(), pick.end());
    }
    const Pair ra = figures(truth, a, rows, k), rb = figures(truth, b, rows, k);
    acc.push_back(rb.accuracy - ra.accuracy);
    kap.push_back(rb.kappa - ra.kappa);  // NaN when either is undefined: left out
  }
  d.accuracy_lo = percentile(acc, 0.025);
  d.accuracy_hi = percentile(acc, 0.975);
  d.kappa_lo = percentile(kap, 0.025);
  d.kappa_hi = percentile(kap, 0.975);
  return d;
}

PairedDifference compare_predictions(const Predictions& ref, const Predictions& other, int resamples,
                                     uint64_t seed) {
  if (ref.binary != other.binary)
    throw Error(fmt::format("{} is {}, {} is {}: not comparable", ref.file, ref.binary ? "binary" : "4-class",
                            other.file, other.binary ? "binary" : "4-class"));
  std::map<std::string, size_t> row_of;
  for (size_t i = 0; i < other.path.size(); ++i) row_of[other.path[i]] = i;
  std::vector<std::string> only_ref, only_other;
  std::vector<int> truth, a, b;
  std::vector<std::string> units;
  for (size_t i = 0; i < ref.path.size(); ++i) {
    auto it = row_of.find(ref.path[i]);
    if (it == row_of.end()) {
      only_ref.push_back(ref.path[i]);
      continue;
    }
    if (other.truth[it->second] != ref.truth[i])
      throw Error(fmt::format("{} and {}: {} has truth {} in one and {} in the other", ref.file, other.file,
                              ref.path[i], ref.truth[i], other.truth[it->second]));
    truth.push_back(ref.truth[i]);
    a.push_back(ref.pred[i]);
    b.push_back(other.pred[it->second]);
    if (ref.has_patient()) units.push_back(ref.patient[i]);
    row_of.erase(it);
  }
  for (const auto& [path, i] : row_of) only_other.push_back(path);
  if (!only_ref.empty() || !only_other.empty()) {
    auto some = [](const std::vector<std::string>& v) {
      return fmt::format("{} ({}{})", v.size(),
                         fmt::join(v.begin(), v.begin() + std::min<size_t>(v.size(), 5), ", "),
                         v.size() > 5 ? ", ..." : "");
    };
    throw Error(fmt::format("{} and {} hold other test images: only in the first {}; only in the second {}",
                            ref.file, other.file, some(only_ref), some(only_other)));
  }
  return paired_bootstrap(truth, a, b, units, ref.binary ? 2 : 4, resamples, seed);
}

}  // namespace oess::metrics
