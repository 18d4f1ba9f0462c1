#pragma once
// oess/metrics/paired.h — is one model better than another on the same test images? Paired statistics for
// ablation grids (docs/ablation.md).
//
// mcnemar_exact(b, c)
//   The exact (binomial) McNemar test on the discordant pairs: b images only A got right, c only B. Under
//   "no difference" b ~ Binomial(b + c, 1/2); two-sided p = min(1, 2 P(X <= min(b, c))). No discordant pair:
//   p = 1.
// paired_bootstrap(truth, a, b, units, k, resamples, seed)
//   The difference B - A in accuracy and in quadratic-weighted kappa (k classes), and their percentile 95%
//   intervals over `resamples` bootstrap resamples of the units (patients, or images when `units` is empty):
//   each resample draws units with replacement and keeps every image of a drawn unit with BOTH models'
//   predictions, so the pairing survives resampling. A resample where a kappa is undefined (one class only)
//   is left out of the kappa interval. requires: truth, a, b (and units, when given) of one length > 0.
// compare_predictions(ref, other, resamples, seed)
//   paired_bootstrap on two predictions files (evaluate.h) of the same test images: rows matched by path,
//   patients as units when the reference has them, k = 2 for binary files, 4 otherwise.
//   errors (oess::Error naming both files): other image sets (the paths only one holds, first 5), a path
//   whose truth differs, a binary file against a 4-class one.
// holm(p)
//   Holm's step-down adjustment: sorted ascending, p_(i) * (m - i + 1), made monotone, capped at 1; returned
//   in the input's order.
#include <cstdint>
#include <string>
#include <vector>

#include "oess/metrics/evaluate.h"

namespace oess::metrics {

double mcnemar_exact(int64_t b, int64_t c);

struct PairedDifference {
  int64_t n = 0;
  int64_t only_a = 0, only_b = 0;  // discordant pairs: right by A only, right by B only
  double accuracy_a = 0, accuracy_b = 0, kappa_a = 0, kappa_b = 0;
  double accuracy_diff = 0, accuracy_lo = 0, accuracy_hi = 0;  // B - A
  double kappa_diff = 0, kappa_lo = 0, kappa_hi = 0;           // B - A, quadratic weights
  double mcnemar_p = 1;
  int64_t units = 0;  // resampled units
};

PairedDifference paired_bootstrap(const std::vector<int>& truth, const std::vector<int>& a,
                                  const std::vector<int>& b, const std::vector<std::string>& units, int k,
                                  int resamples, uint64_t seed);

PairedDifference compare_predictions(const Predictions& ref, const Predictions& other, int resamples,
                                     uint64_t seed);

std::vector<double> holm(const std::vector<double>& p);

// Percentile q in [0, 1] of the finite values (linear interpolation between order statistics, numpy's
// default); NaN when none. Shared with evaluate's bootstrap intervals.
double percentile(std::vector<double> v, double q);

}  // namespace oess::metrics
