// `oess run`: a config's whole chain into one run folder, stage by stage, with a log.
#include "oess/experiment/experiment.h"

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

#include "oess/core/atomic_file.h"
#include "oess/core/error.h"
#include "oess/core/progress.h"
#include "oess/core/random.h"
#include "oess/experiment/chain.h"
#include "oess/export/model.h"
#include "oess/io/weights.h"
#include "oess/models/backbone.h"
#include "oess/models/preprocessing.h"
#include "oess/models/taps.h"
#include "oess/version.h"

namespace oess::experiment {
namespace {

namespace fs = std::filesystem;

enum StageIndex : size_t { kData, kExtract, kSweep, kSelect, kEnsemble, kEvaluate, kReport, kExport };

// Console text goes to stdout and into log.txt; warnings logged anywhere during the run go into log.txt too.
class Console {
 public:
  void say(const std::string& text) {
    std::lock_guard<std::mutex> lock(mutex_);
    std::fputs(text.c_str(), stdout);
    std::fflush(stdout);
    log_ += text;
  }
  void record(const std::string& text) {
    std::lock_guard<std::mutex> lock(mutex_);
    log_ += text;
  }
  std::string text() {
    std::lock_guard<std::mutex> lock(mutex_);
    return log_;
  }

 private:
  std::mutex mutex_;
  std::string log_;
};

class LogSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit LogSink(Console& c) : console_(c) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    console_.record(fmt::format("oess: {}: {}\n", spdlog::level::to_string_view(msg.level),
                                std::string(msg.payload.data(), msg.payload.size())));
  }
  void flush_() override {}

 private:
  Console& console_;
};

// Adds the log sink to the default logger for the run's lifetime.
class SinkGuard {
 public:
  explicit SinkGuard(Console& c) : sink_(std::make_shared<LogSink>(c)) {
    spdlog::default_logger()->sinks().push_back(sink_);
  }
  ~SinkGuard() {
    auto& sinks = spdlog::default_logger()->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
  }

 private:
  std::shared_ptr<LogSink> sink_;
};

// UsageError "KEY: message" from whatever a parser of that key threw.
template <typename F>
auto checked(const std::string& key, F&& f) {
  try {
    return f();
  } catch (const Error& e) {
    throw UsageError(fmt::format("{}: {}", key, e.what()));
  }
}

std::string absolute(const std::string& p) { return fs::absolute(p).lexically_normal().string(); }

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

void stage_data(Chain& c, bool may_make, const std::string& dir, Console& con) {
  const std::string file = dataset_manifest(c.s, may_make, con);
  c.manifest = data::read_manifest(file);
  c.split = data::make_split(c.manifest, c.s.split);
  const auto train = c.split.indices(data::Part::kTrain);
  c.items = c.s.balance == "oversample" ? data::oversample(train, c.manifest.scores(), c.s.seed)
                                        : data::no_balancing(train);
  data::write_split_csv((fs::path(dir) / "split.csv").string(), c.manifest, c.split);
  const auto cnt = c.split.counts(c.manifest);
  std::string table = fmt::format("  {}: {} images; split {}\n  {:<8} {:>6} {:>6} {:>6} {:>6}\n", file,
                                  c.manifest.samples.size(), c.s.split.method, "", "0", "1", "2", "3");
  for (size_t p = 0; p < 3; ++p)
    table += fmt::format("  {:<8} {:>6} {:>6} {:>6} {:>6}\n", data::part_name(static_cast<data::Part>(p)),
                         cnt[p][0], cnt[p][1], cnt[p][2], cnt[p][3]);
  std::array<int, 4> bal{};
  for (const auto& it : c.items) ++bal[static_cast<size_t>(c.manifest.samples[it.sample].score)];
  table += fmt::format("  {:<8} {:>6} {:>6} {:>6} {:>6}  ({}{})\n", "balanced", bal[0], bal[1], bal[2],
                       bal[3], c.s.balance, c.s.augment ? ", copies augmented" : "");
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
  std::vector<std::string> shapes;
  for (const auto& tap : c.features.taps)
    shapes.push_back(fmt::format("{} {}", tap, c.features.data.at(tap).size(1)));
  con.say(fmt::format(
      "  {} rows ({} images{}); features per tap: {}\n", c.features.rows(), c.manifest.samples.size(),
      items.size() > c.manifest.samples.size() ? " + augmented copies" : "", fmt::join(shapes, ", ")));
}

// model/: the classifiers (tensors) and what they need to be used (JSON); the export stage then writes the
// one-file model, model/model.pt.
void stage_export(const Chain& c, const std::string& dir) {
  const fs::path model = fs::path(dir) / "model";
  fs::create_directories(model);
  io::StateDict tensors;
  nlohmann::json members = nlohmann::json::array();
  for (size_t i = 0; i < c.members.size(); ++i) {
    const auto& m = c.members[i];
    const std::string p = fmt::format("member{}.", i);
    tensors.emplace_back(p + "mean", m.model.mean);
    tensors.emplace_back(p + "std", m.model.std);
    tensors.emplace_back(p + "weight", m.model.weight);
    tensors.emplace_back(p + "bias", m.model.bias);
    members.push_back({{"tap", m.tap},
                       {"lr", m.options.lr},
                       {"weight_decay", m.options.weight_decay},
                       {"batch", m.options.batch},
                       {"seed", m.options.seed}});
  }
  io::write_torch_dict((model / "classifiers.pt").string(), tensors);
  const auto& e = c.s.extract;
  nlohmann::json j = {
      {"format", "oess-model-folder"},
      {"format_version", 1},
      {"oess", OESS_VERSION_STRING},
      {"task", train::task_name(c.s.train.task)},
      {"classes", c.s.train.task == train::Task::kOess4 ? nlohmann::json{"0", "1", "2", "3"}
                                                        : nlohmann::json{"healthy", "diseased"}},
      {"members", members},
      {"backbone",
       {{"arch", models::arch_name(e.backbone.arch)},
        {"weights", c.features.meta.count("weights") ? c.features.meta.at("weights") : e.weights},
        {"transform_input", e.backbone.transform_input},
        {"preprocessing", e.preprocessing}}},
      {"pooling", c.s.poolings},
      {"config", "../config.resolved.yaml"},
      {"metrics", c.metrics_json.empty() ? nlohmann::json() : nlohmann::json::parse(c.metrics_json)}};
  if (e.backbone.flavour == models::Flavour::kKeras) j["backbone"]["flavour"] = "keras";
  write_file_atomic((model / "model.json").string(), j.dump(2) + "\n");
}

}  // namespace

const std::vector<std::string>& stage_names() {
  static const std::vector<std::string> names = {"data",     "extract",  "sweep",  "select",
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

std::string manifest_file(const Settings& s) {
  return s.manifest == "synthetic" ? (fs::path(s.synth.out_dir) / "labels.csv").string() : s.manifest;
}

Settings settings_from(const config::Config& cf) {
  Settings s;
  s.name = cf.get_string("name");
  if (s.name.empty()) s.name = cf.file.empty() ? "experiment" : fs::path(cf.file).stem().string();
  s.description = cf.get_string("description");
  s.seed = static_cast<uint64_t>(cf.get_int("seed"));
  s.out_dir = cf.get_string("output.dir");
  for (size_t at; (at = s.out_dir.find("{name}")) != std::string::npos;) s.out_dir.replace(at, 6, s.name);

  s.manifest = cf.get_string("data.manifest");
  s.synth.out_dir = cf.get_string("data.synthetic.dir");
  const auto counts = cf.get_ints("data.synthetic.counts");
  if (counts.size() != 4)
    throw UsageError(
        fmt::format("data.synthetic.counts: expected 4 counts (grades 0-3), got {}", counts.size()));
  for (size_t g = 0; g < 4; ++g) s.synth.counts[g] = static_cast<int>(counts[g]);
  s.synth.patients = static_cast<int>(cf.get_int("data.synthetic.patients"));
  s.synth.seed = static_cast<uint64_t>(cf.get_int("data.synthetic.seed"));
  s.synth.label_noise = cf.get_number("data.synthetic.label_noise");
  s.synth.threads = static_cast<int>(cf.get_int("features.threads"));
  s.split.method = cf.get_string("data.split.method");
  s.split.val_per_class = static_cast<int>(cf.get_int("data.split.val_per_class"));
  s.split.test_per_class = static_cast<int>(cf.get_int("data.split.test_per_class"));
  s.split.val_fraction = cf.get_number("data.split.val_fraction");
  s.split.test_fraction = cf.get_number("data.split.test_fraction");
  s.split.seed = s.seed;
  s.split.allow_patient_overlap = cf.get_bool("data.allow_patient_overlap");
  checked("data.split", [&] { data::validate_split_options(s.split); });
  s.balance = cf.get_string("data.balance");
  s.augment = cf.get_bool("data.augment");
  if (s.augment && s.balance != "oversample")
    throw UsageError("data.augment: augmented copies come from oversampling; set data.balance: oversample");

  auto& e = s.extract;
  e.backbone.arch = models::parse_arch(cf.get_string("backbone.arch"));
  e.backbone.classifier = false;
  e.backbone.aux_logits = false;
  e.backbone.transform_input = cf.get_bool("backbone.transform_input");
  e.weights = cf.get_string("backbone.weights");
  std::error_code ec;
  if (e.weights != "none" && !fs::is_regular_file(e.weights, ec))
    throw UsageError(
        fmt::format("backbone.weights: {}: no such weights file (or `none` for random weights)", e.weights));
  e.seed = s.seed;
  e.preprocessing = cf.get_string("backbone.preprocessing");
  e.flavour = cf.get_string("backbone.flavour");
  checked("backbone", [&] { features::resolve_weights_semantics(e); });
  e.device = cf.get_string("backbone.device");
  checked("backbone.device", [&] { return models::parse_device(e.device); });
  e.crop = checked("data.crop", [&] { return data::parse_crop(cf.get_string("data.crop")); });
  e.dicom_frame = static_cast<int>(cf.get_int("data.dicom_frame"));
  e.taps = cf.get_strings("features.layers");
  e.taps = checked("features.layers", [&] { return models::resolve_taps(e.backbone.arch, e.taps); });
  s.poolings = cf.get_strings("features.pooling");
  const std::string cache = cf.get_string("features.cache");
  e.cache_dir = cache == "none" ? "" : cache.empty() ? features::default_cache_dir() : cache;
  e.batch = static_cast<int>(cf.get_int("features.batch"));
  e.threads = static_cast<int>(cf.get_int("features.threads"));

  auto& t = s.train;
  t.task = train::parse_task(cf.get_string("classifier.task"));
  t.optimizer = cf.get_string("classifier.optimizer");
  t.lr = cf.get_number("classifier.lr");
  t.weight_decay = cf.get_number("classifier.weight_decay");
  t.momentum = cf.get_number("classifier.momentum");
  t.batch = static_cast<int>(cf.get_int("classifier.batch"));
  t.max_epochs = static_cast<int>(cf.get_int("classifier.max_epochs"));
  t.patience = static_cast<int>(cf.get_int("classifier.early_stopping.patience"));
  t.monitor = cf.get_string("classifier.early_stopping.monitor");
  t.seed = s.seed;
  checked("classifier", [&] { train::validate(t); });
  s.train_threads = static_cast<int>(cf.get_int("classifier.threads"));
  s.selection = cf.get_string("selection.tap");
  s.members = static_cast<int>(cf.get_int("ensemble.members"));
  s.ensemble_taps = cf.get_strings("ensemble.taps");
  s.variation = cf.get_string("ensemble.variation");
  const auto formats = cf.get_strings("report.formats");
  s.report_md = std::find(formats.begin(), formats.end(), "md") != formats.end();
  s.report_html = std::find(formats.begin(), formats.end(), "html") != formats.end();
  s.bootstrap = static_cast<int>(cf.get_int("report.bootstrap"));
  return s;
}

RunSummary run_experiment(const config::Config& cf, const RunOptions& options) {
  Chain c;
  c.s = settings_from(cf);
  RunSummary summary;
  summary.dir = options.out_dir.empty() ? c.s.out_dir : options.out_dir;
  const std::string& dir = summary.dir;
  fs::create_directories(dir);
  Console con;
  SinkGuard sink(con);
  const auto& names = stage_names();
  const StageRange r = options.stages;

  // The resolved config: every key, paths made absolute so that it reruns from anywhere.
  config::Config resolved = cf;
  auto resolve_path = [&](const std::string& key, const std::string& value) {
    if (value != absolute(value)) resolved.set(key, nlohmann::json(absolute(value)).dump(), "made absolute");
  };
  resolved.set("name", nlohmann::json(c.s.name).dump(), resolved.origin_of("name"));
  resolve_path("output.dir", dir);
  if (c.s.manifest != "synthetic") resolve_path("data.manifest", c.s.manifest);
  resolve_path("data.synthetic.dir", c.s.synth.out_dir);
  if (c.s.extract.weights != "none") resolve_path("backbone.weights", c.s.extract.weights);
  if (!c.s.extract.cache_dir.empty()) resolve_path("features.cache", c.s.extract.cache_dir);
  write_file_atomic((fs::path(dir) / "config.resolved.yaml").string(),
                    fmt::format("# oess {} resolved from {} ({})\n", OESS_VERSION_STRING,
                                cf.file.empty() ? "text" : cf.file, fmt::join(cf.files, ", ")) +
                        resolved.yaml());

  con.say(fmt::format("oess run {}: {} -> {}\n", c.s.name, cf.file.empty() ? "(config text)" : cf.file, dir));
  con.say(fmt::format("stages {}..{}; backbone {} ({}), task {}, seed {}\n", names[r.first], names[r.last],
                      models::arch_name(c.s.extract.backbone.arch),
                      c.s.extract.weights == "none" ? "random weights" : c.s.extract.weights,
                      train::task_name(c.s.train.task), c.s.seed));
  if (c.s.extract.weights == "none") {
    c.notes.push_back(kNoImagenetNote);
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
  if (c.s.manifest == "synthetic")
    c.notes.push_back("Data: the embedded synthetic dataset (oess synth), not clinical images.");

  auto t_run = std::chrono::steady_clock::now();
  try {
    for (size_t i = 0; i <= r.last; ++i) {
      const bool run = i >= r.first;
      if (i > kExtract && !run) continue;  // parse_stages: runs start at data, extract or sweep
      if (run) con.say(fmt::format("\n== [{}/{}] {}\n", i + 1, names.size(), names[i]));
      const auto t0 = std::chrono::steady_clock::now();
      switch (i) {
        case kData:
          stage_data(c, /*may_make=*/run, dir, con);
          break;
        case kExtract:
          stage_extract(c, /*cache_only=*/!run, con);
          break;
        case kSweep: {
          index_rows(c);
          Progress bar("sweep", static_cast<int64_t>(c.features.taps.size()), "taps");
          run_sweep(c, [&bar](int64_t d, int64_t) { bar.update(d); });
          bar.finish();
          con.say(fmt::format("  {} training rows, {} validation, {} test\n", c.rows.train.size(),
                              c.rows.val.size(), c.rows.test.size()));
          con.say(format_sweep_table(c));
          break;
        }
        case kSelect: {
          select_tap(c);
          const auto& t = c.sweep.taps[c.selected];
          con.say(fmt::format("  final tap: {} (validation accuracy {:.1f}%, {})\n", t.tap,
                              100 * t.val_accuracy,
                              c.s.selection == "best" ? "best on validation" : "named by selection.tap"));
          write_layers(c, dir);  // marks the selected tap
          break;
        }
        case kEnsemble: {
          std::optional<Progress> bar;  // its total is known at the first member
          train_members(c, [&bar](int64_t d, int64_t n) {
            if (!bar) bar.emplace("ensemble", n, "members");
            bar->update(d);
          });
          if (bar) bar->finish();
          con.say("  " + c.final_label + "\n");
          break;
        }
        case kEvaluate: {
          if (c.rows.test.empty()) throw Error("the split left no test images: nothing to evaluate");
          evaluate(c, dir);
          con.say(format_final(c));
          const auto j = nlohmann::json::parse(c.metrics_json);
          const auto& ci = j["accuracy_ci95"];
          if (ci.is_array() && ci[0].is_number() && ci[1].is_number())
            con.say(fmt::format("  accuracy 95% CI {:.1f}-{:.1f}% ({} bootstrap resamples)\n",
                                100 * ci[0].get<double>(), 100 * ci[1].get<double>(), c.s.bootstrap));
          break;
        }
        case kReport:
          write_report(c, dir);
          con.say(fmt::format("  {}/report.{}\n", dir,
                              c.s.report_md && c.s.report_html ? "{md,html}"
                              : c.s.report_md                  ? "md"
                                                               : "html"));
          break;
        case kExport:
          stage_export(c, dir);
          exporting::export_run(dir, (fs::path(dir) / "model" / "model.pt").string());
          con.say(fmt::format("  {}/model/model.pt (score with: oess score --model {}/model IMAGES...)\n",
                              dir, dir));
          break;
      }
      if (!run) continue;
      const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      summary.times.push_back({names[i], sec});
      con.say(fmt::format("  -- {} done in {}\n", names[i], seconds(sec)));
    }
  } catch (const std::exception& e) {
    con.record(fmt::format("\noess: error: {}\n", e.what()));
    write_file_atomic((fs::path(dir) / "log.txt").string(), con.text());
    throw;
  }
  const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_run).count();
  std::string times;
  for (const auto& t : summary.times) times += fmt::format("{} {}, ", t.stage, seconds(t.seconds));
  con.say(fmt::format("\ndone in {} ({})\nrun folder: {}\n", seconds(total),
                      times.substr(0, times.size() - 2), dir));
  if (c.s.extract.weights == "none")
    con.say("NOTE: no ImageNet weights were used (backbone.weights: none).\n");
  write_file_atomic((fs::path(dir) / "log.txt").string(), con.text());
  return summary;
}

}  // namespace oess::experiment
