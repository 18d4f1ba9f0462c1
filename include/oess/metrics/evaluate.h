#pragma once
// oess/metrics/evaluate.h — predictions files in, metrics.json out, every figure with a bootstrap CI.
//
// read_predictions(csv)
//   The predictions contract: `path,truth,pred,p0,p1,p2,p3` (4-class) or `path,truth,pred,p1` (binary,
//   p1 = P(diseased)); optional `patient`; other columns ignored. The kind is told by the columns.
//   errors (oess::Error "FILE:LINE: ..."): a missing column, a value that is not a number, a label outside
//   0..3 (0..1 binary), probabilities outside [0, 1] or not summing to 1 within 1e-4, a duplicate path.
// roc_auc(y, score): area under the ROC curve, tied scores counted half (as scikit-learn); NaN with only
//   one class present.
// evaluate(predictions, bootstrap, seed) -> metrics.json text (contract, docs/formats.md): n, accuracy,
//   per_class_accuracy, mean_per_class_accuracy, confusion (rows = truth), kappa {unweighted, linear,
//   quadratic} on the fixed OESS scale; binary files (and the healthy/diseased view of 4-class files, under
//   "binary") add sensitivity, specificity, auc and kappa. Every figure <name> gets <name>_ci95 = [lo, hi]:
//   percentile bootstrap, `bootstrap` resamples (seeded), resampling patients (all their images together)
//   when a patient column exists, else images. A resample where a figure is undefined (e.g. one class only)
//   is left out of that figure's interval; NaN figures are written as null.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace oess::metrics {

struct Predictions {
  std::string file;
  bool binary = false;
  std::vector<std::string> path, patient;
  std::vector<int> truth, pred;
  std::vector<std::array<double, 4>> p;  // binary: p[0] = 1 - p1, p[1] = p1
  bool has_patient() const { return !patient.empty(); }
};

Predictions read_predictions(const std::string& csv);

double roc_auc(const std::vector<int>& y, const std::vector<double>& score);

std::string evaluate(const Predictions& pr, int bootstrap = 2000, uint64_t seed = 0);

}  // namespace oess::metrics
