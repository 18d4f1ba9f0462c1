#include "oess/models/preprocessing.h"

#include <fmt/format.h>

#include "oess/core/error.h"

namespace oess::models {

std::vector<std::string> preprocessing_preset_names() { return {"torchvision", "keras_tf", "keras_caffe"}; }

Preprocessing preprocessing_preset(const std::string& preset, Arch arch) {
  Preprocessing p;
  p.preset = preset;
  p.height = p.width = native_input_size(arch);
  if (preset == "torchvision") return p;  // the defaults
  if (preset == "keras_tf") {
    p.scale = 1.0 / 127.5;
    p.mean = {1.0, 1.0, 1.0};
    p.std = {1.0, 1.0, 1.0};
    return p;
  }
  if (preset == "keras_caffe") {
    p.bgr = true;
    p.scale = 1.0;
    p.mean = {103.939, 116.779, 123.68};  // B, G, R
    p.std = {1.0, 1.0, 1.0};
    return p;
  }
  throw UsageError(fmt::format(
      "unknown preprocessing preset \"{}\": expected torchvision, keras_tf or keras_caffe", preset));
}

}  // namespace oess::models
