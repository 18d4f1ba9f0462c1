#pragma once
// oess/train/sweep.h — one classifier per tap (the study's supplementary table 1), the best tap chosen on
// validation only.
//
// sweep(features, rows, grades, options, threads)
//   rows.train may repeat rows (oversampled copies); grades[i] is feature row i's grade.
//   ensures: one TapResult per tap of `features`, in its order: the early-stopped classifier, validation
//   accuracy, test accuracy, per-class test accuracy, test quadratic kappa, test probabilities; `best` = the
//   tap with the highest validation accuracy (ties: lower validation loss, then earlier tap) — the test
//   set never takes part in the choice.
//   Taps train in parallel on `threads` threads, one LibTorch thread each, so results do not depend on
//   `threads`. progress(done, total), if given, is called (serialised) as each tap finishes.
#include <torch/types.h>

#include <functional>
#include <string>
#include <vector>

#include "oess/features/feature_file.h"
#include "oess/train/classifier.h"

namespace oess::train {

struct Rows {
  std::vector<int64_t> train, val, test;
  torch::Tensor
      soft;  // data.label: soft: per feature row its readers' grade distribution [rows, 4]; else none
};

struct TapResult {
  std::string tap;
  TrainResult fit;
  double val_accuracy = 0, val_loss = 0, test_accuracy = 0, test_kappa_quadratic = 0;
  std::vector<double> test_per_class;
  torch::Tensor test_probabilities;  // [test rows, K]
};

struct SweepResult {
  std::vector<TapResult> taps;
  size_t best = 0;
};

// One tap's classifier, as sweep trains each (on the calling thread's LibTorch threads; sweep sets 1), for
// callers that schedule many sweeps' taps together (K-fold: folds x taps on one pool).
TapResult fit_tap(const features::FeatureSet& f, const std::string& tap, const Rows& rows,
                  const std::vector<int>& grades, const TrainOptions& o);
// The best tap on validation: highest accuracy, ties the lower validation loss, then the earlier tap.
size_t best_tap(const std::vector<TapResult>& taps);

SweepResult sweep(const features::FeatureSet& f, const Rows& rows, const std::vector<int>& grades,
                  const TrainOptions& options, int threads = 2,
                  const std::function<void(int64_t, int64_t)>& progress = {});

// Rows of `x` at `idx`, and their grades.
torch::Tensor take_rows(const torch::Tensor& x, const std::vector<int64_t>& idx);
std::vector<int> take_grades(const std::vector<int>& grades, const std::vector<int64_t>& idx);

// While alive, LibTorch computes on one thread per calling thread, and the BLAS (platform::set_blas_threads)
// on one thread: fits run side by side, and a BLAS pool per fit would fight them for the cores. The counts
// before are restored when it goes (also on an exception). Taken before parallel_for starts its workers, so
// that a nested sweep, which takes one too, saves and restores 1.
class OneTorchThread {
 public:
  OneTorchThread();
  ~OneTorchThread();
  OneTorchThread(const OneTorchThread&) = delete;
  OneTorchThread& operator=(const OneTorchThread&) = delete;

 private:
  int before_, blas_before_;
};

}  // namespace oess::train
