#pragma once
// oess/report/report.h — report.md and a self-contained report.html (plots embedded as PNG data URIs, no
// scripts, no external assets) in the layout of the study's tables, every figure with its 95% CI, beside the
// study's published figures (labelled as different data).
//
// write_report(dir, inputs) writes dir/report.md, dir/report.html and dir/plots/*.png: confusion heat-maps
// (4-class and healthy/diseased), the ROC curve with its AUC, the per-tap accuracy chart with CIs, the
// training curves, and a thumbnail of an example image for each confusion cell.
#include <array>
#include <opencv2/core/mat.hpp>
#include <string>
#include <vector>

#include "oess/core/warning.h"
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
  // K-fold runs: the row's accuracies are pooled out of fold (val_accuracy: mean over folds); these give the
  // spread over folds and how many folds chose the tap.
  std::vector<double> fold_test_accuracy;
  double val_sd = 0, test_mean = 0, test_sd = 0, kappa_mean = 0, kappa_sd = 0;
  int chosen = -1;
};

// One fold of a K-fold run: its parts' sizes, the tap it chose on its own validation and its test figures.
struct FoldRow {
  int repeat = 1, fold = 1;
  std::array<int, 4> test_counts{};
  int train = 0, val = 0;
  std::string tap;
  double val_accuracy = 0, accuracy = 0, kappa = 0;
};

struct CrossValidation {
  int folds = 0;  // 0: not a K-fold run
  int repeats = 1;
  bool grouped = false, from_column = false;
  double val_fraction = 0;
  std::vector<FoldRow> rows;
  std::string refit_tap;  // chosen by the most folds: the exported model's, refit on every image
  int refit_chosen = 0;
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
  CrossValidation cross_validation;         // K-fold runs: Table 1 becomes the per-fold table
  std::vector<RunWarning> warnings;         // shown at the top, each with its code
  std::vector<std::string> readers;         // data.readers: their agreement, the model as a reader (lines)
  std::vector<std::string> dataset;         // the data check's summary lines: the "Dataset" section
  bool beside_study = true;                 // the "Beside the study" section (the study's published figures)
  bool write_md = true, write_html = true;  // plots/ are written either way
  bool gallery = false;                     // the export stage writes gallery.html: say where
  std::string scale = "OESS";               // report.scale: the grading scale's name in titles
  std::vector<std::string> binary_names;    // report.binary_names for grades 0-1 and 2-3 (empty: the default)
  // calibration.method set: the reliability of the test probabilities before it (drawn beside the after).
  std::vector<metrics::ReliabilityBin> reliability_before;
  double ece_before = 0;
  std::string calibration;  // "temperature" or "platt" ("": none)
};

void write_report(const std::string& dir, const ReportInputs& in);

// The error gallery (issue #32): the test images the model gets most wrong (metrics::worst_errors), each with
// the expert's grade, the model's, its probabilities, the image and its heat map. write_gallery writes
// dir/gallery.md and a self-contained dir/gallery.html (images as data URIs), and the thumbnails to
// dir/plots/gallery/; one section for all test images, then one per group of each evaluate.by column.
struct GalleryItem {
  std::string path;  // as predictions.csv names it
  std::string file;  // the image file to show
  int truth = 0, pred = 0;
  std::vector<double> p;
  std::string heat_png;  // the heat-map overlay (PNG bytes); empty: none
};
struct GallerySection {
  std::string title;
  std::vector<GalleryItem> items;
};
struct GalleryInputs {
  std::string title;
  std::vector<std::string> notes;  // how the images were chosen; the heat map's method, or why there is none
  std::vector<std::string> class_names;
  std::vector<GallerySection> sections;
};
void write_gallery(const std::string& dir, const GalleryInputs& in);

// A clip's frames scored one by one (oess score, issue #33): each class's probability over the sampled
// frames (x: the frame index), the key frame marked. requires: p[f] has 4 (grades) or 2 (binary) entries.
cv::Mat clip_plot(const std::vector<int>& frames, const std::vector<std::vector<double>>& p, int key_frame,
                  const std::string& title);

// RFC 4648 base64, for data URIs.
std::string base64(const std::string& bytes);

}  // namespace oess::report
