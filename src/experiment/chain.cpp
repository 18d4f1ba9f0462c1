// The stages after extraction: sweep, selection, ensemble, evaluation and the run files.
#include "oess/experiment/chain.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <mutex>
#include <unordered_map>

#include "finetune_stage.h"
#include "oess/core/atomic_file.h"
#include "oess/core/error.h"
#include "oess/core/parallel.h"
#include "oess/data/readers.h"
#include "oess/io/csv.h"
#include "oess/metrics/metrics.h"
#include "oess/report/report.h"

namespace oess::experiment {
namespace {

namespace fs = std::filesystem;
using metrics::KappaWeights;

std::string pct(double v) { return std::isnan(v) ? "   -  " : fmt::format("{:5.1f}%", 100 * v); }

bool four_class(const Chain& c) { return c.s.train.task == train::Task::kOess4; }

// Test predictions of one [test rows, K] probability tensor, in the predictions contract's terms.
metrics::Predictions predictions_of(const Chain& c, const torch::Tensor& probs) {
  const int k_classes = train::num_classes(c.s.train.task);
  std::unordered_map<std::string, const data::Sample*> by_path;
  for (const auto& smp : c.manifest.samples) by_path[smp.rel_path] = &smp;
  metrics::Predictions pr;
  pr.file = "test predictions";
  pr.binary = k_classes == 2;
  const auto p = probs.to(torch::kFloat64).contiguous();
  const auto acc = p.accessor<double, 2>();
  for (size_t k = 0; k < c.rows.test.size(); ++k) {
    const std::string& path = c.features.paths[static_cast<size_t>(c.rows.test[k])];
    pr.path.push_back(path);
    pr.truth.push_back(train::target_of(c.test_grades[k], c.s.train.task));
    std::array<double, 4> row{};
    for (int j = 0; j < k_classes; ++j) row[static_cast<size_t>(j)] = acc[static_cast<int64_t>(k)][j];
    pr.p.push_back(row);
    pr.pred.push_back(static_cast<int>(std::max_element(row.begin(), row.begin() + k_classes) - row.begin()));
    if (c.manifest.has_patient) pr.patient.push_back(by_path.at(path)->patient);
  }
  return pr;
}

// tap_predictions.csv: each tap's own classifier's grade for every test image (the paired comparisons of
// taps in an ablation grid, docs/ablation.md). Columns path, truth[, patient], then one per tap.
void write_tap_predictions(const Chain& c, const metrics::Predictions& final, const std::string& dir) {
  std::vector<metrics::Predictions> taps;
  std::vector<std::string> header = {"path", "truth"};
  if (final.has_patient()) header.push_back("patient");
  for (const auto& t : c.sweep.taps) {
    if (!t.test_probabilities.defined() ||
        t.test_probabilities.size(0) != static_cast<int64_t>(final.path.size()))
      return;  // no per-tap test predictions (K-fold folds keep theirs)
    taps.push_back(predictions_of(c, t.test_probabilities));
    header.push_back(t.tap);
  }
  if (taps.empty()) return;
  io::CsvWriter csv(header);
  for (size_t k = 0; k < final.path.size(); ++k) {
    std::vector<std::string> row = {final.path[k], std::to_string(final.truth[k])};
    if (final.has_patient()) row.push_back(final.patient[k]);
    for (const auto& t : taps) row.push_back(std::to_string(t.pred[k]));
    csv.row(row);
  }
  csv.write((fs::path(dir) / "tap_predictions.csv").string());
}

std::array<double, 2> interval(const metrics::Figure& f, double fallback = NAN) {
  if (!f.ci95) return {fallback, fallback};
  return {std::isnan(f.ci95->lo) ? fallback : f.ci95->lo, std::isnan(f.ci95->hi) ? fallback : f.ci95->hi};
}

}  // namespace

std::pair<double, double> mean_sd(const std::vector<double>& v) {
  if (v.empty()) return {NAN, NAN};
  double mean = 0, ss = 0;
  for (double x : v) mean += x;
  mean /= static_cast<double>(v.size());
  for (double x : v) ss += (x - mean) * (x - mean);
  return {mean, v.size() > 1 ? std::sqrt(ss / static_cast<double>(v.size() - 1)) : 0.0};
}

bool random_backbone(const features::FeatureSet& f) {
  return f.meta.count("weights") && f.meta.at("weights").rfind("none", 0) == 0;
}

std::string copy_label(const std::string& rel_path, int copy) {
  return fmt::format("{}#copy{}", rel_path, copy);
}

void index_rows(Chain& c) {
  std::unordered_map<std::string, int64_t> row_of;
  for (int64_t r = 0; r < c.features.rows(); ++r) row_of.emplace(c.features.paths[static_cast<size_t>(r)], r);
  auto row = [&](const std::string& label, const data::Sample& smp) {
    auto it = row_of.find(label);
    if (it == row_of.end())
      throw Error(fmt::format("{}:{}: {} has no feature row", c.manifest.file, smp.line, label));
    return it->second;
  };
  std::vector<int64_t> manifest_row(c.manifest.samples.size());
  c.grades.assign(static_cast<size_t>(c.features.rows()), 0);
  for (size_t i = 0; i < c.manifest.samples.size(); ++i) {
    const auto& smp = c.manifest.samples[i];
    manifest_row[i] = row(smp.rel_path, smp);
    c.grades[static_cast<size_t>(manifest_row[i])] = smp.score;
  }
  c.rows = {};
  for (const auto& it : c.items) {
    const auto& smp = c.manifest.samples[it.sample];
    if (it.copy > 0 && c.s.augment) {
      const int64_t r = row(copy_label(smp.rel_path, it.copy), smp);
      c.grades[static_cast<size_t>(r)] = smp.score;
      c.rows.train.push_back(r);
    } else {
      c.rows.train.push_back(manifest_row[it.sample]);
    }
  }
  for (size_t i : c.split.indices(data::Part::kVal)) c.rows.val.push_back(manifest_row[i]);
  for (size_t i : c.split.indices(data::Part::kTest)) c.rows.test.push_back(manifest_row[i]);
  if (data::soft_label(c.manifest)) soft_targets(c, manifest_row);
  c.test_grades = train::take_grades(c.grades, c.rows.test);
  if (c.rows.val.empty())
    throw Error("the split left no validation images: early stopping and selection need some");
}

void run_sweep(Chain& c, const ProgressFn& progress) {
  c.s.train.class_weights = c.s.balance == config::Balance::kClassWeights;
  c.sweep = train::sweep(c.features, c.rows, c.grades, c.s.train, c.s.train_threads, progress);
}

void select_tap(Chain& c) {
  if (c.s.selection == "best") {
    c.selected = c.sweep.best;
    return;
  }
  for (size_t i = 0; i < c.sweep.taps.size(); ++i)
    if (c.sweep.taps[i].tap == c.s.selection) {
      c.selected = i;
      return;
    }
  std::vector<std::string> names;
  for (const auto& t : c.sweep.taps) names.push_back(t.tap);
  throw UsageError(fmt::format("selection.tap: \"{}\" is not one of the swept taps ({})", c.s.selection,
                               fmt::join(names, ", ")));
}

void train_members(Chain& c, const ProgressFn& progress) {
  c.members.clear();
  const auto& selected = c.sweep.taps[c.selected];
  if (c.s.members == 0) {
    c.members.push_back({selected.tap, c.s.train, selected.fit.model, selected.test_probabilities});
    c.final_label = "tap " + selected.tap + " (one classifier)";
  } else {
    std::vector<std::string> taps;
    for (const auto& t : c.s.ensemble_taps) {
      const std::string name = t == "best" ? selected.tap : t;
      if (std::find(taps.begin(), taps.end(), name) == taps.end()) taps.push_back(name);
    }
    std::vector<train::TrainOptions> grid;
    if (c.s.variation == config::Variation::kGrid) {
      grid = ensemble::member_grid(c.s.members, c.s.train);
    } else {
      for (int m = 0; m < c.s.members; ++m) {
        grid.push_back(c.s.train);
        grid.back().seed = c.s.train.seed + static_cast<uint64_t>(m);
      }
    }
    // Every (tap, member) pair is one single-tap sweep with one LibTorch thread, the pairs trained in
    // parallel on classifier.threads threads: each member's result does not depend on which thread trained
    // it.
    for (const auto& tap : taps)
      if (!c.features.data.count(tap))
        throw UsageError(fmt::format("ensemble.taps: \"{}\" is not one of the extracted taps ({})", tap,
                                     fmt::join(c.features.taps, ", ")));
    std::vector<std::pair<std::string, size_t>> jobs;
    for (const auto& tap : taps)
      for (size_t m = 0; m < grid.size(); ++m) jobs.emplace_back(tap, m);
    c.members.resize(jobs.size());
    int64_t done = 0;
    std::mutex progress_mutex;
    {
      train::OneTorchThread single;  // before the workers start, so that each member's sweep restores 1
      parallel_for(jobs.size(), c.s.train_threads, [&](size_t j) {
        const auto& [tap, m] = jobs[j];
        features::FeatureSet one;
        one.paths = c.features.paths;
        one.taps = {tap};
        one.data[tap] = c.features.data.at(tap);
        auto r = train::sweep(one, c.rows, c.grades, grid[m], 1);
        c.members[j] = {tap, grid[m], r.taps[0].fit.model, r.taps[0].test_probabilities};
        if (progress) {
          std::lock_guard<std::mutex> lock(progress_mutex);
          progress(++done, static_cast<int64_t>(jobs.size()));
        }
      });
    }
    c.final_label = fmt::format("ensemble of {} member{} on {} (mean probability)", c.members.size(),
                                c.members.size() == 1 ? "" : "s", fmt::join(taps, " + "));
  }
  std::vector<torch::Tensor> probs;
  for (const auto& m : c.members) probs.push_back(m.test_probabilities);
  if (!c.rows.test.empty()) c.final = ensemble::combine(probs, c.s.train.task);
  if (c.s.calibrate) calibrate(c);
}

void evaluate(Chain& c, const std::string& dir) {
  const bool four = four_class(c);
  const auto pr = predictions_of(c, c.final.mean);
  std::vector<std::string> header =
      four ? std::vector<std::string>{"path", "truth", "pred", "p0", "p1", "p2", "p3"}
           : std::vector<std::string>{"path", "truth", "pred", "p1"};
  if (pr.has_patient()) header.push_back("patient");
  if (four) header.push_back("p_diseased");
  header.push_back("disagreement");
  header.push_back("binary_vote");
  auto columns = c.extra_columns;
  for (auto& col : group_columns(c, pr)) columns.push_back(std::move(col));
  for (const auto& [name, values] : columns) {
    if (values.size() != pr.path.size())
      throw Error(fmt::format("predictions.csv column {}: {} values for {} rows", name, values.size(),
                              pr.path.size()));
    header.push_back(name);
  }
  io::CsvWriter csv(header);
  for (size_t k = 0; k < pr.path.size(); ++k) {
    // The written probabilities are rounded to 6 places; pred is their argmax, as `oess evaluate` reads it.
    std::vector<std::string> row = {pr.path[k], std::to_string(pr.truth[k]), ""};
    std::array<double, 4> rounded{};
    const int kc = four ? 4 : 2;
    for (int j = 0; j < kc; ++j)
      rounded[static_cast<size_t>(j)] = std::stod(fmt::format("{:.6f}", pr.p[k][static_cast<size_t>(j)]));
    row[2] = std::to_string(std::max_element(rounded.begin(), rounded.begin() + kc) - rounded.begin());
    if (four)
      for (int j = 0; j < 4; ++j) row.push_back(fmt::format("{:.6f}", rounded[static_cast<size_t>(j)]));
    else
      row.push_back(fmt::format("{:.6f}", rounded[1]));
    if (pr.has_patient()) row.push_back(pr.patient[k]);
    if (four) row.push_back(fmt::format("{:.6f}", c.final.p_diseased[k]));
    row.push_back(fmt::format("{:.4f}", c.final.disagreement[k]));
    row.push_back(std::to_string(c.final.binary_vote[k]));
    for (const auto& col : columns) row.push_back(col.second[k]);
    csv.row(row);
  }
  csv.write((fs::path(dir) / "predictions.csv").string());
  write_tap_predictions(c, pr, dir);
  c.predictions = metrics::read_predictions((fs::path(dir) / "predictions.csv").string());
  c.metrics = metrics::evaluate(c.predictions, c.s.bootstrap, c.s.seed);
  evaluate_groups(c);  // metrics_text too
  calibration_json(c);
  write_file_atomic((fs::path(dir) / "metrics.json").string(), c.metrics_text);
}

void write_report(const Chain& c, const std::string& dir) {
  const bool four = four_class(c);
  report::ReportInputs in;
  in.gallery = c.s.gallery > 0;
  in.scale = c.s.report_scale;
  in.binary_names = c.s.binary_names;
  std::tie(in.reliability_before, in.ece_before) = reliability_before(c);
  if (c.calibration) in.calibration = c.calibration->platt() ? "Platt" : "temperature";
  in.title = "oess: " + (c.s.name.empty() ? c.final_label : c.s.name + " - " + c.final_label);
  in.notes = c.notes;
  in.readers = c.readers_lines;
  if (!c.s.description.empty()) in.notes.insert(in.notes.begin(), c.s.description);
  const auto cnt = c.split.counts(c.manifest);
  for (size_t p = 0; p < 3; ++p)
    for (size_t g = 0; g < 4; ++g) in.split_counts[p][g] = cnt[p][g];
  for (const auto& it : c.items)
    ++in.train_balanced[static_cast<size_t>(c.manifest.samples[it.sample].score)];
  in.balance = config::name(c.s.balance) + (c.s.augment ? " (copies augmented)" : "") +
               (c.cross_validation.folds > 0 ? "; fold 1's training part, every fold balanced alike" : "");
  for (size_t i = 0; i < c.sweep.taps.size(); ++i) {
    const auto& t = c.sweep.taps[i];
    const auto tm =
        metrics::evaluate(predictions_of(c, t.test_probabilities), std::min(c.s.bootstrap, 500), c.s.seed);
    report::TapRow row;
    row.tap = t.tap;
    row.val_accuracy = t.val_accuracy;
    row.test_accuracy = t.test_accuracy;
    row.test_accuracy_ci = interval(tm.accuracy, t.test_accuracy);
    row.per_class = t.test_per_class;
    if (four) {  // binary metrics carry no per-grade intervals, and one kappa
      for (const auto& f : tm.per_class_accuracy) row.per_class_ci.push_back(interval(f));
      row.kappa_ci = interval(tm.kappa_quadratic);
    } else {
      row.kappa_ci = interval(tm.healthy_diseased.kappa);
    }
    row.kappa_quadratic = t.test_kappa_quadratic;
    row.best_epoch = t.fit.best_epoch;
    row.best = i == c.selected;
    const std::string base = t.tap.substr(0, t.tap.find('@'));  // mixed4@max -> mixed4
    auto listed = [&base](const std::vector<std::string>& v) {
      return std::find(v.begin(), v.end(), base) != v.end();
    };
    row.weights = listed(c.imagenet_taps) ? "ImageNet" : listed(c.other_taps) ? "not ImageNet" : "";
    if (i < c.tap_folds.size()) {
      const auto& tf = c.tap_folds[i];
      const auto [vm, vs] = mean_sd(tf.val);
      const auto [tm2, ts] = mean_sd(tf.test);
      const auto [km, ks] = mean_sd(tf.kappa);
      row.val_accuracy = vm;
      row.val_sd = vs;
      row.test_mean = tm2;
      row.test_sd = ts;
      row.kappa_mean = km;
      row.kappa_sd = ks;
      row.fold_test_accuracy = tf.test;
      row.chosen = tf.chosen;
    }
    in.taps.push_back(row);
    report::Curve curve{t.tap, {}};
    for (const auto& pnt : t.fit.curve) curve.val_accuracy.push_back(pnt.val_accuracy);
    in.curves.push_back(curve);
  }
  for (auto& curve : finetune_curves(c, dir)) in.curves.push_back(std::move(curve));
  in.final_label = c.final_label;
  in.metrics = *c.metrics;
  std::unordered_map<std::string, const std::string*> file_of;  // manifest path -> readable file
  for (const auto& smp : c.manifest.samples) file_of[smp.rel_path] = &smp.path;
  for (const auto& pth : c.predictions.path) in.test_paths.push_back(*file_of.at(pth));
  in.test_truth = c.test_grades;  // grades: the thumbnails' rows and the ROC's healthy/diseased truth
  if (c.members.size() > 1) in.test_binary_vote = c.final.binary_vote;
  in.test_pred = c.predictions.pred;
  for (const auto& p : c.predictions.p) in.test_p_diseased.push_back(four ? p[2] + p[3] : p[1]);
  in.cross_validation = c.cross_validation;
  in.warnings = c.warnings;
  in.dataset = c.dataset;
  in.beside_study = c.s.beside_study;
  in.write_md = c.s.report_md;
  in.write_html = c.s.report_html;
  report::write_report(dir, in);
}

std::string format_features(const Chain& c, bool copies) {
  std::vector<std::string> shapes;
  for (const auto& tap : c.features.taps)
    shapes.push_back(fmt::format("{} {}", tap, c.features.data.at(tap).size(-1)));
  const auto& clip = c.s.extract.clip;
  return fmt::format("  {} rows ({} images{}); features per tap: {}{}\n", c.features.rows(),
                     c.manifest.samples.size(), copies ? " + augmented copies" : "", fmt::join(shapes, ", "),
                     clip.aggregated() ? fmt::format("; a row holds a clip's {} frames, graded by {}",
                                                     clip.slots(), clip.aggregate)
                                       : "");
}

std::string format_sweep_table(const Chain& c) {
  const bool four = four_class(c);
  std::string out = fmt::format("{:<12} {:>8} {:>9} {:>7} {:>7} {:>7} {:>7} {:>9} {:>6}\n", "tap", "val acc",
                                "test acc", four ? "0" : "healthy", four ? "1" : "dis.", four ? "2" : "",
                                four ? "3" : "", "kappa q", "epoch");
  for (size_t i = 0; i < c.sweep.taps.size(); ++i) {
    const auto& t = c.sweep.taps[i];
    out += fmt::format("{:<12} {:>8} {:>9}", t.tap + (i == c.sweep.best ? " *" : ""), pct(t.val_accuracy),
                       pct(t.test_accuracy));
    for (size_t k = 0; k < 4; ++k)
      out += fmt::format(" {:>7}", k < t.test_per_class.size() ? pct(t.test_per_class[k]) : "");
    out += fmt::format(" {:>9.3f} {:>6}\n", t.test_kappa_quadratic, t.fit.best_epoch);
  }
  out += fmt::format("* best tap on validation: {} ({})\n", c.sweep.taps[c.sweep.best].tap,
                     pct(c.sweep.taps[c.sweep.best].val_accuracy));
  return out;
}

std::string format_final(const Chain& c) {
  const bool four = four_class(c);
  std::vector<int> truth;
  for (int g : c.test_grades) truth.push_back(train::target_of(g, c.s.train.task));
  const auto m = metrics::confusion(truth, c.final.pred, train::num_classes(c.s.train.task));
  std::string out =
      fmt::format("{} on {}: accuracy {:.1f}%\n{}", c.final_label,
                  c.cross_validation.folds > 0 ? "every image" : "the test set", 100 * metrics::accuracy(m),
                  metrics::format_confusion(m, four ? std::vector<std::string>{"0", "1", "2", "3"}
                                                    : std::vector<std::string>{"healthy", "diseased"}));
  out += fmt::format("kappa unweighted {:.3f}, linear {:.3f}, quadratic {:.3f}\n",
                     metrics::kappa(m, KappaWeights::kUnweighted), metrics::kappa(m, KappaWeights::kLinear),
                     metrics::kappa(m, KappaWeights::kQuadratic));
  const auto b = metrics::confusion(metrics::to_binary(c.test_grades), c.final.binary_vote, 2);
  out += fmt::format(
      "{} healthy/diseased: accuracy {:.1f}%, sensitivity {:.3f}, specificity {:.3f}, kappa {:.3f}\n",
      c.members.size() > 1 ? "majority vote" : "its", 100 * metrics::accuracy(b), metrics::sensitivity(b),
      metrics::specificity(b), metrics::kappa(b, KappaWeights::kUnweighted));
  return out;
}

}  // namespace oess::experiment
