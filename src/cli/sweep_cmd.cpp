// `oess sweep`: one classifier per tap on a feature file (the study's supplementary table), then
// optionally an ensemble on the best tap (Table 4) with its majority vote (Table 5), or across taps.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <unordered_map>

#include "commands.h"
#include "oess/core/atomic_file.h"
#include "oess/core/error.h"
#include "oess/data/balance.h"
#include "oess/data/manifest.h"
#include "oess/data/split.h"
#include "oess/ensemble/ensemble.h"
#include "oess/io/csv.h"
#include "oess/metrics/evaluate.h"
#include "oess/metrics/metrics.h"
#include "oess/report/report.h"
#include "oess/train/sweep.h"

namespace oess::cli {
namespace {

namespace fs = std::filesystem;
using metrics::KappaWeights;

struct SweepArgs {
  std::string features, manifest, out, task = "oess4", balance = "oversample";
  data::SplitOptions split;
  train::TrainOptions train;
  int threads = 2, members = 0, cross_tap = 0, bootstrap = 2000;
};

std::string pct(double v) { return std::isnan(v) ? "   -  " : fmt::format("{:5.1f}%", 100 * v); }

void report_ensemble(const std::string& label, const ensemble::Combined& e, const std::vector<int>& grades,
                     train::Task task) {
  std::vector<int> truth;
  for (int g : grades) truth.push_back(train::target_of(g, task));
  const auto c = metrics::confusion(truth, e.pred, train::num_classes(task));
  fmt::print("\n{} on the test set:\n{}", label,
             metrics::format_confusion(c, task == train::Task::kOess4
                                              ? std::vector<std::string>{"0", "1", "2", "3"}
                                              : std::vector<std::string>{"healthy", "diseased"}));
  fmt::print("kappa unweighted {:.3f}, linear {:.3f}, quadratic {:.3f}\n",
             metrics::kappa(c, KappaWeights::kUnweighted), metrics::kappa(c, KappaWeights::kLinear),
             metrics::kappa(c, KappaWeights::kQuadratic));
  const auto cb = metrics::confusion(metrics::to_binary(grades), e.binary_vote, 2);
  fmt::print(
      "majority vote healthy/diseased: accuracy {:.1f}%, sensitivity {:.3f}, specificity {:.3f}, kappa "
      "{:.3f}\n",
      100 * metrics::accuracy(cb), metrics::sensitivity(cb), metrics::specificity(cb),
      metrics::kappa(cb, KappaWeights::kUnweighted));
}

// metrics.json and the report for the final model: the ensemble when there is one, else the best tap.
void write_final(const SweepArgs& a, const features::FeatureSet& f, const data::Manifest& m,
                 const data::Split& split, const std::vector<data::TrainItem>& items, const train::Rows& rows,
                 const std::vector<int>& test_grades, const train::SweepResult& s,
                 const std::optional<ensemble::Combined>& ens) {
  const auto& best = s.taps[s.best];
  std::unordered_map<std::string, const data::Sample*> sample_of;
  for (const auto& smp : m.samples) sample_of[smp.rel_path] = &smp;
  const int k_classes = train::num_classes(a.train.task);
  auto predictions = [&](const std::function<double(int64_t, int)>& prob) {
    metrics::Predictions pr;
    pr.file = "test predictions";
    pr.binary = k_classes == 2;
    for (size_t k = 0; k < rows.test.size(); ++k) {
      const std::string& path = f.paths[static_cast<size_t>(rows.test[k])];
      pr.path.push_back(path);
      pr.truth.push_back(train::target_of(test_grades[k], a.train.task));
      std::array<double, 4> p{};
      for (int c = 0; c < k_classes; ++c) p[static_cast<size_t>(c)] = prob(static_cast<int64_t>(k), c);
      pr.p.push_back(p);
      pr.pred.push_back(static_cast<int>(std::max_element(p.begin(), p.begin() + k_classes) - p.begin()));
      if (m.has_patient) pr.patient.push_back(sample_of.at(path)->patient);
    }
    return pr;
  };
  const auto final_pr = predictions([&](int64_t r, int c) {
    return ens ? ens->mean[r][c].item<double>() : best.test_probabilities[r][c].item<double>();
  });
  const std::string metrics_text = metrics::evaluate(final_pr, a.bootstrap, a.split.seed);
  write_file_atomic((fs::path(a.out) / "metrics.json").string(), metrics_text);

  report::ReportInputs in;
  in.title =
      ens ? fmt::format("oess: ensemble of {} on {}", a.members, best.tap) : "oess: best tap " + best.tap;
  if (f.meta.count("weights") && f.meta.at("weights").rfind("none", 0) == 0)
    in.notes.push_back(
        "NO IMAGENET WEIGHTS: these features come from a seeded random initialisation of the backbone; "
        "results are not ImageNet-based.");
  const auto cnt = split.counts(m);
  for (size_t p = 0; p < 3; ++p)
    for (size_t g = 0; g < 4; ++g) in.split_counts[p][g] = cnt[p][g];
  for (const auto& it : items) ++in.train_balanced[static_cast<size_t>(m.samples[it.sample].score)];
  in.balance = a.balance;
  for (size_t i = 0; i < s.taps.size(); ++i) {
    const auto& t = s.taps[i];
    const auto tj = nlohmann::json::parse(metrics::evaluate(
        predictions([&](int64_t r, int c) { return t.test_probabilities[r][c].item<double>(); }),
        std::min(a.bootstrap, 500), a.split.seed));
    const auto& ci = tj["accuracy_ci95"];
    report::TapRow row;
    row.tap = t.tap;
    row.val_accuracy = t.val_accuracy;
    row.test_accuracy = t.test_accuracy;
    row.test_accuracy_ci = {ci.is_array() && !ci[0].is_null() ? ci[0].get<double>() : t.test_accuracy,
                            ci.is_array() && !ci[1].is_null() ? ci[1].get<double>() : t.test_accuracy};
    row.per_class = t.test_per_class;
    auto interval = [](const nlohmann::json& v) {
      return std::array<double, 2>{v.is_array() && !v[0].is_null() ? v[0].get<double>() : NAN,
                                   v.is_array() && !v[1].is_null() ? v[1].get<double>() : NAN};
    };
    if (k_classes == 4) {  // binary metrics carry no per-grade intervals, and one kappa
      for (int c = 0; c < 4; ++c) row.per_class_ci.push_back(interval(tj["per_class_accuracy_ci95"][c]));
      row.kappa_ci = interval(tj["kappa_ci95"]["quadratic"]);
    } else {
      row.kappa_ci = interval(tj["kappa_ci95"]);
    }
    row.kappa_quadratic = t.test_kappa_quadratic;
    row.best_epoch = t.fit.best_epoch;
    row.best = i == s.best;
    in.taps.push_back(row);
    report::Curve c{t.tap, {}};
    for (const auto& pnt : t.fit.curve) c.val_accuracy.push_back(pnt.val_accuracy);
    in.curves.push_back(c);
  }
  in.final_label = ens ? fmt::format("ensemble of {} members on {} (mean probability)", a.members, best.tap)
                       : "best tap " + best.tap;
  in.metrics_json = metrics_text;
  for (const auto& pth : final_pr.path) in.test_paths.push_back(sample_of.at(pth)->path);
  in.test_truth = test_grades;  // grades: the thumbnails' rows and the ROC's healthy/diseased truth
  if (ens) in.test_binary_vote = ens->binary_vote;
  in.test_pred = final_pr.pred;
  for (const auto& p : final_pr.p) in.test_p_diseased.push_back(k_classes == 4 ? p[2] + p[3] : p[1]);
  report::write_report(a.out, in);
}

void run_sweep(SweepArgs a) {
  a.train.task = train::parse_task(a.task);
  train::validate(a.train);
  data::validate_split_options(a.split);
  if (a.balance != "oversample" && a.balance != "class_weights" && a.balance != "none")
    throw UsageError(fmt::format("--balance \"{}\": expected oversample, class_weights or none", a.balance));
  a.train.class_weights = a.balance == "class_weights";
  const auto f = features::read_feature_file(a.features);
  const data::Manifest m = data::read_manifest(a.manifest, /*check_files=*/false);
  // Feature rows are matched to manifest rows by path, so the files need not be in the same order.
  std::unordered_map<std::string, int64_t> row_of;
  for (int64_t r = 0; r < f.rows(); ++r) row_of.emplace(f.paths[static_cast<size_t>(r)], r);
  std::vector<int64_t> manifest_row(m.samples.size());
  for (size_t i = 0; i < m.samples.size(); ++i) {
    auto it = row_of.find(m.samples[i].rel_path);
    if (it == row_of.end())
      throw Error(fmt::format("{}:{}: {} has no row in {}", m.file, m.samples[i].line, m.samples[i].rel_path,
                              a.features));
    manifest_row[i] = it->second;
  }
  std::vector<int> grades(static_cast<size_t>(f.rows()), 0);
  for (size_t i = 0; i < m.samples.size(); ++i)
    grades[static_cast<size_t>(manifest_row[i])] = m.samples[i].score;
  const auto split = data::make_split(m, a.split);
  train::Rows rows;
  const auto train_idx = split.indices(data::Part::kTrain);
  const auto items = a.balance == "oversample" ? data::oversample(train_idx, m.scores(), a.split.seed)
                                               : data::no_balancing(train_idx);
  for (const auto& it : items) rows.train.push_back(manifest_row[it.sample]);
  for (size_t i : split.indices(data::Part::kVal)) rows.val.push_back(manifest_row[i]);
  for (size_t i : split.indices(data::Part::kTest)) rows.test.push_back(manifest_row[i]);
  fmt::print("{} training rows after {} ({} images), {} validation, {} test; task {}; {} tap(s)\n",
             rows.train.size(), a.balance, train_idx.size(), rows.val.size(), rows.test.size(), a.task,
             f.taps.size());

  const auto s = train::sweep(f, rows, grades, a.train, a.threads);
  const bool four = a.train.task == train::Task::kOess4;
  fmt::print("\n{:<10} {:>8} {:>9} {:>7} {:>7} {:>7} {:>7} {:>9} {:>6}\n", "tap", "val acc", "test acc",
             four ? "0" : "healthy", four ? "1" : "dis.", four ? "2" : "", four ? "3" : "", "kappa q",
             "epoch");
  for (size_t i = 0; i < s.taps.size(); ++i) {
    const auto& t = s.taps[i];
    fmt::print("{:<10} {:>8} {:>9}", t.tap + (i == s.best ? " *" : ""), pct(t.val_accuracy),
               pct(t.test_accuracy));
    for (size_t c = 0; c < 4; ++c)
      fmt::print(" {:>7}", c < t.test_per_class.size() ? pct(t.test_per_class[c]) : "");
    fmt::print(" {:>9.3f} {:>6}\n", t.test_kappa_quadratic, t.fit.best_epoch);
  }
  fmt::print("* best tap on validation: {} ({})\n", s.taps[s.best].tap, pct(s.taps[s.best].val_accuracy));

  std::vector<int> test_grades = train::take_grades(grades, rows.test);
  std::optional<ensemble::Combined> ens;
  if (a.members > 0) {
    const auto& tap = s.taps[s.best].tap;
    features::FeatureSet one;
    one.paths = f.paths;
    one.taps = {tap};
    one.data[tap] = f.data.at(tap);
    std::vector<torch::Tensor> probs;
    for (const auto& o : ensemble::member_grid(a.members, a.train))
      probs.push_back(train::sweep(one, rows, grades, o, 1).taps[0].test_probabilities);
    ens = ensemble::combine(probs, a.train.task);
    report_ensemble(fmt::format("Ensemble of {} members on {}", a.members, tap), *ens, test_grades,
                    a.train.task);
  }
  if (a.cross_tap > 1) {
    std::vector<size_t> order(s.taps.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t x, size_t y) { return s.taps[x].val_accuracy > s.taps[y].val_accuracy; });
    std::vector<torch::Tensor> probs;
    std::vector<std::string> names;
    for (size_t k = 0; k < std::min(order.size(), static_cast<size_t>(a.cross_tap)); ++k) {
      probs.push_back(s.taps[order[k]].test_probabilities);
      names.push_back(s.taps[order[k]].tap);
    }
    report_ensemble(fmt::format("Cross-tap ensemble of the best {} taps on validation ({})", names.size(),
                                fmt::join(names, ", ")),
                    ensemble::combine(probs, a.train.task), test_grades, a.train.task);
  }
  if (a.out.empty()) return;
  fs::create_directories(fs::path(a.out) / "curves");
  data::write_split_csv((fs::path(a.out) / "split.csv").string(), m, split);
  io::CsvWriter layers({"tap", "val_accuracy", "test_accuracy", "test_accuracy_0", "test_accuracy_1",
                        "test_accuracy_2", "test_accuracy_3", "test_kappa_quadratic", "best_epoch", "best"});
  for (size_t i = 0; i < s.taps.size(); ++i) {
    const auto& t = s.taps[i];
    std::vector<std::string> row = {t.tap, fmt::format("{:.6f}", t.val_accuracy),
                                    fmt::format("{:.6f}", t.test_accuracy)};
    for (size_t c = 0; c < 4; ++c)
      row.push_back(c < t.test_per_class.size() && !std::isnan(t.test_per_class[c])
                        ? fmt::format("{:.6f}", t.test_per_class[c])
                        : "");
    row.push_back(fmt::format("{:.6f}", t.test_kappa_quadratic));
    row.push_back(std::to_string(t.fit.best_epoch));
    row.push_back(i == s.best ? "1" : "0");
    layers.row(row);
    io::CsvWriter curve({"epoch", "train_loss", "val_loss", "val_accuracy"});
    for (const auto& p : t.fit.curve)
      curve.row({std::to_string(p.epoch), fmt::format("{:.6f}", p.train_loss),
                 fmt::format("{:.6f}", p.val_loss), fmt::format("{:.6f}", p.val_accuracy)});
    curve.write((fs::path(a.out) / "curves" / (t.tap + ".csv")).string());
  }
  layers.write((fs::path(a.out) / "layers.csv").string());
  if (ens) {
    io::CsvWriter pred(
        four ? std::vector<std::string>{"path", "truth", "pred", "p0", "p1", "p2", "p3", "p_diseased",
                                        "disagreement", "binary_vote"}
             : std::vector<std::string>{"path", "truth", "pred", "p1", "disagreement", "binary_vote"});
    for (size_t k = 0; k < rows.test.size(); ++k) {
      const auto r = static_cast<int64_t>(k);
      std::vector<std::string> row = {f.paths[static_cast<size_t>(rows.test[k])],
                                      std::to_string(train::target_of(test_grades[k], a.train.task)),
                                      std::to_string(ens->pred[k])};
      if (four)
        for (int c = 0; c < 4; ++c) row.push_back(fmt::format("{:.6f}", ens->mean[r][c].item<float>()));
      else
        row.push_back(fmt::format("{:.6f}", ens->mean[r][1].item<float>()));
      if (four) row.push_back(fmt::format("{:.6f}", ens->p_diseased[k]));
      row.push_back(fmt::format("{:.4f}", ens->disagreement[k]));
      row.push_back(std::to_string(ens->binary_vote[k]));
      pred.row(row);
    }
    pred.write((fs::path(a.out) / "predictions.csv").string());
  }
  if (!rows.test.empty()) write_final(a, f, m, split, items, rows, test_grades, s, ens);
  fmt::print("\nwrote {}/layers.csv, curves/, split.csv{}{}\n", a.out,
             ens ? ", predictions.csv (ensemble, test set)" : "",
             rows.test.empty() ? "" : ", metrics.json, report.md, report.html, plots/");
}

}  // namespace

void add_sweep_command(CLI::App& app) {
  auto a = std::make_shared<SweepArgs>();
  auto* sub = app.add_subcommand(
      "sweep", "One classifier per tap on a feature file, best tap on validation; ensembles");
  sub->add_option("--features", a->features, "feature file from `oess extract`")->required();
  sub->add_option("--manifest", a->manifest,
                  "the manifest the features were extracted from (grades, patients)")
      ->required();
  add_split_options(*sub, a->split);
  sub->add_option("--task", a->task, "oess4 (grades 0-3) | binary (0-1 vs 2-3)")->capture_default_str();
  sub->add_option("--balance", a->balance, "oversample | class_weights | none")->capture_default_str();
  sub->add_option("--optimizer", a->train.optimizer, "adam | sgd | lbfgs")->capture_default_str();
  sub->add_option("--lr", a->train.lr, "learning rate")->capture_default_str();
  sub->add_option("--weight-decay", a->train.weight_decay, "L2 coefficient")->capture_default_str();
  sub->add_option("--batch", a->train.batch, "mini-batch size")->capture_default_str();
  sub->add_option("--max-epochs", a->train.max_epochs, "epoch limit")->capture_default_str();
  sub->add_option("--patience", a->train.patience, "early stopping: epochs without improvement")
      ->capture_default_str();
  sub->add_option("--monitor", a->train.monitor, "val_accuracy | val_loss")->capture_default_str();
  sub->add_option("--train-seed", a->train.seed, "classifier seed (mini-batch order)")->capture_default_str();
  sub->add_option("--threads", a->threads, "taps trained in parallel")->capture_default_str();
  sub->add_option("--members", a->members, "ensemble members on the best tap (the study: 10); 0 = none")
      ->capture_default_str();
  sub->add_option("--cross-tap", a->cross_tap, "also ensemble the best K taps on validation")
      ->capture_default_str();
  sub->add_option("--bootstrap", a->bootstrap, "bootstrap resamples for the report's CIs")
      ->capture_default_str();
  sub->add_option(
      "--out", a->out,
      "folder for layers.csv, curves/, split.csv, predictions.csv, metrics.json, report.md, report.html");
  sub->footer(
      "Oversampling repeats training rows (the study's Table 2); augmented copies need features of their "
      "own\n"
      "and come with `oess run`. Ensemble members vary lr, weight decay, batch and seed (docs/training.md).");
  sub->callback([a] { run_sweep(*a); });
}

}  // namespace oess::cli
