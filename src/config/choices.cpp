// The closed sets of oess's options (config/choices.h).
#include "oess/config/choices.h"

#include <fmt/format.h>

#include <algorithm>

#include "oess/core/error.h"

namespace oess::config {

std::string Choices::expected() const {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i)
    out += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  return out;
}

size_t Choices::index(const std::string& value, const std::string& caller_what) const {
  const auto it = std::find(names.begin(), names.end(), value);
  if (it != names.end()) return static_cast<size_t>(it - names.begin());
  throw UsageError(
      fmt::format("{} \"{}\": expected {}", caller_what.empty() ? what : caller_what, value, expected()));
}

bool Choices::contains(const std::string& value) const {
  return std::find(names.begin(), names.end(), value) != names.end();
}

const Choices& split_methods() {
  static const Choices c{"split method",
                         {"per_class", "stratified", "grouped", "column", "kfold", "leave_group_out"}};
  return c;
}
const Choices& balance_modes() {
  static const Choices c{"balance", {"oversample", "class_weights", "none"}};
  return c;
}
const Choices& run_poolings() {
  static const Choices c{"pooling", {"avg", "max"}};
  return c;
}
const Choices& extract_poolings() {
  static const Choices c{"pooling", {"avg", "max", "none"}};
  return c;
}
const Choices& tasks() {
  static const Choices c{"task", {"oess4", "binary"}};
  return c;
}
const Choices& optimizers() {
  static const Choices c{"classifier.optimizer", {"adam", "sgd", "lbfgs"}};
  return c;
}
const Choices& monitors() {
  static const Choices c{"classifier.early_stopping.monitor", {"val_accuracy", "val_loss"}};
  return c;
}
const Choices& variations() {
  static const Choices c{"ensemble.variation", {"grid", "seed"}};
  return c;
}
const Choices& schedules() {
  static const Choices c{"finetune.schedule", {"cosine", "step", "constant"}};
  return c;
}
const Choices& heat_methods() {
  static const Choices c{"heat-map method", {"gradcam", "ig", "gradcam-ig"}};
  return c;
}
const Choices& export_formats() {
  static const Choices c{"export format", {"oess", "onnx"}};
  return c;
}

}  // namespace oess::config
