#pragma once
// src/models/keras_layout.h — what the Keras importer needs to know of the torchvision module tree and of
// Keras topologies: Inception-v3's concatenation order, the backbone's convolutions in order, a layer's
// inputs. Private to the models area.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "oess/models/backbone.h"

namespace oess::models {

// Each mixed block's concatenation, branch by branch: the 1-based conv number ending each branch, 0 for a
// max-pool branch (Keras's inception_v3.py and torchvision's forward() agree on this order).
const std::vector<std::vector<int>>& inception_concats();

struct TorchConv {
  std::string prefix;  // "Mixed_5b.branch1x1" (Inception) or "features.0" (VGG)
  std::vector<int64_t> weight_shape;
  std::vector<int64_t> kernel, stride, padding;
};

// The backbone's convolutions in module order (Inception: its BasicConv2d blocks, the aux head left out).
std::vector<TorchConv> torch_convs(Backbone& b);

// Collects the names of the layers feeding a layer, from Keras 2 inbound_nodes ([[name, node, tensor,
// kwargs], ...]) or Keras 3's ({args: [{config: {keras_history: [name, ...]}}]}).
void inbound_names(const nlohmann::json& j, std::vector<std::string>& out);

}  // namespace oess::models
