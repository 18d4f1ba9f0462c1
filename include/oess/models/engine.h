#pragma once
// oess/models/engine.h — a backbone's inference forward pass on oneDNN directly (runtime/net.h), the fast
// path behind Backbone::infer (issue #30).
//
// Built from the backbone's own tensors through models/layer_graph.h (the description the ONNX export writes
// too): BatchNorm folded, ReLU fused into each convolution, the weights reordered once into the kernels'
// layouts, Winograd for 3x3 stride-1 convolutions where oneDNN has it (AVX-512), activations in the layout
// the kernels choose. Everything up to the deepest feature tap is described; a call runs only what its taps
// need.
//
// Engine(backbone, height, width, winograd)
//   throws runtime::Unsupported where oneDNN cannot run a layer at this input size (Backbone::infer then
//   runs LibTorch, and says so once on the log).
// forward(x, taps)
//   requires: x float [N, 3, height, width] on the CPU, prepared as for Backbone::forward (normalised;
//             transform_input applied here when the backbone has it); taps: feature taps (no classification
//             head: Backbone::infer sends those to LibTorch).
//   ensures:  Backbone::forward's contract: canonical tap -> contiguous float [N, C, h, w].
// The weights are read once: after the backbone's weights change, build a new Engine (Backbone::infer does).
#include <torch/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace oess::runtime {
class Net;
}

namespace oess::models {

class Backbone;

class Engine {
 public:
  Engine(Backbone& backbone, int64_t height, int64_t width, bool winograd = true);
  ~Engine();
  std::map<std::string, torch::Tensor> forward(const torch::Tensor& x, const std::vector<std::string>& taps);
  // Plans batch n for these taps now (runtime::Net::prepare).
  void prepare(int64_t n, const std::vector<std::string>& taps);
  // The oneDNN kernels planned so far (runtime::Net::kernels).
  std::string kernels() const;

 private:
  // The values of these taps, each once, in order (names: their canonical names).
  std::vector<int> values_of(const std::vector<std::string>& taps, std::vector<std::string>& names) const;
  Backbone& backbone_;
  std::unique_ptr<runtime::Net> net_;
  std::map<std::string, int> taps_;  // canonical tap -> value
};

}  // namespace oess::models
