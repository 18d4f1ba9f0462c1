#include "oess/metrics/agreement.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace oess::metrics {

double icc_2_1(const std::vector<double>& a, const std::vector<double>& b) {
  const size_t n = std::min(a.size(), b.size());
  if (n < 2) return std::numeric_limits<double>::quiet_NaN();
  const double k = 2;
  double gm = 0, ca = 0, cb = 0;
  for (size_t i = 0; i < n; ++i) {
    ca += a[i];
    cb += b[i];
  }
  gm = (ca + cb) / (k * n);
  ca /= n;
  cb /= n;
  double ssr = 0, sst = 0;
  for (size_t i = 0; i < n; ++i) {
    const double rm = (a[i] + b[i]) / k;
    ssr += k * (rm - gm) * (rm - gm);
    sst += (a[i] - gm) * (a[i] - gm) + (b[i] - gm) * (b[i] - gm);
  }
  const double ssc = n * ((ca - gm) * (ca - gm) + (cb - gm) * (cb - gm));
  const double sse = sst - ssr - ssc;
  const double msr = ssr / (n - 1.0), msc = ssc / (k - 1), mse = sse / ((n - 1.0) * (k - 1));
  const double den = msr + (k - 1) * mse + k * (msc - mse) / n;
  return den == 0 ? std::numeric_limits<double>::quiet_NaN() : (msr - mse) / den;
}

SignedRank wilcoxon_signed_rank(const std::vector<double>& d_all) {
  std::vector<double> d;
  for (double x : d_all)
    if (x != 0) d.push_back(x);
  SignedRank r;
  r.n = static_cast<int>(d.size());
  if (d.empty()) {
    r.p = std::numeric_limits<double>::quiet_NaN();
    return r;
  }
  const size_t n = d.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t x, size_t y) { return std::abs(d[x]) < std::abs(d[y]); });
  std::vector<double> rank(n);
  bool ties = false;
  double tie_term = 0;  // sum over tie groups of t (t^2 - 1)
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j + 1 < n && std::abs(d[order[j + 1]]) == std::abs(d[order[i]])) ++j;
    const double t = static_cast<double>(j - i + 1);
    if (t > 1) {
      ties = true;
      tie_term += t * (t * t - 1);
    }
    for (size_t k = i; k <= j; ++k)
      rank[order[k]] = (static_cast<double>(i) + static_cast<double>(j)) / 2 + 1;
    i = j + 1;
  }
  double rp = 0, rm = 0;
  for (size_t i = 0; i < n; ++i) (d[i] > 0 ? rp : rm) += rank[i];
  r.statistic = std::min(rp, rm);
  const double nn = static_cast<double>(n);
  if (n <= 50 && !ties) {
    r.exact = true;
    // Number of sign patterns giving each R+ = number of subsets of {1..n} with that sum.
    const int max_sum = static_cast<int>(n * (n + 1) / 2);
    std::vector<double> count(static_cast<size_t>(max_sum) + 1, 0);
    count[0] = 1;
    for (int k = 1; k <= static_cast<int>(n); ++k)
      for (int s = max_sum; s >= k; --s) count[static_cast<size_t>(s)] += count[static_cast<size_t>(s - k)];
    const double total = std::pow(2.0, nn);
    const int rplus = static_cast<int>(rp);
    if (rplus == max_sum / 2 && max_sum % 2 == 0 && 2 * rplus == max_sum) {
      r.p = 1.0;
    } else {
      double less = 0, greater = 0;
      for (int s = 0; s <= max_sum; ++s) {
        if (s <= rplus) less += count[static_cast<size_t>(s)];
        if (s >= rplus) greater += count[static_cast<size_t>(s)];
      }
      r.p = std::min(1.0, 2 * std::min(less, greater) / total);
    }
    return r;
  }
  const double mean = nn * (nn + 1) / 4;
  const double var = (nn * (nn + 1) * (2 * nn + 1) - 0.5 * tie_term) / 24;
  const double z = (r.statistic - mean) / std::sqrt(var);
  r.p = std::erfc(std::abs(z) / std::sqrt(2.0));  // 2 * (1 - Phi(|z|))
  return r;
}

}  // namespace oess::metrics
