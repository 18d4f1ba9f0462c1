// `oess baseline`: colour-pixel fraction in the colour box, thresholds fitted on training images.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "oess/baseline/baseline.h"
#include "oess/core/atomic_file.h"
#include "oess/core/error.h"
#include "oess/core/parallel.h"
#include "oess/core/progress.h"
#include "oess/data/image.h"
#include "oess/data/manifest.h"
#include "oess/data/split.h"
#include "oess/io/csv.h"
#include "oess/metrics/metrics.h"

namespace oess::cli {
namespace {

namespace fs = std::filesystem;
using metrics::KappaWeights;

struct BaselineArgs {
  std::string manifest, out;
  data::SplitOptions split;
  int threads = 2;
};

nlohmann::json number(double v) { return std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v); }

nlohmann::json summarise(const std::vector<int>& truth, const std::vector<int>& pred,
                         const std::string& label) {
  const auto c4 = metrics::confusion(truth, pred, 4);
  const auto c2 = metrics::confusion(metrics::to_binary(truth), metrics::to_binary(pred), 2);
  fmt::print("\n{} set, 4-class (n = {}):\n{}", label, c4.n(),
             metrics::format_confusion(c4, {"0", "1", "2", "3"}));
  fmt::print("mean per-class accuracy {:.1f}%; kappa unweighted {:.3f}, linear {:.3f}, quadratic {:.3f}\n",
             100 * metrics::mean_per_class_accuracy(c4), metrics::kappa(c4, KappaWeights::kUnweighted),
             metrics::kappa(c4, KappaWeights::kLinear), metrics::kappa(c4, KappaWeights::kQuadratic));
  fmt::print(
      "{} set, healthy (0-1) / diseased (2-3): accuracy {:.1f}%, sensitivity {:.3f}, specificity {:.3f}, "
      "kappa {:.3f}\n",
      label, 100 * metrics::accuracy(c2), metrics::sensitivity(c2), metrics::specificity(c2),
      metrics::kappa(c2, KappaWeights::kUnweighted));
  nlohmann::json pcs = nlohmann::json::array();
  for (double a : metrics::per_class_accuracy(c4)) pcs.push_back(number(a));
  return {{"n", c4.n()},
          {"accuracy", number(metrics::accuracy(c4))},
          {"per_class_accuracy", pcs},
          {"mean_per_class_accuracy", number(metrics::mean_per_class_accuracy(c4))},
          {"confusion", c4.m},
          {"kappa",
           {{"unweighted", number(metrics::kappa(c4, KappaWeights::kUnweighted))},
            {"linear", number(metrics::kappa(c4, KappaWeights::kLinear))},
            {"quadratic", number(metrics::kappa(c4, KappaWeights::kQuadratic))}}},
          {"binary",
           {{"n", c2.n()},
            {"accuracy", number(metrics::accuracy(c2))},
            {"sensitivity", number(metrics::sensitivity(c2))},
            {"specificity", number(metrics::specificity(c2))},
            {"confusion", c2.m},
            {"kappa", {{"unweighted", number(metrics::kappa(c2, KappaWeights::kUnweighted))}}}}}};
}

void run_baseline(const BaselineArgs& a) {
  data::validate_split_options(a.split);
  if (a.threads < 1) throw UsageError("--threads must be >= 1");
  const data::Manifest m = data::read_manifest(a.manifest);
  const data::Split split = data::make_split(m, a.split);
  std::vector<double> fraction(m.samples.size());
  data::DecodeNotes notes;
  Progress bar("baseline: colour fractions", static_cast<int64_t>(m.samples.size()));
  std::atomic<int64_t> done{0};
  std::mutex bar_mutex;
  parallel_for(m.samples.size(), a.threads, [&](size_t i) {
    const cv::Mat img = data::decode_image(m.samples[i].path, &notes);
    const cv::Rect box = data::find_colour_box(img);
    if (box.area() == 0) ++notes.no_colour_box;
    fraction[i] = baseline::colour_fraction(img, box);
    std::lock_guard<std::mutex> lock(bar_mutex);
    bar.update(++done);
  });
  bar.finish(notes.summary());

  auto gather = [&](data::Part p, std::vector<double>& x, std::vector<int>& y) {
    for (size_t i : split.indices(p)) {
      x.push_back(fraction[i]);
      y.push_back(m.samples[i].score);
    }
  };
  std::vector<double> xtr, xv, xt;
  std::vector<int> ytr, yv, yt;
  gather(data::Part::kTrain, xtr, ytr);
  gather(data::Part::kVal, xv, yv);
  gather(data::Part::kTest, xt, yt);
  if (xtr.empty())
    throw Error(fmt::format("{}: the {} split left no training images", a.manifest, a.split.method));
  const auto th = baseline::fit_thresholds(xtr, ytr);
  fmt::print(
      "thresholds on the colour fraction inside the colour box (fitted on {} training images): "
      "grade 1 from {:.4f}, grade 2 from {:.4f}, grade 3 from {:.4f}\n",
      xtr.size(), th.t[0], th.t[1], th.t[2]);
  auto predict = [&](const std::vector<double>& x) {
    std::vector<int> p;
    for (double f : x) p.push_back(th.predict(f));
    return p;
  };
  nlohmann::json out = {
      {"method", "colour-pixel fraction in the colour box, 3 thresholds (balanced accuracy)"},
      {"thresholds", {th.t[0], th.t[1], th.t[2]}}};
  if (!xv.empty()) out["val"] = summarise(yv, predict(xv), "validation");
  if (!xt.empty()) out["test"] = summarise(yt, predict(xt), "test");
  if (a.out.empty()) return;
  fs::create_directories(a.out);
  data::write_split_csv((fs::path(a.out) / "split.csv").string(), m, split);
  io::CsvWriter pred({"path", "truth", "pred", "p0", "p1", "p2", "p3", "colour_fraction"});
  for (size_t i : split.indices(data::Part::kTest)) {
    const int g = th.predict(fraction[i]);
    std::vector<std::string> row = {m.samples[i].rel_path, std::to_string(m.samples[i].score),
                                    std::to_string(g)};
    for (int c = 0; c < 4; ++c) row.push_back(c == g ? "1" : "0");  // a hard rule: probability 1 on its grade
    row.push_back(fmt::format("{:.6f}", fraction[i]));
    pred.row(row);
  }
  pred.write((fs::path(a.out) / "predictions.csv").string());
  write_file_atomic((fs::path(a.out) / "metrics.json").string(), out.dump(2) + "\n");
  fmt::print("\nwrote {}/split.csv, predictions.csv (test set), metrics.json\n", a.out);
}

}  // namespace

void add_split_options(CLI::App& sub, data::SplitOptions& s) {
  sub.add_option("--split-method", s.method, "per_class | stratified | grouped | column")
      ->capture_default_str();
  sub.add_option("--val-per-class", s.val_per_class, "per_class: validation images per grade")
      ->capture_default_str();
  sub.add_option("--test-per-class", s.test_per_class, "per_class: test images per grade")
      ->capture_default_str();
  sub.add_option("--val-fraction", s.val_fraction, "stratified/grouped: validation fraction")
      ->capture_default_str();
  sub.add_option("--test-fraction", s.test_fraction, "stratified/grouped: test fraction")
      ->capture_default_str();
  sub.add_option("--seed", s.seed, "split seed")->capture_default_str();
  sub.add_flag("--allow-patient-overlap", s.allow_patient_overlap,
               "allow a patient in both training and test (the study split images; test figures are then "
               "optimistic)");
}

void add_baseline_command(CLI::App& app) {
  auto a = std::make_shared<BaselineArgs>();
  auto* sub = app.add_subcommand(
      "baseline",
      "Classical comparator: colour-pixel fraction in the colour box, thresholds fitted on training");
  sub->add_option("--manifest", a->manifest, "manifest CSV (path, score[, patient, joint, split])")
      ->required();
  add_split_options(*sub, a->split);
  sub->add_option("--threads", a->threads, "decoding threads")->capture_default_str();
  sub->add_option("--out", a->out, "folder for split.csv, predictions.csv (test set) and metrics.json");
  sub->footer(
      "Reports the same figures as the CNN (4-class confusion, per-class accuracy, kappas; binary accuracy,\n"
      "sensitivity, specificity) on the validation and test splits, so you see what the networks add.");
  sub->callback([a] { run_baseline(*a); });
}

}  // namespace oess::cli
