// The backbones as layer calls (models/layer_graph.h).
#include "oess/models/layer_graph.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <functional>

#include "oess/core/error.h"

namespace oess::models {
namespace {

constexpr double kBatchNormEps = 1e-3;  // Inception-v3's BatchNorm, torchvision and Keras alike

// The backbone's tensors by name, each asked for by the graph and checked.
class Weights {
 public:
  explicit Weights(const io::StateDict& s) : by_name_(s.begin(), s.end()) {}
  torch::Tensor get(const std::string& key, std::vector<int64_t> dims_or_empty = {}) const {
    auto it = by_name_.find(key);
    if (it == by_name_.end())
      throw Error(fmt::format("model: no backbone tensor {} (the network needs it)", key));
    if (!dims_or_empty.empty() && it->second.sizes().vec() != dims_or_empty)
      throw Error(fmt::format("model: backbone tensor {} is [{}], expected [{}]", key,
                              fmt::join(it->second.sizes(), ", "), fmt::join(dims_or_empty, ", ")));
    return it->second.to(torch::kCPU, torch::kFloat64).contiguous();
  }

 private:
  std::map<std::string, torch::Tensor> by_name_;
};

class Emitter {
 public:
  Emitter(LayerSink& s, const Weights& w, bool keras) : s_(s), w_(w), keras_(keras) {}
  int folded = 0;

  // Conv + BatchNorm + ReLU of torchvision's BasicConv2d `p`, folded into one convolution: stride-1
  // convolutions pad to keep the size ("same", what every stride-1 convolution inside the mixed blocks does),
  // strided ones and the stem's marked valid ones do not pad.
  int conv_bn(const std::string& p, int x, int64_t stride = 1, bool same = true) {
    const auto w = w_.get(p + ".conv.weight");
    if (w.dim() != 4) throw Error(fmt::format("model: backbone tensor {}.conv.weight is not 4-D", p));
    const int64_t out = w.size(0), kh = w.size(2), kw = w.size(3);
    const auto gamma = w_.get(p + ".bn.weight", {out}), beta = w_.get(p + ".bn.bias", {out});
    const auto mean = w_.get(p + ".bn.running_mean", {out}), var = w_.get(p + ".bn.running_var", {out});
    const auto scale = gamma / torch::sqrt(var + kBatchNormEps);
    const int64_t ph = same && stride == 1 ? (kh - 1) / 2 : 0, pw = same && stride == 1 ? (kw - 1) / 2 : 0;
    ++folded;
    return s_.conv(p, x, (w * scale.reshape({-1, 1, 1, 1})).contiguous(), (beta - mean * scale).contiguous(),
                   stride, ph, pw, /*relu=*/true);
  }
  int branch_pool(int x, const std::string& p) { return s_.branch_avg_pool(p + ".avg_pool", x, !keras_); }

  int mixed_a(const std::string& p, int x, const std::string& name) {
    const int b1 = conv_bn(p + ".branch1x1", x);
    const int b5 = conv_bn(p + ".branch5x5_2", conv_bn(p + ".branch5x5_1", x));
    const int b3 =
        conv_bn(p + ".branch3x3dbl_3", conv_bn(p + ".branch3x3dbl_2", conv_bn(p + ".branch3x3dbl_1", x)));
    return s_.concat(name, {b1, b5, b3, conv_bn(p + ".branch_pool", branch_pool(x, p))});
  }
  int mixed_b(const std::string& p, int x, const std::string& name) {
    const int b3 = conv_bn(p + ".branch3x3", x, 2);
    const int bd =
        conv_bn(p + ".branch3x3dbl_3", conv_bn(p + ".branch3x3dbl_2", conv_bn(p + ".branch3x3dbl_1", x)), 2);
    return s_.concat(name, {b3, bd, s_.max_pool(p + ".max_pool", x, 3, 2)});
  }
  int mixed_c(const std::string& p, int x, const std::string& name) {
    const int b1 = conv_bn(p + ".branch1x1", x);
    int b7 = x;
    for (const char* s : {".branch7x7_1", ".branch7x7_2", ".branch7x7_3"}) b7 = conv_bn(p + s, b7);
    int bd = x;
    for (int k = 1; k <= 5; ++k) bd = conv_bn(fmt::format("{}.branch7x7dbl_{}", p, k), bd);
    return s_.concat(name, {b1, b7, bd, conv_bn(p + ".branch_pool", branch_pool(x, p))});
  }
  int mixed_d(const std::string& p, int x, const std::string& name) {
    const int b3 = conv_bn(p + ".branch3x3_2", conv_bn(p + ".branch3x3_1", x), 2);
    int b7 = x;
    for (const char* s : {".branch7x7x3_1", ".branch7x7x3_2", ".branch7x7x3_3"}) b7 = conv_bn(p + s, b7);
    b7 = conv_bn(p + ".branch7x7x3_4", b7, 2);
    return s_.concat(name, {b3, b7, s_.max_pool(p + ".max_pool", x, 3, 2)});
  }
  int mixed_e(const std::string& p, int x, const std::string& name) {
    const int b1 = conv_bn(p + ".branch1x1", x);
    const int t3 = conv_bn(p + ".branch3x3_1", x);
    const int td = conv_bn(p + ".branch3x3dbl_2", conv_bn(p + ".branch3x3dbl_1", x));
    return s_.concat(name, {b1, conv_bn(p + ".branch3x3_2a", t3), conv_bn(p + ".branch3x3_2b", t3),
                            conv_bn(p + ".branch3x3dbl_3a", td), conv_bn(p + ".branch3x3dbl_3b", td),
                            conv_bn(p + ".branch_pool", branch_pool(x, p))});
  }
  using Stage = std::function<int(int x, const std::string& name)>;

  // The classification heads' taps (VGG-16 fc1, fc2, logits; Inception-v3 logits).
  static Stage head_stage() {
    return [](int, const std::string& tap) -> int {
      throw Error(
          fmt::format("tap {} belongs to the classification head, which oess's models never use", tap));
    };
  }

  // Inception-v3's stages in tap_table order: the stem, the 11 mixed blocks, avgpool, fc.
  std::vector<Stage> inception_stages() {
    using E = Emitter;
    auto bind = [this](int (E::*f)(const std::string&, int, const std::string&), std::string p) {
      return [this, f, p](int x, const std::string& n) { return (this->*f)(p, x, n); };
    };
    return {[this](int x, const std::string&) { return conv_bn("Conv2d_1a_3x3", x, 2); },
            [this](int x, const std::string&) { return conv_bn("Conv2d_2a_3x3", x, 1, false); },
            [this](int x, const std::string&) { return conv_bn("Conv2d_2b_3x3", x); },
            [this](int x, const std::string& n) { return s_.max_pool(n, x, 3, 2); },
            [this](int x, const std::string&) { return conv_bn("Conv2d_3b_1x1", x); },
            [this](int x, const std::string&) { return conv_bn("Conv2d_4a_3x3", x, 1, false); },
            [this](int x, const std::string& n) { return s_.max_pool(n, x, 3, 2); },
            bind(&E::mixed_a, "Mixed_5b"),
            bind(&E::mixed_a, "Mixed_5c"),
            bind(&E::mixed_a, "Mixed_5d"),
            bind(&E::mixed_b, "Mixed_6a"),
            bind(&E::mixed_c, "Mixed_6b"),
            bind(&E::mixed_c, "Mixed_6c"),
            bind(&E::mixed_c, "Mixed_6d"),
            bind(&E::mixed_c, "Mixed_6e"),
            bind(&E::mixed_d, "Mixed_7a"),
            bind(&E::mixed_e, "Mixed_7b"),
            bind(&E::mixed_e, "Mixed_7c"),
            [this](int x, const std::string& n) { return s_.global_avg_pool(n, x); },
            head_stage()};
  }

  // VGG-16's: features.0..30 (configuration D: conv, ReLU or max-pool), then fc1, fc2, logits.
  std::vector<Stage> vgg_stages() {
    const auto& table = tap_table(Arch::kVgg16);
    std::vector<Stage> stages;
    for (int i = 0; i <= 30; ++i) {
      const std::string key = fmt::format("features.{}", i);
      const bool pool = table[static_cast<size_t>(i)].name.find("_pool") != std::string::npos;
      const bool conv = !pool && table[static_cast<size_t>(i)].name == key;
      if (pool) {
        stages.push_back([this](int x, const std::string& n) { return s_.max_pool(n, x, 2, 2); });
      } else if (conv) {
        stages.push_back([this, key](int x, const std::string&) {
          const auto w = w_.get(key + ".weight");
          const auto b = w_.get(key + ".bias", {w.size(0)});
          return s_.conv(key, x, w, b, 1, 1, 1, /*relu=*/false);
        });
      } else {
        stages.push_back([this](int x, const std::string& n) { return s_.relu(n, x); });
      }
    }
    for (int i = 0; i < 3; ++i) stages.push_back(head_stage());  // fc1, fc2, logits
    return stages;
  }

  std::map<std::string, int> run(Arch arch, int input, int deepest, const std::vector<std::string>& want) {
    const auto& table = tap_table(arch);
    const auto stages = arch == Arch::kInceptionV3 ? inception_stages() : vgg_stages();
    if (stages.size() != table.size()) throw Error("layer graph: stage table out of step with the taps");
    std::map<std::string, int> out;
    int x = input;
    for (int i = 0; i <= deepest; ++i) {
      const auto& tap = table[static_cast<size_t>(i)].name;
      x = stages[static_cast<size_t>(i)](x, tap);
      if (std::find(want.begin(), want.end(), tap) != want.end()) out[tap] = x;
    }
    return out;
  }

 private:
  LayerSink& s_;
  const Weights& w_;
  bool keras_;
};

}  // namespace

LayerGraph emit_backbone(LayerSink& sink, const io::StateDict& tensors, Arch arch, bool keras, int input,
                         int deepest, const std::vector<std::string>& taps) {
  const Weights weights(tensors);
  Emitter e(sink, weights, keras);
  LayerGraph g;
  g.taps = e.run(arch, input, deepest, taps);
  g.folded = e.folded;
  return g;
}

}  // namespace oess::models
