// The backbones as ONNX nodes (onnx_backbone.h): Inception-v3 and VGG-16 stage by stage, in the order and
// with the padding, pooling and BatchNorm semantics of models/inception_v3.cpp and models/vgg16.cpp.
#include "onnx_backbone.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <functional>
#include <map>

#include "oess/core/error.h"

namespace oess::exporting::onnxw {
namespace {

constexpr double kBatchNormEps = 1e-3;  // Inception-v3's BatchNorm, torchvision and Keras alike

// The backbone's tensors by name, each asked for by the graph and checked.
class Weights {
 public:
  explicit Weights(const io::StateDict& s) : by_name_(s.begin(), s.end()) {}
  torch::Tensor get(const std::string& key, std::vector<int64_t> dims_or_empty = {}) const {
    auto it = by_name_.find(key);
    if (it == by_name_.end())
      throw Error(fmt::format("model: no backbone tensor {} (the ONNX graph needs it)", key));
    if (!dims_or_empty.empty() && it->second.sizes().vec() != dims_or_empty)
      throw Error(fmt::format("model: backbone tensor {} is [{}], expected [{}]", key,
                              fmt::join(it->second.sizes(), ", "), fmt::join(dims_or_empty, ", ")));
    return it->second.to(torch::kFloat64);
  }

 private:
  std::map<std::string, torch::Tensor> by_name_;
};

// The Inception-v3 and VGG-16 graphs, stage by stage in tap_table order (models/taps.h); each stage maps the
// previous stage's output to its own, named after its tap.
class BackboneGraph {
 public:
  BackboneGraph(Graph& g, const Weights& w, bool keras) : g_(g), w_(w), keras_(keras) {}
  int folded = 0;

  // Conv + BatchNorm (+ ReLU) of torchvision's BasicConv2d `p`, folded into one Conv: stride 1 convolutions
  // pad to keep the size ("same", what every stride-1 convolution inside the mixed blocks does), strided and
  // the stem's marked valid ones do not pad.
  std::string conv_bn(const std::string& p, const std::string& x, int64_t stride = 1, bool same = true) {
    const auto w = w_.get(p + ".conv.weight");
    if (w.dim() != 4) throw Error(fmt::format("model: backbone tensor {}.conv.weight is not 4-D", p));
    const int64_t out = w.size(0), kh = w.size(2), kw = w.size(3);
    const auto gamma = w_.get(p + ".bn.weight", {out}), beta = w_.get(p + ".bn.bias", {out});
    const auto mean = w_.get(p + ".bn.running_mean", {out}), var = w_.get(p + ".bn.running_var", {out});
    const auto scale = gamma / torch::sqrt(var + kBatchNormEps);
    const std::string wn = g_.constant(p + ".weight", w * scale.reshape({-1, 1, 1, 1}));
    const std::string bn = g_.constant(p + ".bias", beta - mean * scale);
    const int64_t ph = same && stride == 1 ? (kh - 1) / 2 : 0, pw = same && stride == 1 ? (kw - 1) / 2 : 0;
    ++folded;
    const auto c = g_.op("Conv", {x, wn, bn}, p + ".conv",
                         {attr_ints("kernel_shape", {kh, kw}), attr_ints("strides", {stride, stride}),
                          attr_ints("pads", {ph, pw, ph, pw})});
    return g_.op("Relu", {c}, p);
  }
  std::string max_pool(const std::string& x, int64_t k, int64_t s, const std::string& name) {
    return g_.op("MaxPool", {x}, name, {attr_ints("kernel_shape", {k, k}), attr_ints("strides", {s, s})});
  }
  // The branch pools: 3x3, stride 1, padding 1; Keras divides by the pixels inside the image.
  std::string branch_pool(const std::string& x, const std::string& p) {
    return g_.op("AveragePool", {x}, p + ".avg_pool",
                 {attr_ints("kernel_shape", {3, 3}), attr_ints("strides", {1, 1}),
                  attr_ints("pads", {1, 1, 1, 1}), attr_int("count_include_pad", keras_ ? 0 : 1)});
  }
  std::string cat(const std::vector<std::string>& xs, const std::string& name) {
    return g_.op("Concat", xs, name, {attr_int("axis", 1)});
  }

  std::string mixed_a(const std::string& p, const std::string& x, const std::string& name) {
    const auto b1 = conv_bn(p + ".branch1x1", x);
    const auto b5 = conv_bn(p + ".branch5x5_2", conv_bn(p + ".branch5x5_1", x));
    const auto b3 =
        conv_bn(p + ".branch3x3dbl_3", conv_bn(p + ".branch3x3dbl_2", conv_bn(p + ".branch3x3dbl_1", x)));
    return cat({b1, b5, b3, conv_bn(p + ".branch_pool", branch_pool(x, p))}, name);
  }
  std::string mixed_b(const std::string& p, const std::string& x, const std::string& name) {
    const auto b3 = conv_bn(p + ".branch3x3", x, 2);
    const auto bd =
        conv_bn(p + ".branch3x3dbl_3", conv_bn(p + ".branch3x3dbl_2", conv_bn(p + ".branch3x3dbl_1", x)), 2);
    return cat({b3, bd, max_pool(x, 3, 2, p + ".max_pool")}, name);
  }
  std::string mixed_c(const std::string& p, const std::string& x, const std::string& name) {
    const auto b1 = conv_bn(p + ".branch1x1", x);
    auto b7 = x;
    for (const char* s : {".branch7x7_1", ".branch7x7_2", ".branch7x7_3"}) b7 = conv_bn(p + s, b7);
    auto bd = x;
    for (int k = 1; k <= 5; ++k) bd = conv_bn(fmt::format("{}.branch7x7dbl_{}", p, k), bd);
    return cat({b1, b7, bd, conv_bn(p + ".branch_pool", branch_pool(x, p))}, name);
  }
  std::string mixed_d(const std::string& p, const std::string& x, const std::string& name) {
    const auto b3 = conv_bn(p + ".branch3x3_2", conv_bn(p + ".branch3x3_1", x), 2);
    auto b7 = x;
    for (const char* s : {".branch7x7x3_1", ".branch7x7x3_2", ".branch7x7x3_3"}) b7 = conv_bn(p + s, b7);
    b7 = conv_bn(p + ".branch7x7x3_4", b7, 2);
    return cat({b3, b7, max_pool(x, 3, 2, p + ".max_pool")}, name);
  }
  std::string mixed_e(const std::string& p, const std::string& x, const std::string& name) {
    const auto b1 = conv_bn(p + ".branch1x1", x);
    const auto t3 = conv_bn(p + ".branch3x3_1", x);
    const auto td = conv_bn(p + ".branch3x3dbl_2", conv_bn(p + ".branch3x3dbl_1", x));
    return cat({b1, conv_bn(p + ".branch3x3_2a", t3), conv_bn(p + ".branch3x3_2b", t3),
                conv_bn(p + ".branch3x3dbl_3a", td), conv_bn(p + ".branch3x3dbl_3b", td),
                conv_bn(p + ".branch_pool", branch_pool(x, p))},
               name);
  }
  using Stage = std::function<std::string(const std::string& x, const std::string& name)>;

  // The classification heads' taps (VGG-16 fc1, fc2, logits; Inception-v3 logits): `oess run` builds its
  // backbones without the head, so no model it exports uses them.
  static Stage head_stage() {
    return [](const std::string&, const std::string& tap) -> std::string {
      throw Error(fmt::format(
          "onnx export: tap {} belongs to the classification head, which oess's models never use", tap));
    };
  }

  // Inception-v3's stages in tap_table order: the stem, the 11 mixed blocks, avgpool, fc.
  std::vector<Stage> inception_stages() {
    std::vector<Stage> stages;
    using S = BackboneGraph;
    auto bind = [this](std::string (S::*f)(const std::string&, const std::string&, const std::string&),
                       std::string p) {
      return [this, f, p](const std::string& x, const std::string& n) { return (this->*f)(p, x, n); };
    };
    stages = {
        [this](const std::string& x, const std::string&) { return conv_bn("Conv2d_1a_3x3", x, 2); },
        [this](const std::string& x, const std::string&) { return conv_bn("Conv2d_2a_3x3", x, 1, false); },
        [this](const std::string& x, const std::string&) { return conv_bn("Conv2d_2b_3x3", x); },
        [this](const std::string& x, const std::string& n) { return max_pool(x, 3, 2, n); },
        [this](const std::string& x, const std::string&) { return conv_bn("Conv2d_3b_1x1", x); },
        [this](const std::string& x, const std::string&) { return conv_bn("Conv2d_4a_3x3", x, 1, false); },
        [this](const std::string& x, const std::string& n) { return max_pool(x, 3, 2, n); },
        bind(&S::mixed_a, "Mixed_5b"),
        bind(&S::mixed_a, "Mixed_5c"),
        bind(&S::mixed_a, "Mixed_5d"),
        bind(&S::mixed_b, "Mixed_6a"),
        bind(&S::mixed_c, "Mixed_6b"),
        bind(&S::mixed_c, "Mixed_6c"),
        bind(&S::mixed_c, "Mixed_6d"),
        bind(&S::mixed_c, "Mixed_6e"),
        bind(&S::mixed_d, "Mixed_7a"),
        bind(&S::mixed_e, "Mixed_7b"),
        bind(&S::mixed_e, "Mixed_7c"),
        [this](const std::string& x, const std::string& n) { return g_.op("GlobalAveragePool", {x}, n); },
        head_stage()};
    return stages;
  }

  // VGG-16's: features.0..30, then fc1, fc2, logits.
  std::vector<Stage> vgg_stages() {
    const auto& table = models::tap_table(models::Arch::kVgg16);
    std::vector<Stage> stages;
    // features.N: conv, ReLU or max-pool (configuration D); the taps are exactly features.0..30.
    for (int i = 0; i <= 30; ++i) {
      const std::string key = fmt::format("features.{}", i);
      const bool pool = table[static_cast<size_t>(i)].name.find("_pool") != std::string::npos;
      const bool conv = !pool && table[static_cast<size_t>(i)].name == key;
      if (pool) {
        stages.push_back([this](const std::string& x, const std::string& n) { return max_pool(x, 2, 2, n); });
      } else if (conv) {
        stages.push_back([this, key](const std::string& x, const std::string& n) {
          const auto w = w_.get(key + ".weight");
          const auto b = w_.get(key + ".bias", {w.size(0)});
          return g_.op("Conv", {x, g_.constant(key + ".weight", w), g_.constant(key + ".bias", b)}, n,
                       {attr_ints("kernel_shape", {3, 3}), attr_ints("pads", {1, 1, 1, 1})});
        });
      } else {
        stages.push_back(
            [this](const std::string& x, const std::string& n) { return g_.op("Relu", {x}, n); });
      }
    }
    for (int i = 0; i < 3; ++i) stages.push_back(head_stage());  // fc1, fc2, logits
    return stages;
  }

  // Runs stages 0..deepest of `arch`; returns each wanted tap's value name (canonical tap -> value).
  std::map<std::string, std::string> run(models::Arch arch, const std::string& input, int deepest,
                                         const std::vector<std::string>& want) {
    const auto& table = models::tap_table(arch);
    const auto stages = arch == models::Arch::kInceptionV3 ? inception_stages() : vgg_stages();
    if (stages.size() != table.size()) throw Error("onnx export: stage table out of step with the taps");
    std::map<std::string, std::string> out;
    std::string x = input;
    for (int i = 0; i <= deepest; ++i) {
      const auto& tap = table[static_cast<size_t>(i)].name;
      x = stages[static_cast<size_t>(i)](x, tap);
      if (std::find(want.begin(), want.end(), tap) != want.end()) out[tap] = x;
    }
    return out;
  }

 private:
  Graph& g_;
  const Weights& w_;
  bool keras_;
};

}  // namespace

BackboneValues add_backbone(Graph& g, const io::StateDict& tensors, models::Arch arch, bool keras,
                            const std::string& input, int deepest, const std::vector<std::string>& taps) {
  const Weights weights(tensors);
  BackboneGraph net(g, weights, keras);
  BackboneValues out;
  out.taps = net.run(arch, input, deepest, taps);
  out.folded = net.folded;
  return out;
}

}  // namespace oess::exporting::onnxw
