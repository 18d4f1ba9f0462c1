#pragma once
// oess/metrics/metrics.h — agreement between expert scores and predictions (torch-free).
//
// A Confusion holds counts m[truth][pred] for k classes (rows = truth, as in the study's tables).
//   accuracy                 trace / n
//   per_class_accuracy[c]    m[c][c] / row c total (recall); NaN for a class with no true samples
//   mean_per_class_accuracy  mean of per_class_accuracy over classes that occur in the truth
//   kappa(w)                 Cohen's kappa 1 - sum(w O) / sum(w E), E = row x column totals / n, with weights
//                            w_ij = [i != j] (unweighted), |i - j| / (k - 1) (linear), ((i - j) / (k - 1))^2
//                            (quadratic); NaN when sum(w E) = 0 (as scikit-learn)
//   sensitivity/specificity  binary (k = 2, class 1 = diseased): m11 / (m10 + m11), m00 / (m00 + m01)
//   one_vs_rest(c, g)        grade g against the others: sensitivity m[g][g] / row g, specificity = the share
//                            of images of other grades not called g; NaN where the denominator is 0
//   grade errors             on the ordinal scale, |pred - truth| in grades: mean_absolute_error, the share
//                            within one grade (|e| <= 1) and the share off by two or more (|e| >= 2); NaN
//                            when empty
#include <string>
#include <vector>

namespace oess::metrics {

enum class KappaWeights { kUnweighted, kLinear, kQuadratic };

struct Confusion {
  int k = 0;
  std::vector<std::vector<long>> m;  // m[truth][pred]
  long n() const;
};

// requires: every label in [0, k), truth and pred the same length.
Confusion confusion(const std::vector<int>& truth, const std::vector<int>& pred, int k);

double accuracy(const Confusion& c);
std::vector<double> per_class_accuracy(const Confusion& c);
double mean_per_class_accuracy(const Confusion& c);
double kappa(const Confusion& c, KappaWeights w);
double sensitivity(const Confusion& c);
double specificity(const Confusion& c);

struct SensSpec {
  double sensitivity, specificity;
};
SensSpec one_vs_rest(const Confusion& c, int grade);

double mean_absolute_error(const std::vector<int>& truth, const std::vector<int>& pred);
double share_within(const std::vector<int>& truth, const std::vector<int>& pred, int grades);
double share_off_by_at_least(const std::vector<int>& truth, const std::vector<int>& pred, int grades);

// The study's binary view of OESS grades: 0-1 healthy (0), 2-3 diseased (1).
std::vector<int> to_binary(const std::vector<int>& grades);

// Table: the confusion matrix with per-class accuracy, as the study's Table 4 lays it out.
std::string format_confusion(const Confusion& c, const std::vector<std::string>& names);

}  // namespace oess::metrics
