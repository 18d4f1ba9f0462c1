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

}  // namespace

Result run(const data::Manifest& m, const data::Split& split, int threads,
           const std::function<void(int64_t, int64_t)>& progress) {
  if (threads < 1) throw UsageError("--threads must be >= 1");
  Result r;
  r.fraction.resize(m.samples.size());
  data::DecodeNotes notes;
  std::atomic<int64_t> done{0};
  std::mutex progress_mutex;
  parallel_for(m.samples.size(), threads, [&](size_t i) {
    const cv::Mat img = data::decode_image(m.samples[i].path, &notes);
    const cv::Rect box = data::find_colour_box(img);
    if (box.area() == 0) ++notes.no_colour_box;
    r.fraction[i] = colour_fraction(img, box);
    std::lock_guard<std::mutex> lock(progress_mutex);
    if (progress) progress(++done, static_cast<int64_t>(m.samples.size()));
  });
  r.decode_notes = notes.summary();
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
