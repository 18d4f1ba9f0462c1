// The settings of an experiment, read from its config (settings/settings.h).
#include "oess/settings/settings.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "oess/core/error.h"
#include "oess/core/random.h"
#include "oess/models/taps.h"

namespace oess::settings {
namespace {

namespace fs = std::filesystem;

// UsageError "KEY: message" from whatever a parser of that key threw.
template <typename F>
auto checked(const std::string& key, F&& f) {
  try {
    return f();
  } catch (const Error& e) {
    throw UsageError(fmt::format("{}: {}", key, e.what()));
  }
}

// The config file an origin ("FILE:LINE") names; "" for --set, defaults and set() origins.
std::string origin_file(const std::string& origin) {
  const size_t colon = origin.rfind(':');
  if (colon == std::string::npos || colon == 0) return "";
  const std::string line = origin.substr(colon + 1);
  if (line.empty() || line.find_first_not_of("0123456789") != std::string::npos) return "";
  return origin.substr(0, colon);
}

// A path key: relative to the folder of the config file that sets it, as `base:` paths are; given by --set
// or left at its default, relative to the working directory. Words (`synthetic`, `none`, "") stay.
std::string config_path(const config::Config& cf, const std::string& key) {
  const std::string m = cf.get_string(key);
  if (m == "synthetic" || m == "none" || m.empty() || fs::path(m).is_absolute()) return m;
  const std::string file = origin_file(cf.origin_of(key));
  if (file.empty()) return m;  // --set or a default: the working directory
  return (fs::path(file).parent_path() / m).lexically_normal().string();
}

// Settings made for the embedded synthetic data apply to it alone: on another manifest a value set by a
// shipped base config (not by the user's own config file or --set) falls back to the safe default.
void synthetic_only(const config::Config& cf, Settings& s) {
  if (s.manifest == "synthetic" || !s.split.allow_patient_overlap) return;
  const std::string origin = cf.origin_of("data.allow_patient_overlap");
  const std::string file = origin_file(origin);
  const bool users = origin == "--set" || file.empty() || (!cf.file.empty() && file == cf.file);
  if (users) return;
  s.split.allow_patient_overlap = false;
  add_warning(s.warnings,
              {"synthetic_only_setting",
               fmt::format("data.allow_patient_overlap: true comes from {}, made for the embedded synthetic "
                           "study split; on {} it is ignored and patients may not be in both training and "
                           "test (set it in your own config or with --set to allow it knowingly)",
                           origin, s.manifest)});
}

void data_settings(const config::Config& cf, Settings& s) {
  s.manifest = config_path(cf, "data.manifest");
  s.columns.path = cf.get_string("data.columns.path");
  s.columns.score = cf.get_string("data.columns.score");
  s.columns.patient = cf.get_string("data.columns.patient");
  s.columns.readers = cf.get_strings("data.readers");
  const std::string files_origin = origin_file(cf.origin_of("data.reader_files"));
  for (const auto& f : cf.get_strings("data.reader_files"))  // relative to the config that names them
    s.columns.reader_files.push_back(
        fs::path(f).is_absolute() || files_origin.empty()
            ? f
            : (fs::path(files_origin).parent_path() / f).lexically_normal().string());
  s.columns.label = cf.get_string("data.label");
  s.columns.consensus = cf.get_string("data.consensus");
  if (s.columns.label != "score" && s.columns.readers.empty() && s.columns.reader_files.empty())
    throw UsageError(fmt::format("data.label \"{}\": name the readers (data.readers or data.reader_files)",
                                 s.columns.label));
  s.synth.out_dir = config_path(cf, "data.synthetic.dir");
  const auto counts = cf.get_ints("data.synthetic.counts");
  if (counts.size() != 4)
    throw UsageError(
        fmt::format("data.synthetic.counts: expected 4 counts (grades 0-3), got {}", counts.size()));
  for (size_t g = 0; g < 4; ++g) s.synth.counts[g] = static_cast<int>(counts[g]);
  s.synth.patients = static_cast<int>(cf.get_int("data.synthetic.patients"));
  s.synth.seed = static_cast<uint64_t>(cf.get_int("data.synthetic.seed"));
  s.synth.label_noise = cf.get_number("data.synthetic.label_noise");
  s.synth.threads = static_cast<int>(cf.get_int("features.threads"));
  s.split.method =
      config::parse<config::SplitMethod>(cf.get_string("data.split.method"), "data.split.method");
  s.split.val_per_class = static_cast<int>(cf.get_int("data.split.val_per_class"));
  s.split.test_per_class = static_cast<int>(cf.get_int("data.split.test_per_class"));
  s.split.val_fraction = cf.get_number("data.split.val_fraction");
  s.split.test_fraction = cf.get_number("data.split.test_fraction");
  s.split.seed = s.seed;
  s.split.allow_patient_overlap = cf.get_bool("data.allow_patient_overlap");
  synthetic_only(cf, s);
  s.split.folds = static_cast<int>(cf.get_int("data.split.folds"));
  s.split.repeats = static_cast<int>(cf.get_int("data.split.repeats"));
  s.split.group_column = cf.get_string("data.split.group_column");
  checked("data.split", [&] { data::validate_split_options(s.split); });
  s.balance = config::parse<config::Balance>(cf.get_string("data.balance"), "data.balance");
  s.augment = cf.get_bool("data.augment");
  s.allow_duplicates = cf.get_bool("data.allow_duplicates");
  s.check_data = cf.get_bool("data.check");
  if (s.augment && s.balance != config::Balance::kOversample)
    throw UsageError("data.augment: augmented copies come from oversampling; set data.balance: oversample");
}

void backbone_settings(const config::Config& cf, Settings& s) {
  auto& e = s.extract;
  e.backbone.arch = models::parse_arch(cf.get_string("backbone.arch"));
  e.backbone.classifier = false;
  e.backbone.aux_logits = false;
  e.backbone.transform_input = cf.get_bool("backbone.transform_input");
  e.weights = config_path(cf, "backbone.weights");
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
  e.mask = data::parse_mask(cf.get_strings("data.mask"), "data.mask");
  e.crop = checked("data.crop", [&] { return data::parse_crop(cf.get_string("data.crop")); });
  e.dicom_frame = static_cast<int>(cf.get_int("data.dicom_frame"));
  e.clip.sampling.frames = static_cast<int>(cf.get_int("data.clip.frames"));
  e.clip.sampling.every = static_cast<int>(cf.get_int("data.clip.every"));
  e.clip.sampling.max_frames = static_cast<int>(cf.get_int("data.clip.max_frames"));
  e.clip.pooling = cf.get_string("data.clip.pooling");
  e.clip.dicom = cf.get_bool("data.clip.dicom");
  e.clip.aggregate = cf.get_string("data.clip.aggregate");
  e.taps = cf.get_strings("features.layers");
  e.taps = checked("features.layers", [&] { return models::resolve_taps(e.backbone.arch, e.taps); });
  s.poolings = cf.get_strings("features.pooling");
  const std::string cache = config_path(cf, "features.cache");
  e.cache_dir = cache == "none" ? "" : cache.empty() ? features::default_cache_dir() : cache;
  e.batch = static_cast<int>(cf.get_int("features.batch"));
  e.threads = static_cast<int>(cf.get_int("features.threads"));
}

void classifier_settings(const config::Config& cf, Settings& s) {
  auto& t = s.train;
  t.task = train::parse_task(cf.get_string("classifier.task"));
  t.head = train::parse_head(cf.get_string("classifier.head"));
  t.optimizer =
      config::parse<config::Optimizer>(cf.get_string("classifier.optimizer"), "classifier.optimizer");
  t.lr = cf.get_number("classifier.lr");
  t.weight_decay = cf.get_number("classifier.weight_decay");
  t.momentum = cf.get_number("classifier.momentum");
  t.batch = static_cast<int>(cf.get_int("classifier.batch"));
  t.max_epochs = static_cast<int>(cf.get_int("classifier.max_epochs"));
  t.patience = static_cast<int>(cf.get_int("classifier.early_stopping.patience"));
  t.monitor = config::parse<config::Monitor>(cf.get_string("classifier.early_stopping.monitor"),
                                             "classifier.early_stopping.monitor");
  t.seed = s.seed;
  checked("classifier", [&] { train::validate(t); });
  s.train_threads = static_cast<int>(cf.get_int("classifier.threads"));
}

void finetune_settings(const config::Config& cf, Settings& s) {
  s.finetune = cf.get_bool("finetune.enabled");
  auto& n = s.finetune_net;
  n.train_from = cf.get_string("finetune.train_from");
  if (n.train_from != "auto" && n.train_from != "input")
    n.train_from = checked("finetune.train_from",
                           [&] { return models::resolve_tap(s.extract.backbone.arch, n.train_from).name; });
  n.lr_backbone = cf.get_number("finetune.lr_backbone");
  n.lr_head = cf.get_number("finetune.lr_head");
  n.momentum = cf.get_number("finetune.momentum");
  n.weight_decay = cf.get_number("finetune.weight_decay");
  auto& t = s.finetune_trainer;
  t.epochs = static_cast<int>(cf.get_int("finetune.epochs"));
  t.batch = static_cast<int>(cf.get_int("finetune.batch"));
  t.warmup_epochs = static_cast<int>(cf.get_int("finetune.warmup_epochs"));
  t.schedule = config::parse<config::Schedule>(cf.get_string("finetune.schedule"), "finetune.schedule");
  t.step_every = static_cast<int>(cf.get_int("finetune.step_every"));
  t.step_gamma = cf.get_number("finetune.step_gamma");
  t.patience = static_cast<int>(cf.get_int("finetune.patience"));
  t.monitor = s.train.monitor;
  t.seed = mix_seed(s.seed, static_cast<uint64_t>(cf.get_int("finetune.seed")));
  s.finetune_views = static_cast<int>(cf.get_int("finetune.views"));
  if (!s.finetune) return;
  finetune::validate(t);
  if (s.selection != "best" && n.train_from != "auto") {
    const auto arch = s.extract.backbone.arch;
    const int head = checked("selection.tap", [&] { return models::resolve_tap(arch, s.selection).index; });
    const int from = n.train_from == "input" ? -1 : models::resolve_tap(arch, n.train_from).index;
    if (from >= head)
      throw UsageError(fmt::format(
          "finetune.train_from: {} is not shallower than the head's tap {} (selection.tap): nothing would "
          "train but the head",
          n.train_from, s.selection));
  }
}

}  // namespace

std::string manifest_file(const Settings& s) {
  return s.manifest == "synthetic" ? (fs::path(s.synth.out_dir) / "labels.csv").string() : s.manifest;
}

Settings settings_from(const config::Config& cf) {
  Settings s;
  s.name = cf.get_string("name");
  if (s.name.empty()) s.name = cf.file.empty() ? "experiment" : fs::path(cf.file).stem().string();
  s.description = cf.get_string("description");
  s.seed = static_cast<uint64_t>(cf.get_int("seed"));
  s.out_dir = config_path(cf, "output.dir");
  for (size_t at; (at = s.out_dir.find("{name}")) != std::string::npos;) s.out_dir.replace(at, 6, s.name);

  data_settings(cf, s);
  backbone_settings(cf, s);
  classifier_settings(cf, s);
  s.selection = cf.get_string("selection.tap");
  s.allow_empty_grades = cf.get_bool("selection.allow_empty_grades");
  s.beside_study = cf.get_bool("report.beside_study");
  s.members = static_cast<int>(cf.get_int("ensemble.members"));
  s.ensemble_taps = cf.get_strings("ensemble.taps");
  s.variation = config::parse<config::Variation>(cf.get_string("ensemble.variation"), "ensemble.variation");
  const auto formats = cf.get_strings("report.formats");
  s.report_md = std::find(formats.begin(), formats.end(), "md") != formats.end();
  s.report_html = std::find(formats.begin(), formats.end(), "html") != formats.end();
  const auto exports = cf.get_strings("output.export");
  s.export_onnx = std::find(exports.begin(), exports.end(), "onnx") != exports.end();
  s.bootstrap = static_cast<int>(cf.get_int("report.bootstrap"));
  s.evaluate_by = cf.get_strings("evaluate.by");
  s.calibrate = cf.get_string("calibration.method") != "none";
  s.platt = cf.get_string("calibration.method") == "platt";
  if (s.platt && s.train.task != train::Task::kBinary)
    throw UsageError(
        "calibration.method: platt scales one probability (classifier.task: binary); for the four grades use "
        "temperature");
  s.gallery = static_cast<int>(cf.get_int("report.gallery"));
  s.report_scale = cf.get_string("report.scale");
  s.binary_names = cf.get_strings("report.binary_names");
  if (!s.binary_names.empty() && s.binary_names.size() != 2)
    throw UsageError(fmt::format("report.binary_names: {} name(s); give two (grades 0-1, then 2-3) or none",
                                 s.binary_names.size()));
  // leave_group_out's own column is always evaluated by group, first.
  if (s.split.method == config::SplitMethod::kLeaveGroupOut) {
    s.evaluate_by.erase(std::remove(s.evaluate_by.begin(), s.evaluate_by.end(), s.split.group_column),
                        s.evaluate_by.end());
    s.evaluate_by.insert(s.evaluate_by.begin(), s.split.group_column);
  }
  finetune_settings(cf, s);
  s.train.aggregate = s.extract.clip.aggregate;
  if (s.columns.label == "soft" && (s.finetune || s.extract.clip.aggregated()))
    throw UsageError(fmt::format("data.label: soft trains the linear classifiers only: not with {}",
                                 s.finetune ? "finetune.enabled" : "data.clip.aggregate"));
  if (s.extract.clip.aggregated() && s.finetune)
    throw UsageError(
        "data.clip.aggregate with finetune.enabled: fine-tuning trains on still images; use "
        "data.clip.aggregate: none (clips pooled by data.clip.pooling) or switch fine-tuning off");
  if (s.train.head == train::Head::kOrdinal && s.finetune)
    throw UsageError(
        "classifier.head: ordinal with finetune.enabled: the fine-tuned head is a softmax layer started from "
        "the sweep's classifier; fine-tune with classifier.head: softmax");
  return s;
}

}  // namespace oess::settings
