#pragma once
// oess/metrics/agreement.h — agreement on per-patient sums (torch-free).
//
// icc_2_1(a, b): Shrout & Fleiss ICC(2,1) — two-way random effects, absolute agreement, one rater — for
//   two raters scoring the same n subjects: (MSR - MSE) / (MSR + MSE + 2 (MSC - MSE) / n). NaN when n < 2
//   or the denominator is 0.
// wilcoxon_signed_rank(d): two-sided test that the differences d are centred on 0. Zero differences are
//   dropped; ranks of |d| are averaged over ties; statistic = min(R+, R-). p: exact (the distribution of
//   R+ over all sign patterns) when at most 50 differences remain and none are tied, else the normal
//   approximation with the tie correction of the variance and no continuity correction (scipy.stats.wilcoxon
//   agrees in both regimes; scipy 1.10 also uses its exact table when |d| has ties, truncating R+, which
//   oess does not). NaN p when no non-zero difference remains.
#include <string>
#include <vector>

namespace oess::metrics {

double icc_2_1(const std::vector<double>& a, const std::vector<double>& b);

struct SignedRank {
  double statistic = 0, p = 0;
  int n = 0;  // non-zero differences
  bool exact = false;
};
SignedRank wilcoxon_signed_rank(const std::vector<double>& d);

}  // namespace oess::metrics
