// The torchvision module tree and Keras topologies as the importer sees them (keras_layout.h).
#include "keras_layout.h"

#include <torch/torch.h>

namespace oess::models {

const std::vector<std::vector<int>>& inception_concats() {
  static const std::vector<std::vector<int>> t = {
      {6, 8, 11, 12},   {13, 15, 18, 19},         {20, 22, 25, 26},        {27, 30, 0},
      {31, 34, 39, 40}, {41, 44, 49, 50},         {51, 54, 59, 60},        {61, 64, 69, 70},
      {72, 76, 0},      {77, 79, 80, 83, 84, 85}, {86, 88, 89, 92, 93, 94}};
  return t;
}

std::vector<TorchConv> torch_convs(Backbone& b) {
  std::vector<TorchConv> out;
  const bool inception = b.arch() == Arch::kInceptionV3;
  for (const auto& item : b.module().named_modules("", /*include_self=*/false)) {
    const auto* conv = item.value()->as<torch::nn::Conv2d>();
    if (!conv) continue;
    std::string prefix = item.key();
    if (inception) {
      if (prefix.size() < 5 || prefix.compare(prefix.size() - 5, 5, ".conv") != 0) continue;
      prefix.resize(prefix.size() - 5);
      if (prefix.rfind("AuxLogits", 0) == 0) continue;
    }
    TorchConv c;
    c.prefix = prefix;
    c.weight_shape = conv->weight.sizes().vec();
    const auto& o = conv->options;
    c.kernel = {(*o.kernel_size())[0], (*o.kernel_size())[1]};
    c.stride = {(*o.stride())[0], (*o.stride())[1]};
    const auto& pad = c10::get<torch::ExpandingArray<2>>(o.padding());
    c.padding = {(*pad)[0], (*pad)[1]};
    out.push_back(std::move(c));
  }
  return out;
}

void inbound_names(const nlohmann::json& j, std::vector<std::string>& out) {
  if (j.is_array()) {
    if (j.size() >= 3 && j[0].is_string() && j[1].is_number()) {
      out.push_back(j[0].get<std::string>());
      return;
    }
    for (const auto& e : j) inbound_names(e, out);
  } else if (j.is_object()) {
    if (j.contains("keras_history") && j.at("keras_history").is_array() && !j.at("keras_history").empty() &&
        j.at("keras_history")[0].is_string()) {
      out.push_back(j.at("keras_history")[0].get<std::string>());
      return;
    }
    for (const auto& [k, v] : j.items()) inbound_names(v, out);
  }
}

}  // namespace oess::models
