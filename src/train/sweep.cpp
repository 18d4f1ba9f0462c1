#include "oess/train/sweep.h"

#include <mutex>

#include <fmt/format.h>
#include <torch/torch.h>

#include "oess/core/error.h"
#include "oess/core/parallel.h"
#include "oess/metrics/metrics.h"
#include "oess/platform/platform.h"

namespace oess::train {

torch::Tensor take_rows(const torch::Tensor& x, const std::vector<int64_t>& idx) {
  return x.index_select(0, torch::tensor(idx, torch::kLong));
}

std::vector<int> take_grades(const std::vector<int>& grades, const std::vector<int64_t>& idx) {
  std::vector<int> out;
  for (int64_t i : idx) out.push_back(grades.at(static_cast<size_t>(i)));
  return out;
}

OneTorchThread::OneTorchThread() : before_(torch::get_num_threads()) {
  torch::set_num_threads(1);
  blas_before_ = platform::set_blas_threads(1);
}
// The BLAS first: OpenBLAS's OpenMP build sets the calling thread's OpenMP count too, which LibTorch's own
// count then overrides with its value.
OneTorchThread::~OneTorchThread() {
  platform::set_blas_threads(blas_before_);
  torch::set_num_threads(before_);
}

TapResult fit_tap(const features::FeatureSet& f, const std::string& tap, const Rows& rows,
                  const std::vector<int>& grades, const TrainOptions& o) {
  const auto& raw = f.data.at(tap);
  // Clips with a frame-level classifier keep their frames' rows [N, F, C]; other features are flat rows.
  const auto x =
      (o.aggregate != "none" && raw.dim() == 3 ? raw : raw.reshape({f.rows(), -1})).to(torch::kFloat32);
  TapResult t;
  t.tap = tap;
  t.fit = train_classifier(take_rows(x, rows.train), take_grades(grades, rows.train), take_rows(x, rows.val),
                           take_grades(grades, rows.val), o,
                           rows.soft.defined() ? take_rows(rows.soft, rows.train) : torch::Tensor());
  t.val_accuracy = t.fit.best_val_accuracy;
  t.val_loss = t.fit.best_val_loss;
  if (!rows.test.empty()) {
    torch::NoGradGuard no_grad;
    t.test_probabilities = t.fit.model.probabilities(take_rows(x, rows.test));
    const auto pred_t = t.test_probabilities.argmax(1);
    std::vector<int> truth, pred;
    for (size_t k = 0; k < rows.test.size(); ++k) {
      truth.push_back(target_of(grades[static_cast<size_t>(rows.test[k])], o.task));
      pred.push_back(static_cast<int>(pred_t[static_cast<int64_t>(k)].item<int64_t>()));
    }
    const auto c = metrics::confusion(truth, pred, num_classes(o.task));
    t.test_accuracy = metrics::accuracy(c);
    t.test_per_class = metrics::per_class_accuracy(c);
    t.test_kappa_quadratic = metrics::kappa(c, metrics::KappaWeights::kQuadratic);
  }
  return t;
}

size_t best_tap(const std::vector<TapResult>& taps) {
  size_t best = 0;
  for (size_t i = 1; i < taps.size(); ++i) {
    const auto& a = taps[i];
    const auto& b = taps[best];
    if (a.val_accuracy > b.val_accuracy || (a.val_accuracy == b.val_accuracy && a.val_loss < b.val_loss))
      best = i;
  }
  return best;
}

SweepResult sweep(const features::FeatureSet& f, const Rows& rows, const std::vector<int>& grades,
                  const TrainOptions& o, int threads, const std::function<void(int64_t, int64_t)>& progress) {
  validate(o);
  if (static_cast<int64_t>(grades.size()) != f.rows())
    throw Error(fmt::format("sweep: {} grades for {} feature rows", grades.size(), f.rows()));
  SweepResult r;
  r.taps.resize(f.taps.size());
  std::mutex progress_mutex;
  int64_t done = 0;
  {
    OneTorchThread single;  // one LibTorch thread per classifier: parallel over taps, deterministic
    parallel_for(f.taps.size(), threads, [&](size_t i) {
      r.taps[i] = fit_tap(f, f.taps[i], rows, grades, o);
      if (progress) {
        std::lock_guard<std::mutex> lock(progress_mutex);
        progress(++done, static_cast<int64_t>(f.taps.size()));
      }
    });
  }
  r.best = best_tap(r.taps);
  return r;
}

}  // namespace oess::train
