#pragma once
// Internal: `oess run`'s export stage — model/: the classifiers (tensors) and what they need to be used
// (model.json), the fine-tuned backbone tensors when the run fine-tuned (finetuned.pt), then the one-file
// model, model/model.pt, made in memory from the run's objects (as `oess export --run` makes it from the
// folder), and model/model.onnx with output.export: [.., onnx].
#include <string>

#include "oess/config/config.h"
#include "oess/experiment/chain.h"

namespace oess::experiment {

void stage_export(const Chain& c, const std::string& dir, const config::Config& resolved,
                  const std::string& config_text);

}  // namespace oess::experiment
