#pragma once
// Internal: `oess run`'s export stage — model/: the classifiers (tensors) and what they need to be used
// (model.json), the fine-tuned backbone tensors when the run fine-tuned (finetuned.pt), then the one-file
// model, model/model.pt, made in memory from the run's objects (as `oess export --run` makes it from the
// folder), and model/model.onnx with output.export: [.., onnx].
#include <string>

#include "oess/config/config.h"
#include "oess/experiment/chain.h"
#include "oess/export/model_file.h"

namespace oess::experiment {

// gallery.md / gallery.html (report::write_gallery): the report.gallery test images most wrong overall and
// per evaluate.by group, with the exported model's Grad-CAM heat maps (none after K-fold: the exported model
// is the refit, which trained on them). Nothing when report.gallery is 0 or every call is right.
void write_error_gallery(const Chain& c, const std::string& dir, const exporting::ModelFile& model);

void stage_export(const Chain& c, const std::string& dir, const config::Config& resolved,
                  const std::string& config_text);

}  // namespace oess::experiment
