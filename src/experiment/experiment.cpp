// `oess run`: a config's whole chain into one run folder, stage by stage, with a log.
#include "oess/experiment/experiment.h"
#include "oess/experiment/slurm.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>

#include "console.h"
#include "export_stage.h"
#include "finetune_stage.h"
#include "oess/core/atomic_file.h"
#include "oess/core/error.h"
#include "oess/core/progress.h"
#include "oess/core/random.h"
#include "oess/experiment/chain.h"
#include "oess/experiment/kfold.h"
#include "oess/export/export_run.h"
#include "oess/export/model_file.h"
#include "oess/export/onnx.h"
#include "oess/io/weights.h"
#include "oess/models/backbone.h"
#include "oess/models/preprocessing.h"
#include "oess/models/taps.h"
#include "oess/version.h"
#include "run_folder.h"

namespace oess::experiment {
namespace {

namespace fs = std::filesystem;

enum StageIndex : size_t {
  kData,
  kExtract,
  kSweep,
  kSelect,
  kFinetune,
  kEnsemble,
  kEvaluate,
  kReport,
  kExport
};

std::string seconds(double s) {
  return s < 60 ? fmt::format("{:.1f} s", s) : fmt::format("{:.1f} min", s / 60);
}

// The dataset: the manifest, or the synthetic one (made on first use unless `may_make` is false).
std::string dataset_manifest(const Settings& s, bool may_make, Console& con) {
  const std::string labels = manifest_file(s);
  if (s.manifest != "synthetic") return labels;
  std::error_code ec;
  if (fs::exists(labels, ec)) {
    const auto m = data::read_manifest(labels, /*check_files=*/false);
    std::array<int, 4> have{};
    for (const auto& smp : m.samples) ++have[static_cast<size_t>(smp.score)];
    if (have != s.synth.counts)
      throw UsageError(
          fmt::format("data.synthetic.counts: {} holds [{}] images per grade, the config asks for [{}]: "
                      "remove the folder "
                      "or set data.synthetic.dir to another",
                      s.synth.out_dir, fmt::join(have, ", "), fmt::join(s.synth.counts, ", ")));
    return labels;
  }
  if (!may_make)
    throw Error(fmt::format("{}: no synthetic dataset yet (run the data stage first)", s.synth.out_dir));
  con.say(fmt::format("  making the synthetic dataset (first use): {} images in {}\n",
                      s.synth.counts[0] + s.synth.counts[1] + s.synth.counts[2] + s.synth.counts[3],
                      s.synth.out_dir));
  Progress bar("synth", s.synth.counts[0] + s.synth.counts[1] + s.synth.counts[2] + s.synth.counts[3]);
  const auto sum = data::generate_dataset(s.synth, [&bar](int done, int) { bar.update(done); });
  bar.finish(sum.relabelled ? fmt::format("{} labels moved by label_noise", sum.relabelled) : "");
  return labels;
}

void stage_data(Chain& c, Kfold& k, bool may_make, const std::string& dir, Console& con) {
  const std::string file = dataset_manifest(c.s, may_make, con);
  c.manifest = data::read_manifest(file, /*check_files=*/true, c.s.columns);
  manifest_warnings(c.manifest, c.warnings);
  con.say(c.manifest.has_patient ? fmt::format("  patients: column \"{}\"\n", c.manifest.patient_column)
                                 : "  patients: no patient column (image-level splits and bootstrap)\n");
  const SayFn say = [&con](const std::string& t) { con.say(t); };
  if (is_kfold(c.s)) {
    kfold_data(c, k, dir, say);  // leave_group_out's column checked there first
    check_group_columns(c, {});  // every image is tested once
    if (c.s.check_data)
      check_data(c, fold_parts(k), fold_part_names(k), say, dir + "/duplicates");
    else
      short_clip_warning(c);
    return;
  }
  c.split = data::make_split(c.manifest, c.s.split);
  check_group_columns(c, c.split.indices(data::Part::kTest));
  split_warnings(c.s, c.manifest, c.split, "", /*test_part=*/true, c.warnings);
  if (c.s.check_data)
    check_data(c, split_parts(c.split), {"train", "val", "test"}, say, dir + "/duplicates");
  else
    short_clip_warning(c);
  const auto train = c.split.indices(data::Part::kTrain);
  c.items = c.s.balance == config::Balance::kOversample
                ? data::oversample(train, c.manifest.scores(), c.s.seed)
                : data::no_balancing(train);
  data::write_split_csv((fs::path(dir) / "split.csv").string(), c.manifest, c.split);
  const auto cnt = c.split.counts(c.manifest);
  std::string table =
      fmt::format("  {}: {} images; split {}\n  {:<8} {:>6} {:>6} {:>6} {:>6}\n", file,
                  c.manifest.samples.size(), config::name(c.s.split.method), "", "0", "1", "2", "3");
  for (size_t p = 0; p < 3; ++p)
    table += fmt::format("  {:<8} {:>6} {:>6} {:>6} {:>6}\n", data::part_name(static_cast<data::Part>(p)),
                         cnt[p][0], cnt[p][1], cnt[p][2], cnt[p][3]);
  std::array<int, 4> bal{};
  for (const auto& it : c.items) ++bal[static_cast<size_t>(c.manifest.samples[it.sample].score)];
  table += fmt::format("  {:<8} {:>6} {:>6} {:>6} {:>6}  ({}{})\n", "balanced", bal[0], bal[1], bal[2],
                       bal[3], config::name(c.s.balance), c.s.augment ? ", copies augmented" : "");
  con.say(table);
}

void stage_extract(Chain& c, bool cache_only, Console& con) {
  std::vector<features::ExtractItem> items;
  for (const auto& smp : c.manifest.samples) items.push_back({smp.path, smp.rel_path, false, 0});
  if (c.s.augment)
    for (const auto& it : c.items)
      if (it.copy > 0) {
        const auto& smp = c.manifest.samples[it.sample];
        items.push_back({smp.path, copy_label(smp.rel_path, it.copy), true,
                         mix_seed(c.s.seed, it.sample, static_cast<uint64_t>(it.copy))});
      }
  c.features = {};
  for (const auto& pooling : c.s.poolings) {
    auto o = c.s.extract;
    o.pooling = pooling;
    o.cache_only = cache_only;
    Progress bar(c.s.poolings.size() > 1 ? "extract " + pooling : "extract",
                 static_cast<int64_t>(items.size()));
    features::ExtractStats st;
    auto f = features::extract_features(
        items, o, [&bar](int64_t d, int64_t) { bar.update(d); }, &st);
    bar.finish(fmt::format("{} from cache, {} computed", st.from_cache, st.computed));
    con.record(fmt::format("  extract {}: {} rows, {} from cache, {} computed{}{}\n", pooling, st.rows,
                           st.from_cache, st.computed, st.notes.empty() ? "" : "; ", st.notes));
    if (!st.notes.empty()) con.say(fmt::format("  decoding: {}\n", st.notes));
    if (c.s.poolings.size() == 1) {
      c.features = std::move(f);
      break;
    }
    if (c.features.paths.empty()) {
      c.features.paths = f.paths;
      c.features.meta = f.meta;
      c.features.meta["pooling"] = fmt::format("{}", fmt::join(c.s.poolings, ","));
    }
    for (const auto& tap : f.taps) {
      const std::string name = tap + "@" + pooling;
      c.features.taps.push_back(name);
      c.features.data[name] = f.data.at(tap);
    }
  }
  con.say(format_features(c, items.size() > c.manifest.samples.size()));
}

}  // namespace

const std::vector<std::string>& stage_names() {
  static const std::vector<std::string> names = {"data",     "extract",  "sweep",  "select", "finetune",
                                                 "ensemble", "evaluate", "report", "export"};
  return names;
}

StageRange parse_stages(const std::string& spec) {
  const auto& names = stage_names();
  auto index = [&](const std::string& n) {
    for (size_t i = 0; i < names.size(); ++i)
      if (names[i] == n) return i;
    throw UsageError(
        fmt::format("--stage \"{}\": \"{}\" is not a stage (stages: {}; X runs up to X, X.. from X)", spec, n,
                    fmt::join(names, ", ")));
  };
  StageRange r;
  if (spec.empty()) return r;
  const size_t dots = spec.find("..");
  if (dots == std::string::npos) {
    r.last = index(spec);
  } else {
    const std::string a = spec.substr(0, dots), b = spec.substr(dots + 2);
    if (!a.empty()) r.first = index(a);
    if (!b.empty()) r.last = index(b);
    if (a.empty() && b.empty()) throw UsageError("--stage \"..\": name a stage before or after the dots");
  }
  if (r.first > kSweep)
    throw UsageError(
        fmt::format("--stage \"{}\": a run can start from data, extract or sweep; the later stages "
                    "take seconds and work on the sweep's results",
                    spec));
  if (r.first > r.last)
    throw UsageError(fmt::format("--stage \"{}\": the first stage comes after the last", spec));
  return r;
}

namespace {

// The run's header on the console, and the notes every output carries (weights, data).
void announce(Chain& c, const config::Config& cf, const StageRange& r, const std::string& dir, Console& con) {
  const auto& names = stage_names();
  con.say(fmt::format("oess run {}: {} -> {}\n", c.s.name, cf.file.empty() ? "(config text)" : cf.file, dir));
  con.say(fmt::format("stages {}..{}; backbone {} ({}), task {}, seed {}\n", names[r.first], names[r.last],
                      models::arch_name(c.s.extract.backbone.arch),
                      c.s.extract.weights == "none" ? "random weights" : c.s.extract.weights,
                      train::task_name(c.s.train.task), c.s.seed));
  if (c.s.extract.weights == "none") {
    c.notes.push_back(kNoImagenetNote);
    add_warning(c.warnings, {"random_weights", kNoImagenetNote});
    con.say(fmt::format("\n*** {} ***\n", kNoImagenetNote));
  } else {
    // Imported weights say what they are (e.g. which taps hold ImageNet weights): console, log, report.
    const auto sem = models::weights_semantics(c.s.extract.weights);
    if (sem.has_meta) {
      c.notes.push_back("Weights: " + sem.description + ".");
      c.imagenet_taps = sem.imagenet_taps;
      c.other_taps = sem.other_taps;
      con.say(fmt::format("weights: {} (flavour {}, preprocessing {})\n", sem.description,
                          models::flavour_name(sem.flavour), c.s.extract.preprocessing));
    }
  }
  con.say(platform_lines(c));
  if (c.s.manifest == "synthetic")
    c.notes.push_back("Data: the embedded synthetic dataset (oess synth), not clinical images.");
  for (const auto& w : c.warnings)  // what reading the config changed (the rest come as the stages find them)
    if (w.code != "random_weights") con.say(fmt::format("warning [{}]: {}\n", w.code, w.message));
}

void stage_sweep(Chain& c, Console& con) {
  index_rows(c);
  Progress bar("sweep", static_cast<int64_t>(c.features.taps.size()), "taps");
  run_sweep(c, [&bar](int64_t d, int64_t) { bar.update(d); });
  bar.finish();
  con.say(fmt::format("  {} training rows, {} validation, {} test\n", c.rows.train.size(), c.rows.val.size(),
                      c.rows.test.size()));
  con.say(format_sweep_table(c));
}

void stage_select(Chain& c, const std::string& dir, Console& con) {
  select_tap(c);
  const auto& t = c.sweep.taps[c.selected];
  con.say(fmt::format("  final tap: {} (validation accuracy {:.1f}%, {})\n", t.tap, 100 * t.val_accuracy,
                      c.s.selection == "best" ? "best on validation" : "named by selection.tap"));
  write_layers(c, dir);  // marks the selected tap
  tap_warnings(c, c.warnings);
}

void stage_ensemble(Chain& c, Console& con) {
  if (c.s.finetune) return con.say(kFinetunedNoEnsemble);
  std::optional<Progress> bar;  // its total is known at the first member
  train_members(c, [&bar](int64_t d, int64_t n) {
    if (!bar) bar.emplace("ensemble", n, "members");
    bar->update(d);
  });
  if (bar) bar->finish();
  con.say("  " + c.final_label + "\n");
}

// written: predictions.csv and metrics.json are there already (K-fold: kfold_evaluate).
void stage_evaluate(Chain& c, const std::string& dir, Console& con, bool written) {
  if (c.rows.test.empty()) throw Error("the split left no test images: nothing to evaluate");
  if (!written) evaluate(c, dir);
  for (const auto& w : con.logged_warnings()) add_warning(c.warnings, {"log_warning", w});
  evaluate_readers(c);
  write_metrics(c, dir);
  con.say(format_final(c));
  for (const auto& line : c.readers_lines) con.say("  " + line + "\n");
  const auto& ci = c.metrics->accuracy.ci95;
  if (ci && !std::isnan(ci->lo) && !std::isnan(ci->hi))
    con.say(fmt::format("  accuracy 95% CI {:.1f}-{:.1f}% ({} bootstrap resamples)\n", 100 * ci->lo,
                        100 * ci->hi, c.s.bootstrap));
}

void stage_report(const Chain& c, const std::string& dir, Console& con) {
  write_report(c, dir);
  con.say(fmt::format("  {}/report.{}\n", dir,
                      c.s.report_md && c.s.report_html ? "{md,html}"
                      : c.s.report_md                  ? "md"
                                                       : "html"));
}

// RUN/log.txt, or a fold job's RUN/folds/<fold>/log.txt (several fold jobs run at once).
std::string log_file(const std::string& dir, const Kfold& k, int fold) {
  if (fold < 1 || static_cast<size_t>(fold) > k.runs.size()) return (fs::path(dir) / "log.txt").string();
  const auto folder = fs::path(dir) / "folds" / fold_name(k, k.runs[static_cast<size_t>(fold - 1)]);
  fs::create_directories(folder);
  return (folder / "log.txt").string();
}

// The run's last words: its times, its folder, and every warning that qualifies its result.
void say_done(const Chain& c, const RunSummary& summary, double total, Console& con) {
  std::string times;
  for (const auto& t : summary.times) times += fmt::format("{} {}, ", t.stage, seconds(t.seconds));
  con.say(fmt::format("\ndone in {} ({})\nrun folder: {}\n", seconds(total),
                      times.substr(0, times.size() - 2), summary.dir));
  if (!c.warnings.empty()) {
    con.say(fmt::format("\n{} warning(s), also in metrics.json and at the top of the report:\n",
                        c.warnings.size()));
    for (const auto& w : c.warnings)
      if (w.code != "random_weights") con.say(fmt::format("  [{}] {}\n", w.code, w.message));
  }
  if (c.s.extract.weights == "none")
    con.say("NOTE: no ImageNet weights were used (backbone.weights: none).\n");
}

// What one stage needs of the run besides the chain.
struct StageContext {
  const StageRange& r;
  const std::string& dir;
  const std::string& config_text;
  const config::Config& resolved;
  const RunOptions& options;
};

// Stage i (`run` false: a stage before the first asked for, which only reloads what later stages need).
void run_stage(StageIndex i, bool run, Chain& c, Kfold& k, const StageContext& x, Console& con) {
  const SayFn say = [&con](const std::string& t) { con.say(t); };
  const bool kfold = is_kfold(c.s);
  const auto& [r, dir, config_text, resolved, options] = x;
  switch (i) {
    case kData:
      stage_data(c, k, /*may_make=*/run, dir, con);
      break;
    case kExtract:
      stage_extract(c, /*cache_only=*/!run, con);
      if (kfold && r.last >= kSweep) kfold_saved(k, dir, config_text, c.features, options.fold);
      break;
    case kSweep:
      kfold ? kfold_sweep(c, k, say) : stage_sweep(c, con);
      break;
    case kSelect:
      kfold ? kfold_select(c, k, dir, say) : stage_select(c, dir, con);
      break;
    case kFinetune:
      kfold ? kfold_finetune(c, k, dir, config_text, say) : stage_finetune(c, dir, config_text, say);
      break;
    case kEnsemble:
      kfold ? kfold_ensemble(c, k, say) : stage_ensemble(c, con);
      break;
    case kEvaluate:
      if (kfold) kfold_evaluate(c, k, dir, say);
      stage_evaluate(c, dir, con, /*written=*/kfold);
      break;
    case kReport:
      stage_report(c, dir, con);
      break;
    case kExport:
      stage_export(
          kfold ? kfold_refit(c, k, say, [&](Chain& r) { stage_finetune(r, dir, config_text, say); }) : c,
          dir, resolved, config_text);
      con.say(
          fmt::format("  {}/model/model.pt (score with: oess score --model {}/model IMAGES...)\n", dir, dir));
      break;
  }
}

}  // namespace

RunSummary run_experiment(const config::Config& cf, const RunOptions& options) {
  Chain c;
  Kfold k;
  c.s = settings::settings_from(cf);
  c.warnings = c.s.warnings;
  apply_shard(options, c.s);
  const StageRange r = apply_fold(options, c.s);  // before anything is written
  RunSummary summary;
  summary.dir = options.out_dir.empty() ? c.s.out_dir : options.out_dir;
  const std::string& dir = summary.dir;
  config::Config resolved;
  const std::string config_text = resolved_config(cf, c.s, dir, resolved);
  check_before_run(cf, c.s, dir, config_text, options.force);
  const fs::path made = first_missing_folder(dir);  // removed again if the data stage fails
  fs::create_directories(dir);
  write_file_atomic((fs::path(dir) / "config.resolved.yaml").string(), config_text);
  Console con;
  SinkGuard sink(con);
  const auto& names = stage_names();
  announce(c, cf, r, dir, con);
  auto t_run = std::chrono::steady_clock::now();
  try {
    for (size_t i = 0; i <= r.last; ++i) {
      const bool run = i >= r.first;
      if (i > kExtract && !run) continue;  // parse_stages: runs start at data, extract or sweep
      if (run) con.say(fmt::format("\n== [{}/{}] {}\n", i + 1, names.size(), names[i]));
      const auto t0 = std::chrono::steady_clock::now();
      run_stage(static_cast<StageIndex>(i), run, c, k, {r, dir, config_text, resolved, options}, con);
      if (!run) continue;
      const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      summary.times.push_back({names[i], sec});
      con.say(fmt::format("  -- {} done in {}\n", names[i], seconds(sec)));
    }
  } catch (const std::exception& e) {
    // A run that fails in its data stage leaves nothing behind that it made (the error is on the console).
    const bool failed_in_data = summary.times.empty() && r.first == kData && !made.empty();
    std::error_code ec;
    if (failed_in_data) fs::remove_all(made, ec);
    if (!failed_in_data || ec) {
      con.record(fmt::format("\noess: error: {}\n", e.what()));
      write_file_atomic(log_file(dir, k, options.fold), con.text());
    }
    throw;
  }
  say_done(c, summary, std::chrono::duration<double>(std::chrono::steady_clock::now() - t_run).count(), con);
  write_file_atomic(log_file(dir, k, options.fold), con.text());
  return summary;
}

}  // namespace oess::experiment
