// A trained run as one model file, from the run's objects or from its folder (export/export_run.h).
#include "oess/export/export_run.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "oess/config/config.h"
#include "oess/core/atomic_file.h"
#include "oess/core/error.h"
#include "oess/data/manifest.h"
#include "oess/export/scorer.h"
#include "oess/io/csv.h"
#include "oess/models/backbone.h"
#include "oess/models/taps.h"
#include "oess/version.h"

namespace oess::exporting {
namespace {

namespace fs = std::filesystem;

// The backbone's parameters and buffers up to the deepest tap the members use.
io::StateDict backbone_prefix(const features::ExtractOptions& e, const std::vector<std::string>& member_taps,
                              const io::StateDict& finetuned) {
  auto backbone = models::load_backbone(e.backbone, e.weights, /*strict=*/true, e.seed);
  if (!finetuned.empty()) backbone->load(finetuned, /*strict=*/false);
  int deepest = -1;
  for (const auto& t : member_taps)
    deepest = std::max(deepest, models::resolve_tap(e.backbone.arch, base_tap(t)).index);
  torch::NoGradGuard no_grad;
  io::StateDict out;
  for (const auto& [key, t] : backbone->tensors()) {
    const int idx = models::layer_index(e.backbone.arch, key);
    if (idx >= 0 && idx <= deepest) out.emplace_back(key, t.detach().clone());
  }
  return out;
}

// The first kReferenceImages training images of the run's split.csv (manifest order), as files: the
// `split` column of a single split, the `refit` column of a K-fold run (the exported model's own part), as
// the export stage of `oess run` takes them.
std::vector<std::string> reference_images(const fs::path& dir, const settings::Settings& s) {
  std::vector<std::string> train;
  if (!fs::is_regular_file(dir / "split.csv")) return train;
  const auto man = data::read_manifest(settings::manifest_file(s), /*check_files=*/false);
  std::map<std::string, std::string> file_of;
  for (const auto& smp : man.samples) file_of[smp.rel_path] = smp.path;
  const auto split = io::read_csv((dir / "split.csv").string());
  const int path = split.column("path");
  const int part = split.find_column("", {"split", "refit"});
  if (path < 0 || part < 0) return train;
  const auto need = static_cast<size_t>(std::max(path, part));
  for (size_t r = 0; r < split.rows.size() && train.size() < kReferenceImages; ++r) {
    const auto& row = split.rows[r];
    if (row.size() > need && row[static_cast<size_t>(part)] == "train" &&
        file_of.count(row[static_cast<size_t>(path)]))
      train.push_back(file_of.at(row[static_cast<size_t>(path)]));
  }
  return train;
}

// Where the backbone's weights came from, and which member taps are ImageNet features (the weights file's own
// metadata; files without it: not stated).
std::string weights_note(const features::ExtractOptions& e, const std::vector<std::string>& member_taps) {
  if (e.weights == "none")
    return fmt::format(
        "seeded random backbone (seed {}): not ImageNet weights, scores are not ImageNet-based", e.seed);
  const auto sem = models::weights_semantics(e.weights);
  if (!sem.has_meta) return "torchvision-layout weights file; its provenance is not recorded in it";
  std::vector<std::string> imagenet, other;
  for (const auto& t : member_taps) {
    const std::string b = base_tap(t);
    auto in = [&b](const std::vector<std::string>& v) { return std::find(v.begin(), v.end(), b) != v.end(); };
    if (in(sem.imagenet_taps) && !in(imagenet)) imagenet.push_back(b);
    if (in(sem.other_taps) && !in(other)) other.push_back(b);
  }
  std::string note = sem.description.empty() ? std::string("weights with oess metadata") : sem.description;
  if (!imagenet.empty())
    note += fmt::format("; member taps with ImageNet weights: {}", fmt::join(imagenet, ", "));
  if (!other.empty())
    note +=
        fmt::format("; member taps NOT ImageNet (layers fine-tuned elsewhere): {}", fmt::join(other, ", "));
  return note;
}

}  // namespace

ModelFile export_model(const RunModel& r) {
  if (r.members.empty() || r.members.size() != r.member_taps.size())
    throw Error(fmt::format("export: {} members and {} member taps", r.members.size(), r.member_taps.size()));
  const auto& e = r.s.extract;
  ModelFile m;
  m.members = r.members;
  m.member_taps = r.member_taps;
  m.backbone = backbone_prefix(e, r.member_taps, r.finetuned);
  m.meta = {{"format", "oess-model"},
            {"format_version", std::to_string(kModelFormatVersion)},
            {"oess", OESS_VERSION_STRING},
            {"task", train::task_name(r.s.train.task)},
            {"classes", r.classes_json},
            {"arch", models::arch_name(e.backbone.arch)},
            {"weights", e.weights == "none" ? fmt::format("none:{}", e.seed) : e.weights},
            {"weights_note", weights_note(e, r.member_taps) +
                                 (r.finetuned.empty() ? ""
                                                      : fmt::format("; {} tensors fine-tuned by the run "
                                                                    "(finetune.*)",
                                                                    r.finetuned.size()))},
            {"transform_input", e.backbone.transform_input ? "true" : "false"},
            {"flavour", models::flavour_name(e.backbone.flavour)},
            {"preprocessing", e.preprocessing},
            {"crop", r.crop},
            {"mask", data::mask_text(e.mask)},
            {"clip", e.clip.text()},
            {"dicom_frame", std::to_string(e.dicom_frame)},
            {"pooling", r.s.poolings.front()},
            {"taps", nlohmann::json(m.member_taps).dump()},
            {"members", r.members_json},
            {"calibration", r.calibration_json},
            {"scale", r.s.report_scale},
            {"binary_names",
             nlohmann::json(r.s.binary_names.size() == 2 ? r.s.binary_names
                                                         : std::vector<std::string>{"healthy", "diseased"})
                 .dump()},
            {"config", r.config_text},
            {"metrics", r.metrics_text}};
  // Grad-CAM's reference: the mean activation maps over the reference images.
  if (!r.reference_images.empty()) {
    Scorer scorer(m, e.device, e.threads, e.batch);
    m.reference = scorer.mean_maps(r.reference_images);
  }
  return m;
}

void export_run(const std::string& run_dir, const std::string& out_file) {
  const fs::path dir(run_dir);
  for (const char* need : {"config.resolved.yaml", "model/classifiers.pt", "model/model.json"})
    if (!fs::is_regular_file(dir / need))
      throw Error(
          fmt::format("{}: no {} (is this an `oess run` folder whose export stage ran?)", run_dir, need));
  RunModel r;
  r.config_text = read_file((dir / "config.resolved.yaml").string());
  const auto cfg = config::load_config((dir / "config.resolved.yaml").string());
  r.s = settings::settings_from(cfg);
  r.crop = cfg.get_string("data.crop");
  const auto model_json = nlohmann::json::parse(read_file((dir / "model" / "model.json").string()));
  const std::string classifiers_file = (dir / "model" / "classifiers.pt").string();
  const auto classifiers = io::read_weights(classifiers_file);
  const std::map<std::string, torch::Tensor> by_name(classifiers.tensors.begin(), classifiers.tensors.end());
  for (size_t i = 0; i < model_json.at("members").size(); ++i) {
    r.member_taps.push_back(model_json["members"][i].at("tap").get<std::string>());
    r.members.push_back(get_member(by_name, i, r.s.train.task, classifiers_file));
  }
  if (r.members.empty()) throw Error(fmt::format("{}: model/model.json lists no members", run_dir));
  r.classes_json = model_json.at("classes").dump();
  r.members_json = model_json.at("members").dump();
  if (model_json.contains("calibration")) r.calibration_json = model_json["calibration"].dump();
  r.metrics_text =
      fs::is_regular_file(dir / "metrics.json") ? read_file((dir / "metrics.json").string()) : "{}";
  r.reference_images = reference_images(dir, r.s);
  if (r.s.finetune) {
    const fs::path tuned = dir / "model" / kFinetunedFile;
    if (!fs::is_regular_file(tuned))
      throw Error(fmt::format("{}: the run fine-tuned its backbone (finetune.enabled) but has no {}", run_dir,
                              tuned.string()));
    r.finetuned = io::read_weights(tuned.string()).tensors;
  }
  if (r.reference_images.empty())
    spdlog::warn(
        "{}: no training image of {}/split.csv found in {}: the model gets no heat-map references "
        "(`oess score --heatmap` will need --heatmap-method gradcam)",
        run_dir, run_dir, settings::manifest_file(r.s));
  write_model(out_file, export_model(r));
}

}  // namespace oess::exporting
