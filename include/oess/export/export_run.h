#pragma once
// oess/export/export_run.h — a trained run as one model file (export/model_file.h).
//
// RunModel: what an export needs of a run, in memory. `oess run` fills it from its own objects at the end of
//   the chain; export_run fills it from a run folder (config.resolved.yaml, model/classifiers.pt,
//   model/model.json, metrics.json, split.csv) — the same ModelFile either way.
// export_model: rebuilds the backbone from the run's weights (file or seeded init) and keeps its layers up to
//   the deepest member tap; the Grad-CAM / integrated-gradients references are the mean maps over
//   reference_images (none: no references).
// export_run(run_dir, out): errors name the folder and the missing file or tensor.
#include <string>
#include <vector>

#include "oess/export/model_file.h"
#include "oess/settings/settings.h"

namespace oess::exporting {

struct RunModel {
  settings::Settings s;
  std::string config_text;   // the run's config.resolved.yaml, as written
  std::string metrics_text;  // the run's metrics.json, as written ("{}" when it has none)
  std::string crop;          // data.crop as configured
  std::string classes_json;  // JSON list of the class names
  std::string members_json;  // JSON list: tap and training settings per member (model/model.json's)
  std::vector<std::string> member_taps;
  std::vector<train::LinearModel> members;
  std::vector<std::string> reference_images;  // the run's first (up to 64) training images
  // Backbone tensors a finetune stage trained (state-dict names): they replace the weights file's. From a
  // folder: model/finetuned.pt, which the export stage writes when the run fine-tuned.
  io::StateDict finetuned;
  // calibration.method: model.json's "calibration" block ({"method": "none"}, the temperature or Platt's
  // (a, b) fitted).
  std::string calibration_json = R"({"method": "none"})";
};

inline constexpr const char* kFinetunedFile = "finetuned.pt";  // in the run's model/ folder

inline constexpr size_t kReferenceImages = 64;

ModelFile export_model(const RunModel& r);
void export_run(const std::string& run_dir, const std::string& out_file);

}  // namespace oess::exporting
