#pragma once
// oess/metrics/evaluate.h — predictions files in, metrics.json out, every figure with a bootstrap CI.
//
// read_predictions(csv)
//   The predictions contract: `path,truth,pred,p0,p1,p2,p3` (4-class) or `path,truth,pred,p1` (binary,
//   p1 = P(diseased)); optional `patient`; other columns ignored. The kind is told by the columns.
//   errors (oess::Error "FILE:LINE: ..."): a missing column, a value that is not a number, a label outside
//   0..3 (0..1 binary), probabilities outside [0, 1] or not summing to 1 within 1e-4, a duplicate path.
//   Other columns are kept (Predictions::extra, by header name) for per-group figures.
// roc_auc(y, score): area under the ROC curve, tied scores counted half (as scikit-learn); NaN with only
//   one class present.
// evaluate(predictions, bootstrap, seed) -> Metrics; Metrics::to_json() is metrics.json (contract,
//   docs/formats.md): n, accuracy,
//   per_class_accuracy, mean_per_class_accuracy, confusion (rows = truth), kappa {unweighted, linear,
//   quadratic} on the fixed OESS scale; binary files (and the healthy/diseased view of 4-class files, under
//   "binary") add sensitivity, specificity, auc and kappa. Every figure <name> gets <name>_ci95 = [lo, hi]:
//   percentile bootstrap, `bootstrap` resamples (seeded), resampling patients (all their images together)
//   when a patient column exists, else images. A resample where a figure is undefined (e.g. one class only)
//   is left out of that figure's interval; NaN figures are written as null.
//   Also (issue #32): balanced_accuracy (scikit-learn's: the mean recall over the grades present), the
//   grade errors (mae, within_one, off_by_two_or_more: metrics.h), per_grade one-vs-rest sensitivity and
//   specificity, brier and ece with the reliability table (calibration.h); the binary view gains
//   balanced_accuracy, brier, ece and its reliability table.
// evaluate_by(predictions, column, bootstrap, seed) -> the same figures for each value of a column (a
//   scanner, a centre), groups sorted by value, each flagged `too_small` (the reason) when it has fewer than
//   kMinGroupImages images or kMinGroupUnits resampling units: its figures are printed but not to be judged.
//   errors: UsageError (exit 2) when the column is not in the file (the others are listed) or holds one
//   group only; Error (exit 1) for an empty cell (file and line named).
#include <array>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "oess/metrics/agreement.h"
#include "oess/metrics/calibration.h"
#include "oess/metrics/metrics.h"

namespace oess::metrics {

struct Predictions {
  std::string file;
  bool binary = false;
  std::vector<std::string> path, patient;
  std::vector<int> truth, pred;
  std::vector<std::array<double, 4>> p;         // binary: p[0] = 1 - p1, p[1] = p1
  std::vector<int> line;                        // the CSV line of each row
  std::vector<std::string> extra_columns;       // the other columns, in file order
  std::vector<std::vector<std::string>> extra;  // extra[column][row]
  bool has_patient() const { return !patient.empty(); }
  // An extra column's values, one per row; nullptr when the file has no such column.
  const std::vector<std::string>* column(const std::string& name) const;
  // The rows given, in that order (a group's predictions).
  Predictions subset(const std::vector<size_t>& rows) const;
};

Predictions read_predictions(const std::string& csv);

// The healthy (0-1) / diseased (2-3) view of 4-class predictions, P(diseased) = p2 + p3; binary ones as
// they are.
Predictions healthy_diseased_view(const Predictions& pr);

double roc_auc(const std::vector<int>& y, const std::vector<double>& score);

// A figure and its percentile-bootstrap 95% interval. NaN: undefined (written as null); no interval when
// there were no resamples.
struct Interval {
  double lo = NAN, hi = NAN;
};
struct Figure {
  double value = NAN;
  std::optional<Interval> ci95;
};

// Healthy (grades 0-1) / diseased (2-3): the binary task's figures, or the 4-class task's binary view.
struct BinaryFigures {
  Figure accuracy, sensitivity, specificity, auc, kappa;
  Figure balanced_accuracy, brier, ece;
  Confusion confusion;                      // 2 x 2, rows = truth
  std::vector<ReliabilityBin> reliability;  // of the called class's probability
};

struct GradeFigures {
  Figure sensitivity, specificity;  // this grade against the others
};

struct GroupTable;

struct PatientSums {
  std::string patient;
  double truth = 0, pred = 0;  // sums over the patient's images
};
struct PerPatient {
  size_t patients = 0;
  std::string score;  // "sum of OESS grades" | "number of diseased images"
  double icc_2_1 = NAN, mean_difference = NAN;
  SignedRank wilcoxon;
  std::vector<PatientSums> rows;  // sorted by patient
};

struct Metrics {
  size_t n = 0;
  bool binary = false;
  struct {
    int resamples = 0;
    std::string unit;  // "patient" | "image"
    size_t units = 0;
    uint64_t seed = 0;
  } bootstrap;
  std::optional<PerPatient> per_patient;  // when the predictions have a patient column
  // 4-class task (binary task: accuracy = healthy_diseased.accuracy, the rest unset).
  Figure accuracy;
  std::array<Figure, 4> per_class_accuracy;
  Figure mean_per_class_accuracy;
  Confusion confusion;  // 4 x 4, rows = truth
  Figure kappa_unweighted, kappa_linear, kappa_quadratic;
  Figure balanced_accuracy, mae, within_one, off_by_two_or_more, brier, ece;
  std::array<GradeFigures, 4> per_grade;
  std::vector<ReliabilityBin> reliability;  // of the predicted grade's probability
  BinaryFigures healthy_diseased;
  std::vector<GroupTable> by;  // evaluate_by's tables, when asked for

  std::string to_json() const;  // metrics.json, two-space indented, ending in a newline
};

constexpr size_t kMinGroupImages = 30, kMinGroupUnits = 10;

struct GroupFigures {
  std::string group;      // the column's value
  std::string too_small;  // why its figures are not to be judged; empty when they are
  Metrics metrics;
};
struct GroupTable {
  std::string column;
  std::vector<GroupFigures> groups;
};

Metrics evaluate(const Predictions& pr, int bootstrap = 2000, uint64_t seed = 0);

// The rows the model gets most wrong, for the report's error gallery: wrong rows only, the largest grade
// error first (|pred - truth|; binary: 1), then the most confident (the called class's probability), then
// path order; at most n. `rows`: limit to these (a group's), all rows when empty.
std::vector<size_t> worst_errors(const Predictions& pr, size_t n, const std::vector<size_t>& rows = {});
GroupTable evaluate_by(const Predictions& pr, const std::string& column, int bootstrap = 2000,
                       uint64_t seed = 0);

}  // namespace oess::metrics
