// The colour-fraction comparator on a split manifest (baseline/baseline.h).
#include <fmt/format.h>

#include <atomic>
#include <mutex>

#include "oess/baseline/baseline.h"
#include "oess/core/error.h"
#include "oess/core/parallel.h"
#include "oess/data/image.h"

namespace oess::baseline {
namespace {

metrics::Predictions predictions(const data::Manifest& m, const std::vector<size_t>& samples,
                                 const std::vector<double>& fraction, const Thresholds& th,
                                 const char* what) {
  metrics::Predictions pr;
  pr.file = fmt::format("{} ({} predictions)", m.file, what);
  for (size_t i : samples) {
    const int g = th.predict(fraction[i]);
    pr.path.push_back(m.samples[i].rel_path);
    pr.truth.push_back(m.samples[i].score);
    pr.pred.push_back(g);
    std::array<double, 4> p{};
    p[static_cast<size_t>(g)] = 1;  // a hard rule
    pr.p.push_back(p);
    if (m.has_patient) pr.patient.push_back(m.samples[i].patient);
  }
  return pr;
}

// Every image's colour fraction, decoded on `threads` threads.
std::vector<double> fractions(const data::Manifest& m, int threads,
                              const std::function<void(int64_t, int64_t)>& progress, std::string& summary) {
  if (threads < 1) throw UsageError("--threads must be >= 1");
  std::vector<double> fraction(m.samples.size());
  data::DecodeNotes notes;
  std::atomic<int64_t> done{0};
  std::mutex progress_mutex;
  parallel_for(m.samples.size(), threads, [&](size_t i) {
    const cv::Mat img = data::decode_image(m.samples[i].path, &notes);
    const cv::Rect box = data::find_colour_box(img);
    if (box.area() == 0) ++notes.no_colour_box;
    fraction[i] = colour_fraction(img, box);
    std::lock_guard<std::mutex> lock(progress_mutex);
    if (progress) progress(++done, static_cast<int64_t>(m.samples.size()));
  });
  summary = notes.summary();
  return fraction;
}

}  // namespace

FoldResult run_folds(const data::Manifest& m, const data::Folds& folds, int threads,
                     const std::function<void(int64_t, int64_t)>& progress) {
  FoldResult r;
  r.fraction = fractions(m, threads, progress, r.decode_notes);
  for (int f = 0; f < folds.k; ++f) {
    std::vector<double> x;
    std::vector<int> y;
    for (size_t i : folds.train(f)) {
      x.push_back(r.fraction[i]);
      y.push_back(m.samples[i].score);
    }
    r.thresholds.push_back(fit_thresholds(x, y));
  }
  r.test = predictions(m, {}, r.fraction, {}, "out-of-fold");
  for (size_t i = 0; i < m.samples.size(); ++i) {
    const int f = folds.fold[i];
    const auto one = predictions(m, {i}, r.fraction, r.thresholds[static_cast<size_t>(f)], "out-of-fold");
    r.test.path.push_back(one.path[0]);
    r.test.truth.push_back(one.truth[0]);
    r.test.pred.push_back(one.pred[0]);
    r.test.p.push_back(one.p[0]);
    if (m.has_patient) r.test.patient.push_back(one.patient[0]);
    r.fold.push_back(f);
  }
  return r;
}

Result run(const data::Manifest& m, const data::Split& split, int threads,
           const std::function<void(int64_t, int64_t)>& progress) {
  Result r;
  r.fraction = fractions(m, threads, progress, r.decode_notes);
  std::vector<double> x;
  std::vector<int> y;
  for (size_t i : split.indices(data::Part::kTrain)) {
    x.push_back(r.fraction[i]);
    y.push_back(m.samples[i].score);
  }
  if (x.empty()) throw Error(fmt::format("{}: the split left no training images", m.file));
  r.train_images = x.size();
  r.thresholds = fit_thresholds(x, y);
  r.val = predictions(m, split.indices(data::Part::kVal), r.fraction, r.thresholds, "validation");
  r.test_samples = split.indices(data::Part::kTest);
  r.test = predictions(m, r.test_samples, r.fraction, r.thresholds, "test");
  return r;
}

}  // namespace oess::baseline
