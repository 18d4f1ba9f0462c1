// `oess run`'s export stage (export_stage.h).
#include "export_stage.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "finetune_stage.h"
#include "oess/core/atomic_file.h"
#include "oess/export/export_run.h"
#include "oess/export/model_file.h"
#include "oess/export/onnx.h"
#include "oess/io/weights.h"
#include "oess/models/taps.h"
#include "oess/version.h"

namespace oess::experiment {

namespace fs = std::filesystem;

namespace {

// model.json's "calibration": what the final model's probabilities were scaled with.
nlohmann::json calibration_block(const Chain& c) {
  if (!c.calibration) return {{"method", "none"}};
  const auto& cal = *c.calibration;
  const std::string on = fmt::format("{} validation images", cal.validation_images);
  if (cal.platt())
    return {
        {"method", "platt"}, {"a", cal.platt_ab.at(0)[0]}, {"b", cal.platt_ab.at(0)[1]}, {"fitted_on", on}};
  return {{"method", "temperature"}, {"temperature", cal.temperatures.at(0)}, {"fitted_on", on}};
}

}  // namespace

void stage_export(const Chain& c, const std::string& dir, const config::Config& resolved,
                  const std::string& config_text) {
  const fs::path model = fs::path(dir) / "model";
  fs::create_directories(model);
  io::StateDict tensors;
  nlohmann::json members = nlohmann::json::array();
  exporting::RunModel r;
  for (size_t i = 0; i < c.members.size(); ++i) {
    const auto& m = c.members[i];
    exporting::put_member(tensors, i, m.model);
    members.push_back({{"tap", m.tap},
                       {"lr", m.options.lr},
                       {"weight_decay", m.options.weight_decay},
                       {"batch", m.options.batch},
                       {"seed", m.options.seed},
                       {"head", train::head_name(m.model.head)}});
    r.members.push_back(m.model);
    r.member_taps.push_back(m.tap);
  }
  io::write_torch_dict((model / "classifiers.pt").string(), tensors);
  if (c.s.finetune) r.finetuned = finetuned_tensors(dir, model.string());
  const auto& e = c.s.extract;
  const nlohmann::json classes = c.s.train.task == train::Task::kOess4
                                     ? nlohmann::json{"0", "1", "2", "3"}
                                     : nlohmann::json{"healthy", "diseased"};
  nlohmann::json j = {
      {"format", "oess-model-folder"},
      {"format_version", 1},
      {"oess", OESS_VERSION_STRING},
      {"task", train::task_name(c.s.train.task)},
      {"classes", classes},
      {"members", members},
      {"backbone",
       {{"arch", models::arch_name(e.backbone.arch)},
        {"weights", c.features.meta.count("weights") ? c.features.meta.at("weights") : e.weights},
        {"transform_input", e.backbone.transform_input},
        {"preprocessing", e.preprocessing}}},
      {"pooling", c.s.poolings},
      {"config", "../config.resolved.yaml"},
      {"metrics", c.metrics_text.empty() ? nlohmann::json() : nlohmann::json::parse(c.metrics_text)}};
  if (c.cross_validation.folds > 0)
    j["cross_validation"] = {
        {"folds", c.cross_validation.folds},
        {"repeats", c.cross_validation.repeats},
        {"refit",
         fmt::format(
             "refit on every image with tap {} (chosen by {} of {} folds), early-stopped on a held-out "
             "{:.0f}% of them; metrics: the folds' out-of-fold predictions",
             c.cross_validation.refit_tap, c.cross_validation.refit_chosen, c.cross_validation.rows.size(),
             100 * c.cross_validation.val_fraction)}};
  if (e.backbone.flavour == models::Flavour::kKeras) j["backbone"]["flavour"] = "keras";
  j["calibration"] = calibration_block(c);
  r.calibration_json = j["calibration"].dump();
  write_file_atomic((model / "model.json").string(), j.dump(2) + "\n");

  r.s = settings::settings_from(resolved);  // paths as `oess export --run` reads them: absolute
  r.config_text = config_text;
  r.metrics_text = c.metrics_text.empty() ? "{}" : c.metrics_text;
  r.crop = resolved.get_string("data.crop");
  r.classes_json = classes.dump();
  r.members_json = members.dump();
  for (size_t i = 0; i < c.manifest.samples.size() && r.reference_images.size() < exporting::kReferenceImages;
       ++i)
    if (c.split.part[i] == data::Part::kTrain)  // clips: the loader reads their middle frames
      r.reference_images.push_back(c.manifest.samples[i].path);
  const auto file = exporting::export_model(r);
  exporting::write_model((model / "model.pt").string(), file);
  if (c.s.export_onnx) {
    const auto onnx = exporting::export_onnx(file, (model / "model.onnx").string());
    spdlog::info("export: model/model.onnx ({:.1f} MB, {} nodes, opset {})", onnx.bytes / 1e6, onnx.nodes,
                 exporting::kOnnxOpset);
  }
  write_error_gallery(c, dir, file);
}

}  // namespace oess::experiment
