#pragma once
// src/export/onnx_backbone.h — the backbone part of an ONNX export: the network's layers as ONNX nodes, from
// an exported model's backbone tensors (torchvision names), up to a given tap. Private to the export area.
//
// add_backbone(g, tensors, arch, keras, input, deepest, taps): models::emit_backbone (models/layer_graph.h)
// written as ONNX nodes.
//   Inception-v3: each BasicConv2d as one Conv with BatchNorm folded in (eps 1e-3, computed in float64),
//   then Relu; the branch AveragePools with count_include_pad 0 (keras) or 1 (torchvision); VGG-16: its
//   features.N (conv, ReLU, max-pool). Stages 0..deepest of tap_table(arch) run; every stage's value is
//   named after its tap. The classification heads' taps (fc1, fc2, logits) are refused: `oess run` builds
//   its backbones without them.
//   ensures: taps -> the value name of each requested canonical tap; folded = Conv + BatchNorm pairs folded.
//   errors (oess::Error): a missing or mis-shaped tensor, named.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "oess/io/weights.h"
#include "oess/models/taps.h"
#include "onnx_graph.h"

namespace oess::exporting::onnxw {

struct BackboneValues {
  std::map<std::string, std::string> taps;
  int folded = 0;
};

BackboneValues add_backbone(Graph& g, const io::StateDict& tensors, models::Arch arch, bool keras,
                            const std::string& input, int deepest, const std::vector<std::string>& taps);

}  // namespace oess::exporting::onnxw
