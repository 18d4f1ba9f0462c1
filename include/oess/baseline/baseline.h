#pragma once
// oess/baseline/baseline.h — the classical comparator: how far does counting colour pixels get?
//
// For each image: the fraction of colour-Doppler pixels (max - min channel >= 60; B-mode is grey) inside the
// colour box (found from its outline, data/image.h; the whole image when there is none). Three thresholds
// t1 <= t2 <= t3, fitted on the training split, turn a fraction into a grade: the number of thresholds
// it reaches. fit_thresholds finds, exactly (dynamic programming over the sorted fractions), the monotone
// assignment that maximises the class-balanced accuracy on the training rows — mean per-class accuracy,
// the study's headline figure — and places each threshold midway between the neighbouring fractions.
#include <array>
#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

#include <cstdint>
#include <functional>

#include "oess/data/folds.h"
#include "oess/data/manifest.h"
#include "oess/data/split.h"
#include "oess/metrics/evaluate.h"

namespace oess::baseline {

double colour_fraction(const cv::Mat& bgr8, const cv::Rect& box);

struct Thresholds {
  std::array<double, 3> t{};  // -inf / +inf when a grade is never predicted at its side
  int predict(double fraction) const;
};

// requires: x and grades (0..3) of equal, non-zero length. balanced: weight each row by 1 / its grade's
// count.
Thresholds fit_thresholds(const std::vector<double>& x, const std::vector<int>& grades, bool balanced = true);

// The whole comparator on a split manifest: each image's colour fraction (decoded on `threads` threads),
// thresholds fitted on the training part, hard predictions (probability 1 on the predicted grade) of the
// validation and test parts in the predictions contract (with the patient column when the manifest has
// one). Throws Error naming the manifest when the split leaves no training image.
struct Result {
  std::vector<double> fraction;  // per manifest sample
  Thresholds thresholds;
  size_t train_images = 0;
  std::string decode_notes;  // data::DecodeNotes::summary()
  metrics::Predictions val, test;
  std::vector<size_t> test_samples;  // manifest index of each test prediction
};
Result run(const data::Manifest& m, const data::Split& split, int threads,
           const std::function<void(int64_t done, int64_t total)>& progress = {});

// Cross-validated: the fractions once, then per fold thresholds fitted on every image outside the fold (the
// comparator selects nothing, so no validation part is held out) and predictions of the fold's images.
// test: every image once, manifest order (out of fold); fold[k]: the fold of test row k.
struct FoldResult {
  std::vector<double> fraction;
  std::string decode_notes;
  std::vector<Thresholds> thresholds;  // per fold
  metrics::Predictions test;
  std::vector<int> fold;
};
FoldResult run_folds(const data::Manifest& m, const data::Folds& folds, int threads,
                     const std::function<void(int64_t done, int64_t total)>& progress = {});

}  // namespace oess::baseline
