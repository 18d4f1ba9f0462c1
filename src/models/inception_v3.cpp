// Inception-v3 with torchvision's module names (Conv2d_1a_3x3 ... Mixed_7c, AuxLogits, fc). Each conv is
// conv (no bias) + BatchNorm (eps 0.001) + ReLU. The nine branch pools are avg_pool2d(3, 1, 1): torchvision
// counts the zero padding in each window's divisor; the Keras flavour divides by the pixels inside the
// image, as TensorFlow's 'same' average pooling does (Keras's BatchNorm without gamma is gamma = 1 in the
// weights file: oess weights import writes ones).
#include <torch/torch.h>

#include <functional>

#include "nets.h"

namespace oess::models::detail {
namespace {

using torch::ExpandingArray;
using torch::Tensor;

struct BasicConv2dImpl : torch::nn::Module {
  torch::nn::Conv2d conv{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
  BasicConv2dImpl(int64_t in, int64_t out, ExpandingArray<2> kernel, ExpandingArray<2> stride = 1,
                  ExpandingArray<2> padding = 0)
      : stride_(stride), padding_(padding) {
    conv = register_module(
        "conv", torch::nn::Conv2d(
                    torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding).bias(false)));
    bn = register_module("bn", torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(out).eps(0.001)));
  }
  // In place, as torchvision does: BatchNorm's backward needs its input, not its output, so autograd
  // (Grad-CAM) still works, and inference saves one allocation per layer.
  Tensor forward(const Tensor& x) {
    if (fused_w.defined()) return torch::conv2d(x, fused_w, fused_b, stride_, padding_).relu_();
    return bn->forward(conv->forward(x)).relu_();
  }
  void fold(bool on) {
    if (!on) {
      fused_w = fused_b = Tensor();
      return;
    }
    torch::NoGradGuard no_grad;
    const Tensor scale = bn->weight / torch::sqrt(bn->running_var + bn->options.eps());
    fused_w = (conv->weight * scale.reshape({-1, 1, 1, 1})).contiguous(conv->weight.suggest_memory_format());
    fused_b = bn->bias - bn->running_mean * scale;
  }
  Tensor fused_w, fused_b;  // defined while BatchNorm is folded in
  ExpandingArray<2> stride_, padding_;
};
TORCH_MODULE(BasicConv2d);

// Registers a BasicConv2d under `name` (the torchvision attribute name).
BasicConv2d add(torch::nn::Module& m, const std::string& name, int64_t in, int64_t out, ExpandingArray<2> k,
                ExpandingArray<2> s = 1, ExpandingArray<2> p = 0) {
  return m.register_module(name, BasicConv2d(in, out, k, s, p));
}

Tensor branch_avg_pool(const Tensor& x, bool keras) {
  return torch::avg_pool2d(x, /*kernel_size=*/3, /*stride=*/1, /*padding=*/1, /*ceil_mode=*/false,
                           /*count_include_pad=*/!keras);
}

struct InceptionAImpl : torch::nn::Module {
  BasicConv2d b1, b5_1, b5_2, b3_1, b3_2, b3_3, bp;
  bool keras;
  InceptionAImpl(int64_t in, int64_t pool_features, bool keras_pool)
      : b1(add(*this, "branch1x1", in, 64, 1)),
        b5_1(add(*this, "branch5x5_1", in, 48, 1)),
        b5_2(add(*this, "branch5x5_2", 48, 64, 5, 1, 2)),
        b3_1(add(*this, "branch3x3dbl_1", in, 64, 1)),
        b3_2(add(*this, "branch3x3dbl_2", 64, 96, 3, 1, 1)),
        b3_3(add(*this, "branch3x3dbl_3", 96, 96, 3, 1, 1)),
        bp(add(*this, "branch_pool", in, pool_features, 1)),
        keras(keras_pool) {}
  Tensor forward(const Tensor& x) {
    return torch::cat({b1(x), b5_2(b5_1(x)), b3_3(b3_2(b3_1(x))), bp(branch_avg_pool(x, keras))}, 1);
  }
};
TORCH_MODULE(InceptionA);

struct InceptionBImpl : torch::nn::Module {
  BasicConv2d b3, bd_1, bd_2, bd_3;
  explicit InceptionBImpl(int64_t in)
      : b3(add(*this, "branch3x3", in, 384, 3, 2)),
        bd_1(add(*this, "branch3x3dbl_1", in, 64, 1)),
        bd_2(add(*this, "branch3x3dbl_2", 64, 96, 3, 1, 1)),
        bd_3(add(*this, "branch3x3dbl_3", 96, 96, 3, 2)) {}
  Tensor forward(const Tensor& x) {
    return torch::cat({b3(x), bd_3(bd_2(bd_1(x))), torch::max_pool2d(x, /*kernel_size=*/3, /*stride=*/2)}, 1);
  }
};
TORCH_MODULE(InceptionB);

struct InceptionCImpl : torch::nn::Module {
  BasicConv2d b1, b7_1, b7_2, b7_3, bd_1, bd_2, bd_3, bd_4, bd_5, bp;
  bool keras;
  InceptionCImpl(int64_t in, int64_t c7, bool keras_pool)
      : b1(add(*this, "branch1x1", in, 192, 1)),
        b7_1(add(*this, "branch7x7_1", in, c7, 1)),
        b7_2(add(*this, "branch7x7_2", c7, c7, {1, 7}, 1, {0, 3})),
        b7_3(add(*this, "branch7x7_3", c7, 192, {7, 1}, 1, {3, 0})),
        bd_1(add(*this, "branch7x7dbl_1", in, c7, 1)),
        bd_2(add(*this, "branch7x7dbl_2", c7, c7, {7, 1}, 1, {3, 0})),
        bd_3(add(*this, "branch7x7dbl_3", c7, c7, {1, 7}, 1, {0, 3})),
        bd_4(add(*this, "branch7x7dbl_4", c7, c7, {7, 1}, 1, {3, 0})),
        bd_5(add(*this, "branch7x7dbl_5", c7, 192, {1, 7}, 1, {0, 3})),
        bp(add(*this, "branch_pool", in, 192, 1)),
        keras(keras_pool) {}
  Tensor forward(const Tensor& x) {
    return torch::cat(
        {b1(x), b7_3(b7_2(b7_1(x))), bd_5(bd_4(bd_3(bd_2(bd_1(x))))), bp(branch_avg_pool(x, keras))}, 1);
  }
};
TORCH_MODULE(InceptionC);

struct InceptionDImpl : torch::nn::Module {
  BasicConv2d b3_1, b3_2, b7_1, b7_2, b7_3, b7_4;
  explicit InceptionDImpl(int64_t in)
      : b3_1(add(*this, "branch3x3_1", in, 192, 1)),
        b3_2(add(*this, "branch3x3_2", 192, 320, 3, 2)),
        b7_1(add(*this, "branch7x7x3_1", in, 192, 1)),
        b7_2(add(*this, "branch7x7x3_2", 192, 192, {1, 7}, 1, {0, 3})),
        b7_3(add(*this, "branch7x7x3_3", 192, 192, {7, 1}, 1, {3, 0})),
        b7_4(add(*this, "branch7x7x3_4", 192, 192, 3, 2)) {}
  Tensor forward(const Tensor& x) {
    return torch::cat(
        {b3_2(b3_1(x)), b7_4(b7_3(b7_2(b7_1(x)))), torch::max_pool2d(x, /*kernel_size=*/3, /*stride=*/2)}, 1);
  }
};
TORCH_MODULE(InceptionD);

struct InceptionEImpl : torch::nn::Module {
  BasicConv2d b1, b3_1, b3_2a, b3_2b, bd_1, bd_2, bd_3a, bd_3b, bp;
  bool keras;
  InceptionEImpl(int64_t in, bool keras_pool)
      : b1(add(*this, "branch1x1", in, 320, 1)),
        b3_1(add(*this, "branch3x3_1", in, 384, 1)),
        b3_2a(add(*this, "branch3x3_2a", 384, 384, {1, 3}, 1, {0, 1})),
        b3_2b(add(*this, "branch3x3_2b", 384, 384, {3, 1}, 1, {1, 0})),
        bd_1(add(*this, "branch3x3dbl_1", in, 448, 1)),
        bd_2(add(*this, "branch3x3dbl_2", 448, 384, 3, 1, 1)),
        bd_3a(add(*this, "branch3x3dbl_3a", 384, 384, {1, 3}, 1, {0, 1})),
        bd_3b(add(*this, "branch3x3dbl_3b", 384, 384, {3, 1}, 1, {1, 0})),
        bp(add(*this, "branch_pool", in, 192, 1)),
        keras(keras_pool) {}
  Tensor forward(const Tensor& x) {
    const Tensor t3 = b3_1(x);
    const Tensor td = bd_2(bd_1(x));
    return torch::cat({b1(x), torch::cat({b3_2a(t3), b3_2b(t3)}, 1), torch::cat({bd_3a(td), bd_3b(td)}, 1),
                       bp(branch_avg_pool(x, keras))},
                      1);
  }
};
TORCH_MODULE(InceptionE);

// Present so full torchvision checkpoints load; never run in eval.
struct InceptionAuxImpl : torch::nn::Module {
  BasicConv2d conv0, conv1;
  torch::nn::Linear fc{nullptr};
  InceptionAuxImpl(int64_t in, int64_t num_classes)
      : conv0(add(*this, "conv0", in, 128, 1)), conv1(add(*this, "conv1", 128, 768, 5)) {
    fc = register_module("fc", torch::nn::Linear(768, num_classes));
  }
};
TORCH_MODULE(InceptionAux);

using Stage = std::function<Tensor(const Tensor&)>;
template <class Impl>
Stage stage(std::shared_ptr<Impl> m) {
  return [m](const Tensor& x) { return m->forward(x); };
}

class InceptionV3 : public Backbone, public torch::nn::Module {
 public:
  explicit InceptionV3(const BackboneOptions& o) : Backbone(o) {
    auto& m = static_cast<torch::nn::Module&>(*this);
    const bool k = o.flavour == Flavour::kKeras;
    auto c1a = add(m, "Conv2d_1a_3x3", 3, 32, 3, 2);
    auto c2a = add(m, "Conv2d_2a_3x3", 32, 32, 3);
    auto c2b = add(m, "Conv2d_2b_3x3", 32, 64, 3, 1, 1);
    auto c3b = add(m, "Conv2d_3b_1x1", 64, 80, 1);
    auto c4a = add(m, "Conv2d_4a_3x3", 80, 192, 3);
    auto m5b = register_module("Mixed_5b", InceptionA(192, 32, k));
    auto m5c = register_module("Mixed_5c", InceptionA(256, 64, k));
    auto m5d = register_module("Mixed_5d", InceptionA(288, 64, k));
    auto m6a = register_module("Mixed_6a", InceptionB(288));
    auto m6b = register_module("Mixed_6b", InceptionC(768, 128, k));
    auto m6c = register_module("Mixed_6c", InceptionC(768, 160, k));
    auto m6d = register_module("Mixed_6d", InceptionC(768, 160, k));
    auto m6e = register_module("Mixed_6e", InceptionC(768, 192, k));
    if (o.aux_logits) register_module("AuxLogits", InceptionAux(768, o.num_classes));
    auto m7a = register_module("Mixed_7a", InceptionD(768));
    auto m7b = register_module("Mixed_7b", InceptionE(1280, k));
    auto m7c = register_module("Mixed_7c", InceptionE(2048, k));
    if (o.classifier) fc_ = register_module("fc", torch::nn::Linear(2048, o.num_classes));

    Stage pool = [](const Tensor& x) { return torch::max_pool2d(x, /*kernel_size=*/3, /*stride=*/2); };
    // Forward order = tap_table(kInceptionV3) order.
    stages_ = {stage(c1a.ptr()), stage(c2a.ptr()), stage(c2b.ptr()), pool, stage(c3b.ptr()), stage(c4a.ptr()),
               pool, stage(m5b), stage(m5c), stage(m5d), stage(m6a), stage(m6b), stage(m6c), stage(m6d),
               stage(m6e), stage(m7a), stage(m7b), stage(m7c),
               [](const Tensor& x) {
                 return torch::adaptive_avg_pool2d(x, {1, 1});
               },
               // dropout is off in eval
               [this](const Tensor& x) { return fc_->forward(torch::flatten(x, 1)); }};
  }

  torch::nn::Module& module() override { return *this; }

  void fold_batchnorm(bool on) override {
    for (const auto& m : modules(/*include_self=*/false))
      if (auto* c = m->as<BasicConv2d>()) c->fold(on);
  }

  std::map<std::string, torch::Tensor> run(const torch::Tensor& input, int first, const Plan& p) override {
    const auto& table = tap_table(Arch::kInceptionV3);
    std::map<std::string, torch::Tensor> out;
    Tensor x = first == 0 && options().transform_input ? inception_transform_input(input) : input;
    if (x.dim() == 4) x = prepare_input(x);
    for (int i = first; i <= p.deepest; ++i) {
      x = stages_[static_cast<size_t>(i)](x);
      if (p.want[static_cast<size_t>(i)]) out.emplace(table[static_cast<size_t>(i)].name, x);
    }
    return out;
  }

 private:
  torch::nn::Linear fc_{nullptr};
  std::vector<Stage> stages_;
};

}  // namespace

Tensor inception_transform_input(const Tensor& x) {
  const Tensor c0 = torch::unsqueeze(x.select(1, 0), 1) * (0.229 / 0.5) + (0.485 - 0.5) / 0.5;
  const Tensor c1 = torch::unsqueeze(x.select(1, 1), 1) * (0.224 / 0.5) + (0.456 - 0.5) / 0.5;
  const Tensor c2 = torch::unsqueeze(x.select(1, 2), 1) * (0.225 / 0.5) + (0.406 - 0.5) / 0.5;
  return torch::cat({c0, c1, c2}, 1);
}

std::unique_ptr<Backbone> make_inception_v3(const BackboneOptions& options) {
  // torch::nn::Module must be owned by a shared_ptr for some of its APIs (e.g. clone, modules(include_self)).
  return std::unique_ptr<Backbone>(new InceptionV3(options));
}

}  // namespace oess::models::detail
