// `oess baseline`: colour-pixel fraction in the colour box, thresholds fitted on training images.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "commands.h"
#include "oess/baseline/baseline.h"
#include "oess/core/atomic_file.h"
#include "oess/core/error.h"
#include "oess/core/progress.h"
#include "oess/data/folds.h"
#include "oess/data/manifest.h"
#include "oess/data/split.h"
#include "oess/experiment/chain.h"
#include "oess/io/csv.h"
#include "oess/metrics/evaluate.h"
#include "options.h"

namespace oess::cli {
namespace {

namespace fs = std::filesystem;

struct BaselineArgs {
  std::string manifest, out;
  data::SplitOptions split;
  int threads = 2, bootstrap = 2000;
};

// What qualifies the comparator's figures (experiment/chain.h): the patient column, patient overlap and
// small grades of the split (thresholds are fitted on training, so an empty validation grade is no error).
std::vector<RunWarning> baseline_warnings(const data::Manifest& m, const data::Split* split,
                                          const data::SplitOptions& o) {
  std::vector<RunWarning> out;
  experiment::manifest_warnings(m, out);
  if (split) {
    settings::Settings s;
    s.split = o;
    s.allow_empty_grades = true;
    experiment::split_warnings(s, m, *split, "", /*test_part=*/true, out);
    out.erase(std::remove_if(out.begin(), out.end(),
                             [](const RunWarning& w) { return w.code == "empty_validation_grade"; }),
              out.end());
  }
  return out;
}

std::string metrics_text(const metrics::Metrics& test, const std::vector<RunWarning>& warnings) {
  return experiment::metrics_with_warnings(test.to_json(), warnings);
}

void say_warnings(const std::vector<RunWarning>& warnings) {
  print_warnings(warnings, ", also in metrics.json");
}

void print_summary(const metrics::Metrics& m, const std::string& label) {
  fmt::print("\n{} set, 4-class (n = {}):\n{}", label, m.confusion.n(),
             metrics::format_confusion(m.confusion, {"0", "1", "2", "3"}));
  fmt::print("mean per-class accuracy {:.1f}%; kappa unweighted {:.3f}, linear {:.3f}, quadratic {:.3f}\n",
             100 * m.mean_per_class_accuracy.value, m.kappa_unweighted.value, m.kappa_linear.value,
             m.kappa_quadratic.value);
  const auto& b = m.healthy_diseased;
  fmt::print(
      "{} set, healthy (0-1) / diseased (2-3): accuracy {:.1f}%, sensitivity {:.3f}, specificity {:.3f}, "
      "kappa {:.3f}\n",
      label, 100 * b.accuracy.value, b.sensitivity.value, b.specificity.value, b.kappa.value);
}

// --split-method kfold: thresholds per fold, every image predicted once out of fold.
void run_baseline_folds(const BaselineArgs& a, const data::Manifest& m) {
  if (a.split.repeats != 1)
    throw UsageError("oess baseline: --repeats must be 1 (the comparator has no spread to repeat for)");
  const auto folds = data::make_folds(m, data::fold_options(a.split, a.split.seed))[0];
  if (!folds.grouped)
    spdlog::warn(
        "{}: no patient column: folds are made image by image (one patient's images can be in a fold's "
        "training and test parts)",
        m.file);
  Progress bar("baseline: colour fractions", static_cast<int64_t>(m.samples.size()));
  const auto r = baseline::run_folds(m, folds, a.threads, [&bar](int64_t d, int64_t) { bar.update(d); });
  bar.finish(r.decode_notes);
  nlohmann::json about = {
      {"method",
       "colour-pixel fraction in the colour box, 3 thresholds (balanced accuracy), per fold fitted on "
       "every image outside the fold"},
      {"folds", folds.k},
      {"thresholds", nlohmann::json::array()}};
  for (size_t f = 0; f < r.thresholds.size(); ++f) {
    const auto& th = r.thresholds[f].t;
    fmt::print("fold {}: grade 1 from {:.4f}, grade 2 from {:.4f}, grade 3 from {:.4f}\n", f + 1, th[0],
               th[1], th[2]);
    about["thresholds"].push_back({th[0], th[1], th[2]});
  }
  const auto test = metrics::evaluate(r.test, a.bootstrap, a.split.seed);
  print_summary(test, fmt::format("out-of-fold ({} folds)", folds.k));
  const auto warnings = baseline_warnings(m, nullptr, a.split);
  if (a.out.empty()) return say_warnings(warnings);
  fs::create_directories(a.out);
  std::vector<std::string> head = {"path", "truth", "pred", "p0", "p1", "p2", "p3"};
  if (m.has_patient) head.push_back("patient");
  head.push_back("colour_fraction");
  head.push_back("fold");
  io::CsvWriter pred(head), split({"path", "score", "patient", "fold"});
  for (size_t k = 0; k < r.test.path.size(); ++k) {
    std::vector<std::string> row = {r.test.path[k], std::to_string(r.test.truth[k]),
                                    std::to_string(r.test.pred[k])};
    for (double p : r.test.p[k]) row.push_back(p == 1 ? "1" : "0");
    if (m.has_patient) row.push_back(r.test.patient[k]);
    row.push_back(fmt::format("{:.6f}", r.fraction[k]));
    row.push_back(std::to_string(r.fold[k] + 1));
    pred.row(row);
    split.row({m.samples[k].rel_path, std::to_string(m.samples[k].score), m.samples[k].patient,
               std::to_string(r.fold[k] + 1)});
  }
  split.write((fs::path(a.out) / "split.csv").string());
  pred.write((fs::path(a.out) / "predictions.csv").string());
  write_file_atomic((fs::path(a.out) / "metrics.json").string(), metrics_text(test, warnings));
  write_file_atomic((fs::path(a.out) / "baseline.json").string(), about.dump(2) + "\n");
  fmt::print(
      "\nwrote {}/split.csv (fold per image), predictions.csv and metrics.json (out of fold), baseline.json "
      "(thresholds per fold)\n",
      a.out);
  say_warnings(warnings);
}

void run_baseline(const BaselineArgs& a) {
  data::validate_split_options(a.split);
  if (a.bootstrap < 0) throw UsageError("--bootstrap must be >= 0");
  const data::Manifest m = data::read_manifest(a.manifest);
  if (config::cross_validated(a.split.method)) return run_baseline_folds(a, m);
  const data::Split split = data::make_split(m, a.split);
  Progress bar("baseline: colour fractions", static_cast<int64_t>(m.samples.size()));
  const auto r = baseline::run(m, split, a.threads, [&bar](int64_t d, int64_t) { bar.update(d); });
  bar.finish(r.decode_notes);
  const auto& th = r.thresholds.t;
  fmt::print(
      "thresholds on the colour fraction inside the colour box (fitted on {} training images): "
      "grade 1 from {:.4f}, grade 2 from {:.4f}, grade 3 from {:.4f}\n",
      r.train_images, th[0], th[1], th[2]);
  nlohmann::json about = {
      {"method", "colour-pixel fraction in the colour box, 3 thresholds (balanced accuracy)"},
      {"thresholds", {th[0], th[1], th[2]}}};
  if (!r.val.path.empty()) {
    const auto val = metrics::evaluate(r.val, 0);
    print_summary(val, "validation");
    about["val"] = nlohmann::json::parse(val.to_json());
  }
  std::optional<metrics::Metrics> test;
  if (!r.test.path.empty()) {
    test = metrics::evaluate(r.test, a.bootstrap, a.split.seed);
    print_summary(*test, "test");
  }
  const auto warnings = baseline_warnings(m, &split, a.split);
  if (a.out.empty()) return say_warnings(warnings);
  fs::create_directories(a.out);
  data::write_split_csv((fs::path(a.out) / "split.csv").string(), m, split);
  std::vector<std::string> head = {"path", "truth", "pred", "p0", "p1", "p2", "p3"};
  if (m.has_patient) head.push_back("patient");
  head.push_back("colour_fraction");
  io::CsvWriter pred(head);
  for (size_t k = 0; k < r.test.path.size(); ++k) {
    std::vector<std::string> row = {r.test.path[k], std::to_string(r.test.truth[k]),
                                    std::to_string(r.test.pred[k])};
    for (double p : r.test.p[k]) row.push_back(p == 1 ? "1" : "0");
    if (m.has_patient) row.push_back(r.test.patient[k]);
    row.push_back(fmt::format("{:.6f}", r.fraction[r.test_samples[k]]));
    pred.row(row);
  }
  pred.write((fs::path(a.out) / "predictions.csv").string());
  if (test) write_file_atomic((fs::path(a.out) / "metrics.json").string(), metrics_text(*test, warnings));
  write_file_atomic((fs::path(a.out) / "baseline.json").string(), about.dump(2) + "\n");
  fmt::print(
      "\nwrote {}/split.csv, predictions.csv and metrics.json (test set), baseline.json (thresholds, "
      "validation figures)\n",
      a.out);
  say_warnings(warnings);
}

}  // namespace

void add_baseline_command(CLI::App& app) {
  auto a = std::make_shared<BaselineArgs>();
  auto* sub = app.add_subcommand(
      "baseline",
      "Classical comparator: colour-pixel fraction in the colour box, thresholds fitted on training");
  sub->add_option("--manifest", a->manifest, "manifest CSV (path, score[, patient, joint, split])")
      ->required();
  add_split_options(*sub, a->split);
  sub->add_option("--threads", a->threads, "decoding threads")->capture_default_str();
  sub->add_option("--bootstrap", a->bootstrap,
                  "bootstrap resamples for the test figures' 95% CIs (seed: --seed)")
      ->capture_default_str();
  sub->add_option(
      "--out", a->out,
      "folder for split.csv, predictions.csv and metrics.json (test set, the metrics.json contract: "
      "`oess evaluate` on predictions.csv gives the same file), baseline.json (thresholds, "
      "validation figures)");
  sub->footer(
      "Reports the same figures as the CNN (4-class confusion, per-class accuracy, kappas; binary accuracy,\n"
      "sensitivity, specificity) on the validation and test splits, so you see what the networks add.");
  sub->callback([a] { run_baseline(*a); });
}

}  // namespace oess::cli
