// The oneDNN inference engine for a backbone (models/engine.h).
#include "oess/models/engine.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "nets.h"
#include "oess/core/error.h"
#include "oess/models/backbone.h"
#include "oess/models/layer_graph.h"
#include "oess/runtime/net.h"

namespace oess::models {
namespace {

// emit_backbone's layers into a runtime::Net (values are the Net's, but for pending branch pools, below).
//
// An Inception branch's average pool followed by its 1x1 convolution runs the other way round: the
// convolution without bias or ReLU, then the pool with the bias and the ReLU fused into it. For a zero-padded
// average (the padding counted or not) and a per-pixel linear map, pool(W x) = W pool(x), so only rounding
// differs; the pool then reads the convolution's 32-192 channels instead of the block input's 192-768.
class NetSink : public LayerSink {
 public:
  explicit NetSink(runtime::Net& net) : net_(net) {}
  int conv(const std::string&, int x, const torch::Tensor& w, const torch::Tensor& b, int64_t stride,
           int64_t ph, int64_t pw, bool relu) override {
    const auto wf = w.to(torch::kFloat32).contiguous(), bf = b.to(torch::kFloat32).contiguous();
    if (x < 0 && w.size(2) == 1 && w.size(3) == 1 && stride == 1) {
      const Pending& p = pending_[static_cast<size_t>(-x - 1)];
      const std::vector<float> zero(static_cast<size_t>(w.size(0)), 0.f);
      const int c = net_.conv(p.x, wf.data_ptr<float>(), zero.data(), w.size(0), 1, 1, 1, 0, 0, false);
      return net_.avg_pool(c, 3, 1, 1, p.include_pad, bf.data_ptr<float>(), relu);
    }
    return net_.conv(value(x), wf.data_ptr<float>(), bf.data_ptr<float>(), w.size(0), w.size(2), w.size(3),
                     stride, ph, pw, relu);
  }
  int relu(const std::string&, int x) override { return net_.relu(value(x)); }
  int max_pool(const std::string&, int x, int64_t k, int64_t s) override {
    return net_.max_pool(value(x), k, s);
  }
  int branch_avg_pool(const std::string&, int x, bool count_include_pad) override {
    pending_.push_back({value(x), count_include_pad, -1});
    return -static_cast<int>(pending_.size());  // made when something other than a 1x1 convolution reads it
  }
  int concat(const std::string&, const std::vector<int>& xs) override {
    std::vector<int> in;
    for (int x : xs) in.push_back(value(x));
    return net_.concat(in);
  }
  int global_avg_pool(const std::string&, int x) override { return net_.global_avg_pool(value(x)); }
  // The Net's value for a sink value.
  int value(int x) {
    if (x >= 0) return x;
    Pending& p = pending_[static_cast<size_t>(-x - 1)];
    if (p.made < 0) p.made = net_.avg_pool(p.x, 3, 1, 1, p.include_pad);
    return p.made;
  }

 private:
  struct Pending {
    int x;
    bool include_pad;
    int made;
  };
  runtime::Net& net_;
  std::vector<Pending> pending_;
};

}  // namespace

Engine::Engine(Backbone& backbone, int64_t height, int64_t width, bool winograd) : backbone_(backbone) {
  const io::StateDict tensors = backbone.tensors();
  runtime::NetOptions o;
  o.winograd = winograd;
  net_ = std::make_unique<runtime::Net>(runtime::Shape{3, height, width}, o);
  const auto& table = tap_table(backbone.arch());
  std::vector<std::string> all;
  int deepest = -1;
  for (const auto& t : table)
    if (!t.classifier) {
      all.push_back(t.name);
      deepest = std::max(deepest, t.index);
    }
  NetSink sink(*net_);
  taps_ = emit_backbone(sink, tensors, backbone.arch(), backbone.options().flavour == Flavour::kKeras,
                        runtime::Net::kInput, deepest, all)
              .taps;
  for (auto& [tap, v] : taps_) v = sink.value(v);
}

Engine::~Engine() = default;

std::vector<int> Engine::values_of(const std::vector<std::string>& taps,
                                   std::vector<std::string>& names) const {
  std::vector<int> values;
  for (const auto& t : taps) {
    const auto& name = resolve_tap(backbone_.arch(), t).name;
    if (std::find(names.begin(), names.end(), name) != names.end()) continue;
    names.push_back(name);
    values.push_back(taps_.at(name));
  }
  return values;
}

void Engine::prepare(int64_t n, const std::vector<std::string>& taps) {
  std::vector<std::string> names;
  net_->prepare(n, values_of(taps, names));
}

std::map<std::string, torch::Tensor> Engine::forward(const torch::Tensor& input,
                                                     const std::vector<std::string>& taps) {
  torch::Tensor x = backbone_.options().transform_input ? detail::inception_transform_input(input) : input;
  x = x.to(torch::kFloat32).contiguous();
  const runtime::Shape in = net_->shape(runtime::Net::kInput);
  if (x.dim() != 4 || x.size(1) != in.c || x.size(2) != in.h || x.size(3) != in.w)
    throw Error(fmt::format("engine: input [{}] is not [N, {}, {}, {}]", fmt::join(x.sizes(), ", "), in.c,
                            in.h, in.w));
  const int64_t n = x.size(0);
  std::vector<std::string> names;
  const std::vector<int> values = values_of(taps, names);
  std::map<std::string, torch::Tensor> out;
  std::vector<float*> arrays;
  for (size_t i = 0; i < values.size(); ++i) {
    const auto s = net_->shape(values[i]);
    auto t = torch::empty({n, s.c, s.h, s.w}, torch::kFloat32);
    arrays.push_back(t.data_ptr<float>());
    out.emplace(names[i], t);
  }
  net_->run(x.data_ptr<float>(), n, values, arrays);
  return out;
}

std::string Engine::kernels() const { return net_->kernels(); }

// Backbone's side of the engine (backbone.h: infer, prepare_inference).

void Backbone::engine_refused(int64_t height, int64_t width, const std::string& why) {
  engine_note_ = fmt::format("LibTorch (the oneDNN engine cannot run {} at {}x{}: {})", arch_name(arch()),
                             height, width, why);
  spdlog::info("{}", engine_note_);
  engines_[{height, width}].reset();
}

Engine* Backbone::engine_for(int64_t height, int64_t width) {
  const auto size = std::make_pair(height, width);
  if (auto it = engines_.find(size); it != engines_.end()) return it->second.get();
  try {
    return (engines_[size] = std::make_shared<Engine>(*this, height, width)).get();
  } catch (const runtime::Unsupported& why) {
    engine_refused(height, width, why.what());
    return nullptr;
  }
}

bool Backbone::engine_applies(const std::vector<std::string>& taps) const {
  bool heads = false;
  for (const auto& t : taps) heads = heads || resolve_tap(arch(), t).classifier;
  return fast_.engine && device_.is_cpu() && !heads;
}

void Backbone::prepare_inference(int64_t n, int64_t height, int64_t width,
                                 const std::vector<std::string>& taps) {
  plan(taps);  // the same errors as forward() for unknown taps
  if (!engine_applies(taps)) return;
  torch::NoGradGuard no_grad;
  if (Engine* e = engine_for(height, width)) try {
      e->prepare(n, taps);
    } catch (const runtime::Unsupported& why) {
      engine_refused(height, width, why.what());
    }
}

std::map<std::string, torch::Tensor> Backbone::infer(const torch::Tensor& x,
                                                     const std::vector<std::string>& taps) {
  torch::NoGradGuard no_grad;
  if (!engine_applies(taps) || x.dim() != 4 || x.scalar_type() != torch::kFloat32) return forward(x, taps);
  plan(taps);
  if (Engine* e = engine_for(x.size(2), x.size(3))) try {
      auto out = e->forward(x, taps);
      engine_note_ = "oneDNN engine: " + e->kernels();
      return out;
    } catch (const runtime::Unsupported& why) {
      engine_refused(x.size(2), x.size(3), why.what());
    }
  return forward(x, taps);
}

}  // namespace oess::models
