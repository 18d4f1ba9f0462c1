#pragma once
// oess/report/report.h — report.md and a self-contained report.html (plots embedded as PNG data URIs, no
// scripts, no external assets) in the layout of the study's tables, every figure with its 95% CI, beside the
// study's published figures (labelled as different data).
//
// write_report(dir, inputs) writes dir/report.md, dir/report.html and dir/plots/*.png: confusion heat-maps
// (4-class and healthy/diseased), the ROC curve with its AUC, the per-tap accuracy chart with CIs, the
// training curves, and a thumbnail of an example image for each confusion cell.
#include <array>
#include <string>
#include <vector>

#include "oess/metrics/evaluate.h"

namespace oess::report {

struct TapRow {
  std::string tap;
  double val_accuracy = 0, test_accuracy = 0, kappa_quadratic = 0;
  std::array<double, 2> test_accuracy_ci{};
  std::vector<double> per_class;  // test
  std::vector<std::array<double, 2>> per_class_ci;
  std::array<double, 2> kappa_ci{};
  int best_epoch = 0;
  bool best = false;
  std::string weights;  // "ImageNet" / "not ImageNet" when the weights file says; "" (no column) otherwise
};

struct Curve {
  std::string tap;
  std::vector<double> val_accuracy;  // per epoch, from 1
};

struct ReportInputs {
  std::string title;
  std::vector<std::string> notes;                    // shown prominently (e.g. no ImageNet weights)
  std::array<std::array<int, 4>, 3> split_counts{};  // train, val, test x grade (Table 1)
  std::array<int, 4> train_balanced{};               // Table 2
  std::string balance;                               // how
  std::vector<TapRow> taps;                          // supplementary table
  std::vector<Curve> curves;
  std::string final_label;              // e.g. "ensemble of 10 on mixed4"
  metrics::Metrics metrics;             // the final test predictions' (metrics::evaluate)
  std::vector<std::string> test_paths;  // for thumbnails (readable image files)
  std::vector<int> test_truth, test_pred, test_binary_vote;
  std::vector<double> test_p_diseased;
  bool write_md = true, write_html = true;  // plots/ are written either way
};

void write_report(const std::string& dir, const ReportInputs& in);

// RFC 4648 base64, for data URIs.
std::string base64(const std::string& bytes);

}  // namespace oess::report
