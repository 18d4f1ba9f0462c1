// The backbones as ONNX nodes (onnx_backbone.h): models::emit_backbone's layers, each written as ONNX nodes.
#include "onnx_backbone.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include "oess/core/error.h"
#include "oess/models/layer_graph.h"

namespace oess::exporting::onnxw {
namespace {

// Values are indices into the ONNX value names written so far; 0 is the graph's input.
class OnnxSink : public models::LayerSink {
 public:
  OnnxSink(Graph& g, const std::string& input) : g_(g), names_{input} {}
  const std::string& name(int v) const { return names_.at(static_cast<size_t>(v)); }

  int conv(const std::string& p, int x, const torch::Tensor& w, const torch::Tensor& b, int64_t stride,
           int64_t ph, int64_t pw, bool relu) override {
    const std::string wn = g_.constant(p + ".weight", w), bn = g_.constant(p + ".bias", b);
    const auto c = g_.op("Conv", {name(x), wn, bn}, relu ? p + ".conv" : p,
                         {attr_ints("kernel_shape", {w.size(2), w.size(3)}),
                          attr_ints("strides", {stride, stride}), attr_ints("pads", {ph, pw, ph, pw})});
    return add(relu ? g_.op("Relu", {c}, p) : c);
  }
  int relu(const std::string& n, int x) override { return add(g_.op("Relu", {name(x)}, n)); }
  int max_pool(const std::string& n, int x, int64_t k, int64_t s) override {
    return add(
        g_.op("MaxPool", {name(x)}, n, {attr_ints("kernel_shape", {k, k}), attr_ints("strides", {s, s})}));
  }
  int branch_avg_pool(const std::string& n, int x, bool count_include_pad) override {
    return add(
        g_.op("AveragePool", {name(x)}, n,
              {attr_ints("kernel_shape", {3, 3}), attr_ints("strides", {1, 1}),
               attr_ints("pads", {1, 1, 1, 1}), attr_int("count_include_pad", count_include_pad ? 1 : 0)}));
  }
  int concat(const std::string& n, const std::vector<int>& xs) override {
    std::vector<std::string> in;
    for (int v : xs) in.push_back(name(v));
    return add(g_.op("Concat", in, n, {attr_int("axis", 1)}));
  }
  int global_avg_pool(const std::string& n, int x) override {
    return add(g_.op("GlobalAveragePool", {name(x)}, n));
  }

 private:
  int add(const std::string& value) {
    names_.push_back(value);
    return static_cast<int>(names_.size()) - 1;
  }
  Graph& g_;
  std::vector<std::string> names_;
};

}  // namespace

BackboneValues add_backbone(Graph& g, const io::StateDict& tensors, models::Arch arch, bool keras,
                            const std::string& input, int deepest, const std::vector<std::string>& taps) {
  OnnxSink sink(g, input);
  const auto graph = models::emit_backbone(sink, tensors, arch, keras, 0, deepest, taps);
  BackboneValues out;
  for (const auto& [tap, v] : graph.taps) out.taps[tap] = sink.name(v);
  out.folded = graph.folded;
  return out;
}

}  // namespace oess::exporting::onnxw
