// VGG-16 (configuration "D") with torchvision's module names: features.N, classifier.{0,3,6}.
#include <torch/torch.h>

#include "nets.h"
#include "oess/core/error.h"

namespace oess::models::detail {
namespace {

constexpr int kConfigD[] = {64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0};
constexpr int kLastFeature = 30;  // features.30 = block5_pool
enum class Op { kConv, kRelu, kPool };

struct Vgg16NetImpl : torch::nn::Module {
  torch::nn::Sequential features{nullptr}, classifier{nullptr};
  std::vector<Op> ops;                   // features.N kind
  std::vector<torch::nn::Conv2d> convs;  // features.N when a conv, else empty holder
  torch::nn::Linear fc6{nullptr}, fc7{nullptr}, fc8{nullptr};

  Vgg16NetImpl(bool with_classifier, int64_t num_classes) {
    torch::nn::Sequential seq;
    int64_t in = 3;
    for (int v : kConfigD) {
      if (v == 0) {
        seq->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(/*kernel_size=*/2).stride(2)));
        ops.push_back(Op::kPool);
        convs.emplace_back(nullptr);
      } else {
        torch::nn::Conv2d conv(torch::nn::Conv2dOptions(in, v, /*kernel_size=*/3).padding(1));
        seq->push_back(conv);
        ops.push_back(Op::kConv);
        convs.push_back(conv);
        seq->push_back(torch::nn::ReLU());
        ops.push_back(Op::kRelu);
        convs.emplace_back(nullptr);
        in = v;
      }
    }
    features = register_module("features", seq);
    if (with_classifier) {
      fc6 = torch::nn::Linear(512 * 7 * 7, 4096);
      fc7 = torch::nn::Linear(4096, 4096);
      fc8 = torch::nn::Linear(4096, num_classes);
      // Same indices as torchvision: Linear, ReLU, Dropout, Linear, ReLU, Dropout, Linear.
      classifier = register_module("classifier",
                                   torch::nn::Sequential(fc6, torch::nn::ReLU(), torch::nn::Dropout(0.5), fc7,
                                                         torch::nn::ReLU(), torch::nn::Dropout(0.5), fc8));
    }
  }
};
TORCH_MODULE(Vgg16Net);

class Vgg16 : public Backbone {
 public:
  explicit Vgg16(const BackboneOptions& o) : Backbone(o), net_(o.classifier, o.num_classes) {}
  torch::nn::Module& module() override { return *net_; }

  std::map<std::string, torch::Tensor> run(const torch::Tensor& input, int first, const Plan& p) override {
    const auto& table = tap_table(Arch::kVgg16);
    std::map<std::string, torch::Tensor> out;
    auto keep = [&](int index, const torch::Tensor& t) {
      if (p.want[static_cast<size_t>(index)]) out.emplace(table[static_cast<size_t>(index)].name, t);
    };
    torch::Tensor x = input.dim() == 4 ? prepare_input(input) : input;
    const int last = std::min(p.deepest, kLastFeature);
    for (int i = first; i <= last; ++i) {
      switch (net_->ops[static_cast<size_t>(i)]) {
        case Op::kConv:
          x = net_->convs[static_cast<size_t>(i)]->forward(x);
          break;
        case Op::kRelu:
          x = torch::relu(x);
          break;
        case Op::kPool:
          x = torch::max_pool2d(x, /*kernel_size=*/2, /*stride=*/2);
          break;
      }
      keep(i, x);
    }
    if (p.deepest <= kLastFeature) return out;
    // torchvision: AdaptiveAvgPool2d(7, 7) (identity at 224x224), flatten, classifier. Dropout is off in
    // eval.
    if (first <= kLastFeature + 1) {
      x = torch::flatten(torch::adaptive_avg_pool2d(x, {7, 7}), 1);
      x = net_->fc6->forward(x).relu_();
      keep(kLastFeature + 1, x);  // fc1
    }
    if (p.deepest == kLastFeature + 1) return out;
    if (first <= kLastFeature + 2) {
      x = net_->fc7->forward(x).relu_();
      keep(kLastFeature + 2, x);  // fc2
    }
    if (p.deepest == kLastFeature + 2) return out;
    keep(kLastFeature + 3, net_->fc8->forward(x));  // logits
    return out;
  }

 private:
  Vgg16Net net_;
};

}  // namespace

std::unique_ptr<Backbone> make_vgg16(const BackboneOptions& options) {
  return std::make_unique<Vgg16>(options);
}

}  // namespace oess::models::detail
