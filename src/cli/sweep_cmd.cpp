// `oess sweep`: one classifier per tap on a feature file (the study's supplementary table), then
// optionally an ensemble on the best tap (Table 4) with its majority vote (Table 5), or across taps.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <memory>

#include "commands.h"
#include "oess/config/choices.h"
#include "oess/core/error.h"
#include "oess/core/warning.h"
#include "oess/experiment/chain.h"
#include "oess/experiment/kfold.h"
#include "options.h"

namespace oess::cli {
namespace {

namespace fs = std::filesystem;

struct SweepArgs {
  std::string features, manifest, out, task = "oess4";
  config::Balance balance = config::Balance::kOversample;
  data::SplitOptions split;
  train::TrainOptions train;
  int threads = 2, members = 0, cross_tap = 0, bootstrap = 2000;
  bool beside_study = false, allow_empty_grades = false;
};

// Every warning the sweep raised: in metrics.json and the report already; last on the console.
void say_warnings(const experiment::Chain& c) {
  print_warnings(c.warnings, ", also in metrics.json and at the top of the report");
}

void note_random_backbone(experiment::Chain& c) {
  if (!experiment::random_backbone(c.features)) return;
  c.notes.push_back(experiment::kNoImagenetNote);
  add_warning(c.warnings, {"random_weights", experiment::kNoImagenetNote});
}

// K-fold on a feature file: every stage of experiment/kfold.h but the refit (no model is exported here).
void run_kfold(experiment::Chain& c, const SweepArgs& a) {
  if (a.out.empty()) throw UsageError("--split-method kfold writes per-fold files: give --out DIR");
  if (a.cross_tap > 1) throw UsageError("--cross-tap is not available with --split-method kfold");
  fs::create_directories(a.out);
  const experiment::SayFn say = [](const std::string& t) { fmt::print("{}", t); };
  experiment::Kfold k;
  experiment::kfold_data(c, k, a.out, say);
  experiment::kfold_sweep(c, k, say);
  experiment::kfold_select(c, k, a.out, say);
  experiment::kfold_ensemble(c, k, say);
  experiment::kfold_evaluate(c, k, a.out, say);
  fmt::print("\n{}", experiment::format_final(c));
  note_random_backbone(c);
  experiment::write_metrics(c, a.out);
  experiment::write_report(c, a.out);
  fmt::print(
      "\nwrote {}/split.csv, folds/, layers.csv, predictions.csv, metrics.json, report.md, report.html\n",
      a.out);
  say_warnings(c);
}

void run_sweep(SweepArgs a) {
  settings::Settings st;
  st.train = a.train;
  st.train.task = train::parse_task(a.task);
  train::validate(st.train);
  data::validate_split_options(a.split);
  st.balance = a.balance;
  st.split = a.split;
  st.seed = a.split.seed;
  st.train_threads = a.threads;
  st.members = a.members;
  st.bootstrap = a.bootstrap;
  st.beside_study = a.beside_study;
  st.allow_empty_grades = a.allow_empty_grades;
  auto c = experiment::chain_from_features(a.features, a.manifest, st);
  experiment::manifest_warnings(c.manifest, c.warnings);
  if (experiment::is_kfold(st)) return run_kfold(c, a);
  experiment::split_warnings(st, c.manifest, c.split, "", /*test_part=*/true, c.warnings);
  experiment::index_rows(c);
  fmt::print("{} training rows after {} ({} images), {} validation, {} test; task {}; {} tap(s)\n",
             c.rows.train.size(), config::name(a.balance), c.split.indices(data::Part::kTrain).size(),
             c.rows.val.size(), c.rows.test.size(), a.task, c.features.taps.size());
  experiment::run_sweep(c);
  fmt::print("\n{}", experiment::format_sweep_table(c));
  experiment::select_tap(c);
  experiment::tap_warnings(c, c.warnings);
  experiment::train_members(c);
  if (!c.rows.test.empty()) fmt::print("\n{}", experiment::format_final(c));
  if (a.cross_tap > 1 && !c.rows.test.empty())
    fmt::print("\n{}", experiment::format_final(experiment::cross_tap_ensemble(c, a.cross_tap)));
  if (a.out.empty()) return say_warnings(c);
  fs::create_directories(a.out);
  data::write_split_csv((fs::path(a.out) / "split.csv").string(), c.manifest, c.split);
  experiment::write_layers(c, a.out);
  if (!c.rows.test.empty()) {
    experiment::evaluate(c, a.out);
    note_random_backbone(c);
    experiment::write_metrics(c, a.out);
    experiment::write_report(c, a.out);
  }
  fmt::print("\nwrote {}/layers.csv, curves/, split.csv{}\n", a.out,
             c.rows.test.empty() ? "" : ", predictions.csv, metrics.json, report.md, report.html, plots/");
  say_warnings(c);
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
  sub->add_option(
         "--task", a->task,
         fmt::format("{} (oess4: grades 0-3; binary: 0-1 vs 2-3)", fmt::join(config::tasks().names, " | ")))
      ->capture_default_str();
  add_choice_option(*sub, "--balance", a->balance, "training-set balancing");
  add_choice_option(*sub, "--optimizer", a->train.optimizer, "");
  sub->add_option("--lr", a->train.lr, "learning rate")->capture_default_str();
  sub->add_option("--weight-decay", a->train.weight_decay, "L2 coefficient")->capture_default_str();
  sub->add_option("--batch", a->train.batch, "mini-batch size")->capture_default_str();
  sub->add_option("--max-epochs", a->train.max_epochs, "epoch limit")->capture_default_str();
  sub->add_option("--patience", a->train.patience, "early stopping: epochs without improvement")
      ->capture_default_str();
  add_choice_option(*sub, "--monitor", a->train.monitor, "early stopping watches");
  sub->add_option("--train-seed", a->train.seed, "classifier seed (mini-batch order)")->capture_default_str();
  sub->add_option("--threads", a->threads, "taps trained in parallel")->capture_default_str();
  sub->add_option("--members", a->members, "ensemble members on the best tap (the study: 10); 0 = none")
      ->capture_default_str();
  sub->add_option("--cross-tap", a->cross_tap, "also ensemble the best K taps on validation")
      ->capture_default_str();
  sub->add_option("--bootstrap", a->bootstrap, "bootstrap resamples for the report's CIs")
      ->capture_default_str();
  sub->add_flag("--allow-empty-grades", a->allow_empty_grades,
                "go on when a grade has no validation image (the tap choice cannot see it); a warning");
  sub->add_flag("--beside-study", a->beside_study,
                "the report sets the figures beside the study's published ones (for the study's data)");
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
