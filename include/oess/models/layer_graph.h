#pragma once
// oess/models/layer_graph.h — the backbones as a sequence of layer calls, for the runtimes that are not
// LibTorch modules: the ONNX export (export/) and the oneDNN inference engine (models/engine.h). One
// description of Inception-v3 and VGG-16, stage by stage in tap_table order, with the padding, pooling and
// BatchNorm semantics of models/inception_v3.cpp and models/vgg16.cpp.
//
// emit_backbone(sink, tensors, arch, keras, input, deepest, taps)
//   Inception-v3: each BasicConv2d as one convolution with BatchNorm folded in (eps 1e-3, computed in
//   float64) and ReLU; stride-1 convolutions pad to keep the size, strided ones and the stem's two marked
//   valid ones do not; the branch average pools count the padding (torchvision) or not (keras); the global
//   average pool. VGG-16: its features.N (conv, ReLU, max-pool). Stages 0..deepest of tap_table(arch) run;
//   each stage is named after its tap. The classification heads' taps (fc1, fc2, logits) are refused: oess
//   builds its backbones without them. ensures: taps -> the sink's value of each requested canonical tap;
//   folded = Conv + BatchNorm pairs folded. errors (oess::Error): a missing or mis-shaped tensor, named.
#include <torch/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "oess/io/weights.h"
#include "oess/models/taps.h"

namespace oess::models {

// Receives the layers; values are the sink's own ints. `name` is torchvision's module path
// ("Mixed_5b.branch1x1", "features.3") or the tap's name for pools and concatenations.
class LayerSink {
 public:
  virtual ~LayerSink() = default;
  // weight [out, in, kh, kw] and bias [out]: float64, CPU, contiguous. Pads are symmetric.
  virtual int conv(const std::string& name, int x, const torch::Tensor& weight, const torch::Tensor& bias,
                   int64_t stride, int64_t pad_h, int64_t pad_w, bool relu) = 0;
  virtual int relu(const std::string& name, int x) = 0;
  virtual int max_pool(const std::string& name, int x, int64_t kernel, int64_t stride) = 0;  // no padding
  // 3x3, stride 1, padding 1 (the Inception branch pools).
  virtual int branch_avg_pool(const std::string& name, int x, bool count_include_pad) = 0;
  virtual int concat(const std::string& name, const std::vector<int>& xs) = 0;
  virtual int global_avg_pool(const std::string& name, int x) = 0;
};

struct LayerGraph {
  std::map<std::string, int> taps;
  int folded = 0;
};

LayerGraph emit_backbone(LayerSink& sink, const io::StateDict& tensors, Arch arch, bool keras, int input,
                         int deepest, const std::vector<std::string>& taps);

}  // namespace oess::models
