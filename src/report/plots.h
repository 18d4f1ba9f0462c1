#pragma once
// src/report/plots.h — the report's plots as BGR images; private to the report area.
#include <opencv2/core/mat.hpp>

#include <string>
#include <vector>

#include "oess/report/report.h"

namespace oess::report {

std::string png(const cv::Mat& m);
// Rows = truth; cell colour by the row's share, count and share written in.
cv::Mat confusion_plot(const std::vector<std::vector<long>>& cm, const std::vector<std::string>& names,
                       const std::string& title);
cv::Mat roc_plot(const std::vector<int>& truth, const std::vector<double>& score, double auc,
                 const std::string& what);  // what: the two sides, e.g. "grades 0-1 vs 2-3"
cv::Mat tap_chart(const std::vector<TapRow>& taps);
// K-fold: per tap the validation mean (orange), the test mean +- sd over folds (blue) and each fold (grey).
cv::Mat tap_fold_chart(const std::vector<TapRow>& taps);
cv::Mat curve_plot(const std::vector<Curve>& curves);
// Reliability diagram: per bin the share right against the mean confidence (dot area ~ images), the
// diagonal where they agree, the bins' edges as bars.
// With `before` (calibrated runs): those bins too, as grey rings, and both ECEs in the title.
cv::Mat reliability_plot(const std::vector<metrics::ReliabilityBin>& bins, double ece,
                         const std::string& what, const std::vector<metrics::ReliabilityBin>& before = {},
                         double ece_before = 0);
// One example per confusion cell (truth row, prediction column), 4x4 thumbnails.
cv::Mat examples(const ReportInputs& in);

}  // namespace oess::report
