// K-fold cross-validation stages of `oess run` (kfold.h).
#include "oess/experiment/kfold.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include "oess/core/atomic_file.h"
#include "oess/core/error.h"
#include "oess/core/parallel.h"
#include "oess/core/progress.h"
#include "oess/core/random.h"
#include "oess/core/warning.h"
#include "oess/io/csv.h"
#include "oess/metrics/metrics.h"

namespace oess::experiment {
namespace {

namespace fs = std::filesystem;

std::vector<data::TrainItem> balanced(const Chain& c, const data::Split& split) {
  const auto train = split.indices(data::Part::kTrain);
  return c.s.balance == config::Balance::kOversample ? data::oversample(train, c.manifest.scores(), c.s.seed)
                                                     : data::no_balancing(train);
}

std::string pct(double v) { return fmt::format("{:.1f}%", 100 * v); }

// DIR/split.csv (fold of every image per repeat, the refit's part) and each fold's own split.csv.
void write_fold_splits(const Chain& c, const Kfold& k, const std::string& dir) {
  const auto& m = c.manifest;
  std::vector<std::string> header = {"path", "score", "patient", "fold"};
  for (size_t r = 1; r < k.folds.size(); ++r) header.push_back(fmt::format("fold_r{}", r + 1));
  header.push_back("refit");
  io::CsvWriter csv(header);
  for (size_t i = 0; i < m.samples.size(); ++i) {
    std::vector<std::string> row = {m.samples[i].rel_path, std::to_string(m.samples[i].score),
                                    m.samples[i].patient};
    for (const auto& f : k.folds) row.push_back(std::to_string(f.fold[i] + 1));
    row.push_back(data::part_name(k.refit.split.part[i]));
    csv.row(row);
  }
  csv.write((fs::path(dir) / "split.csv").string());
  for (const auto& run : k.runs) {
    fs::create_directories(fs::path(dir) / "folds" / fold_name(k, run));
    data::write_split_csv((fs::path(dir) / "folds" / fold_name(k, run) / "split.csv").string(), m,
                          run.chain.split);
  }
}

// The data stage's console table: each fold's test images per grade and its training and validation sizes.
std::string format_folds(const Chain& c, const Kfold& k) {
  const auto& m = c.manifest;
  const auto& o = c.s.split;
  const data::Folds& first = k.folds[0];
  std::string table = fmt::format(
      "  {}: {} images; {}-fold cross-validation{}, {}; validation: {:.0f}% of each fold's training part\n"
      "  {:<10} {:>6} {:>6} {:>6} {:>6} {:>9} {:>9} {:>9}\n",
      m.file, m.samples.size(), first.k,
      k.folds.size() > 1 ? fmt::format(" x {} repeats", k.folds.size()) : "",
      !first.group_column.empty() ? fmt::format("one fold per {} (leave-one-group-out{})", first.group_column,
                                                first.grouped ? ", patients kept together" : "")
      : first.from_column         ? "folds from the manifest's fold column"
      : first.grouped             ? "grouped by patient, stratified by grade"
                                  : "image by image (no patient column), stratified by grade",
      100 * o.val_fraction, "fold", "test 0", "1", "2", "3", "training", "balanced", "valid.");
  for (const auto& run : k.runs) {
    const auto cnt = run.chain.split.counts(m);
    const auto& t = cnt[static_cast<size_t>(data::Part::kTest)];
    int train = 0, val = 0;
    for (int g = 0; g < 4; ++g) {
      train += cnt[static_cast<size_t>(data::Part::kTrain)][static_cast<size_t>(g)];
      val += cnt[static_cast<size_t>(data::Part::kVal)][static_cast<size_t>(g)];
    }
    const auto& names = k.folds[static_cast<size_t>(run.repeat)].names;
    const std::string label =
        names.empty() ? fold_name(k, run) : fold_name(k, run) + " " + names[static_cast<size_t>(run.fold)];
    table += fmt::format("  {:<10} {:>6} {:>6} {:>6} {:>6} {:>9} {:>9} {:>9}\n", label, t[0], t[1], t[2],
                         t[3], train, run.chain.items.size(), val);
  }
  table += fmt::format("  refit on every image: {} training, {} validation ({})\n",
                       k.refit.split.indices(data::Part::kTrain).size(),
                       k.refit.split.indices(data::Part::kVal).size(), config::name(c.s.balance));
  return table;
}

// The folds this process trains: every fold not loaded from a saved state, or `only`.
bool to_train(const Kfold& k, size_t i) {
  return !k.runs[i].saved && (k.only < 0 || static_cast<size_t>(k.only) == i);
}

std::vector<size_t> folds_to_train(const Kfold& k) {
  std::vector<size_t> out;
  for (size_t i = 0; i < k.runs.size(); ++i)
    if (to_train(k, i)) out.push_back(i);
  return out;
}

// Every fold whose saved state holds k's key is loaded (all but `only`, which is to be trained).
void load_saved(Kfold& k, const SayFn& say) {
  if (k.state_dir.empty() || k.only >= 0) return;
  std::vector<std::string> loaded, stale;
  for (auto& run : k.runs) {
    std::string why;
    if (load_fold(run, k, fold_file(k, run), why))
      loaded.push_back(fold_name(k, run));
    else if (why != "no such file")
      stale.push_back(fmt::format("{} ({})", fold_name(k, run), why));
  }
  if (!loaded.empty())
    say(
        fmt::format("  {} of {} folds saved by `oess run --fold` (same config and features), not trained "
                    "again: {}\n",
                    loaded.size(), k.runs.size(), fmt::join(loaded, ", ")));
  for (const auto& s : stale) say(fmt::format("  saved state not used, trained again: {}\n", s));
}

}  // namespace

std::string fold_name(const Kfold& k, const FoldRun& r) {
  return k.folds.size() > 1 ? fmt::format("r{}-fold{}", r.repeat + 1, r.fold + 1)
                            : fmt::format("fold{}", r.fold + 1);
}

std::string fold_file(const Kfold& k, const FoldRun& run) {
  return (fs::path(k.state_dir) / "folds" / fold_name(k, run) / "fold.pt").string();
}

void kfold_data(Chain& c, Kfold& k, const std::string& dir, const SayFn& say) {
  const auto& o = c.s.split;
  const auto& m = c.manifest;
  k.folds = data::make_folds(m, data::fold_options(o, c.s.seed));
  const data::Folds& first = k.folds[0];
  for (const auto& gap : data::group_grade_gaps(m, first))
    add_warning(c.warnings,
                {"group_missing_grade", fmt::format("leave_group_out by {}: {}", first.group_column, gap)});
  if (!first.grouped) {
    const CodedWarning coded;  // manifest_warnings: no_patient_column
    spdlog::warn(
        "{}: no patient column: the folds are made image by image, so one patient's images can be in a "
        "fold's training and test parts; figures will be optimistic if patients have several images",
        m.file);
  }
  k.runs.clear();
  for (size_t r = 0; r < k.folds.size(); ++r)
    for (int f = 0; f < k.folds[r].k; ++f) {
      FoldRun run;
      run.repeat = static_cast<int>(r);
      run.fold = f;
      run.chain.s = c.s;
      run.chain.manifest = m;
      run.chain.notes = c.notes;
      run.chain.split = data::fold_split(m, k.folds[r], f, o.val_fraction, mix_seed(c.s.seed, 0xF0, r));
      const auto leaked = data::patients_in_both(m, run.chain.split, data::Part::kTrain, data::Part::kTest);
      if (!leaked.empty())  // make_folds and fold_split keep patients together: this is a bug, not bad input
        throw Error(fmt::format("fold {}: patient {} is in both training and test", f + 1, leaked[0]));
      run.chain.items = balanced(c, run.chain.split);
      split_warnings(c.s, m, run.chain.split, fold_name(k, run) + ": ", /*test_part=*/false, c.warnings);
      k.runs.push_back(std::move(run));
    }
  data::Folds all;
  all.k = 1;
  all.fold.assign(m.samples.size(), 0);
  k.refit.s = c.s;
  k.refit.manifest = m;
  k.refit.notes = c.notes;
  k.refit.split = data::fold_split(m, all, -1, o.val_fraction, mix_seed(c.s.seed, 0xF0, 0xA11));
  k.refit.items = balanced(c, k.refit.split);
  split_warnings(c.s, m, k.refit.split, "refit: ", /*test_part=*/false, c.warnings);

  // One extraction for all: the images, and every augmented copy any fold (or the refit) trains on.
  std::set<std::pair<size_t, int>> copies;
  for (const auto& run : k.runs)
    for (const auto& it : run.chain.items)
      if (it.copy > 0) copies.emplace(it.sample, it.copy);
  for (const auto& it : k.refit.items)
    if (it.copy > 0) copies.emplace(it.sample, it.copy);
  c.items.clear();
  for (const auto& [sample, copy] : copies) c.items.push_back({sample, copy});
  c.split.part.assign(m.samples.size(), data::Part::kTest);  // every image is tested once per repeat

  write_fold_splits(c, k, dir);
  say(format_folds(c, k));
}

void kfold_sweep(Chain& c, Kfold& k, const SayFn& say) {
  const size_t ntaps = c.features.taps.size();
  for (auto& run : k.runs) {
    Chain& fc = run.chain;
    fc.features = c.features;
    fc.imagenet_taps = c.imagenet_taps;
    fc.other_taps = c.other_taps;
    fc.s.train.class_weights = fc.s.balance == config::Balance::kClassWeights;  // as run_sweep sets it
    index_rows(fc);
  }
  train::validate(c.s.train);
  load_saved(k, say);
  // Every fold's every tap on one pool of classifier.threads threads, one LibTorch thread each: the folds
  // train in parallel where threads allow, and no result depends on the thread count.
  const std::vector<size_t> train_runs = folds_to_train(k);
  std::vector<std::vector<train::TapResult>> results(k.runs.size(), std::vector<train::TapResult>(ntaps));
  std::optional<Progress> bar;  // none when every fold was saved
  if (!train_runs.empty()) bar.emplace("sweep", static_cast<int64_t>(train_runs.size() * ntaps), "taps");
  std::mutex progress_mutex;
  int64_t done = 0;
  {
    train::OneTorchThread single;
    parallel_for(train_runs.size() * ntaps, c.s.train_threads, [&](size_t j) {
      const size_t ri = train_runs[j / ntaps];
      const Chain& fc = k.runs[ri].chain;
      results[ri][j % ntaps] =
          train::fit_tap(fc.features, fc.features.taps[j % ntaps], fc.rows, fc.grades, fc.s.train);
      std::lock_guard<std::mutex> lock(progress_mutex);
      bar->update(++done);
    });
  }
  if (bar) bar->finish();
  for (size_t i = 0; i < k.runs.size(); ++i) {
    Chain& fc = k.runs[i].chain;
    if (!k.runs[i].saved && !to_train(k, i)) continue;
    if (!k.runs[i].saved) {
      fc.sweep.taps = std::move(results[i]);
      fc.sweep.best = train::best_tap(fc.sweep.taps);
    }
    const auto& b = fc.sweep.taps[fc.sweep.best];
    say(fmt::format("  {:<10} {} training rows, {} validation, {} test; best on validation {} ({}){}\n",
                    fold_name(k, k.runs[i]), fc.rows.train.size(), fc.rows.val.size(), fc.rows.test.size(),
                    b.tap, pct(b.val_accuracy), k.runs[i].saved ? " [saved]" : ""));
  }
}

void kfold_select(Chain& c, Kfold& k, const std::string& dir, const SayFn& say) {
  std::map<std::string, int> chosen;
  for (auto& run : k.runs) {
    if (run.chain.sweep.taps.empty()) continue;  // `--fold`: another process's fold
    select_tap(run.chain);
    write_layers(run.chain, (fs::path(dir) / "folds" / fold_name(k, run)).string());
    ++chosen[run.chain.sweep.taps[run.chain.selected].tap];
  }
  std::string line = k.only >= 0 ? "  tap chosen by this fold (on its own validation):"
                                 : "  taps chosen by the folds (each on its own validation):";
  for (const auto& t : c.features.taps)
    if (chosen.count(t)) line += fmt::format(" {} x{}", t, chosen[t]);
  say(line + "\n");
}

void kfold_ensemble(Chain& c, Kfold& k, const SayFn& say) {
  const std::vector<size_t> train_runs = folds_to_train(k);
  std::optional<Progress> bar;
  if (!train_runs.empty() && !c.s.finetune)  // with finetune.enabled, the finetune stage made each member
    bar.emplace("ensemble", static_cast<int64_t>(train_runs.size()), "folds");
  for (size_t j = 0; bar && j < train_runs.size(); ++j) {
    train_members(k.runs[train_runs[j]].chain);
    bar->update(static_cast<int64_t>(j + 1));
  }
  if (bar) bar->finish();
  if (k.only >= 0) {
    const FoldRun& run = k.runs[static_cast<size_t>(k.only)];
    fs::create_directories(fs::path(fold_file(k, run)).parent_path());
    save_fold(run, k, fold_file(k, run));
    say(fmt::format("  {}: {}; saved to {} (a run of the same config pools it)\n", fold_name(k, run),
                    run.chain.final_label, fold_file(k, run)));
    return;
  }
  say("  each fold: " + k.runs[0].chain.final_label + " (fold 1's tap)\n");
}

Chain kfold_refit(const Chain& c, const Kfold& k, const SayFn& say,
                  const std::function<void(Chain&)>& finetune) {
  Chain r = k.refit;
  const std::string tap = c.sweep.taps[c.selected].tap;
  r.features.paths = c.features.paths;
  r.features.meta = c.features.meta;
  r.features.taps = {tap};
  r.features.data[tap] = c.features.data.at(tap);
  index_rows(r);
  run_sweep(r);
  r.selected = 0;
  r.features = c.features;  // the ensemble may name other taps
  if (c.s.finetune && finetune)
    finetune(r);  // the fine-tuned network is the model: no members to train
  else
    train_members(r);
  r.metrics = c.metrics;
  r.metrics_text = c.metrics_text;
  r.predictions = c.predictions;  // out of fold: the error gallery's
  r.cross_validation = c.cross_validation;
  say(fmt::format(
      "  refit on every image: tap {} ({} training rows, {} validation, validation accuracy {}); "
      "{}\n",
      tap, r.rows.train.size(), r.rows.val.size(), pct(r.sweep.taps[0].val_accuracy), r.final_label));
  return r;
}

}  // namespace oess::experiment
