// Fine-tuning the upper blocks with a linear head (finetune/finetune.h).
#include "oess/finetune/finetune.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include "oess/core/error.h"
#include "oess/features/extractor.h"
#include "oess/io/weights.h"
#include "oess/models/taps.h"
#include "oess/platform/platform.h"

namespace oess::finetune {

FineTuner::FineTuner(models::Backbone& backbone, const Options& o, torch::nn::Linear head)
    : backbone_(backbone), options_(o), head_layer_(std::move(head)) {
  const auto arch = backbone.arch();
  const models::TapInfo& head_info = models::resolve_tap(arch, o.head_tap);
  head_ = head_info.name;
  const int head_index = head_info.index;
  int from_index = -1;
  from_ = "input";
  if (o.train_from != "input") {
    const models::TapInfo& from = models::resolve_tap(arch, o.train_from);
    from_ = from.name;
    from_index = from.index;
  }
  if (from_index >= head_index)
    throw UsageError(
        fmt::format("finetune.train_from: {} is not shallower than the head's tap {}: nothing would "
                    "train but the head (use a tap before {}, or input for the whole network)",
                    from_, head_, head_));
  if (o.pooling != "avg" && o.pooling != "max")
    throw UsageError(fmt::format("finetune: pooling {} cannot train (avg or max)", o.pooling));
  // Plain modules (folded copies and the engine would not follow the updates), in the memory layout that pays
  // on this CPU (docs/PERFORMANCE.md, "Fine-tuning").
  models::Backbone::FastPaths fast;
  fast.channels_last = platform::channels_last_pays();
  backbone.set_fast_paths(fast);
  std::vector<torch::Tensor> trained;
  for (auto& p : backbone.module().named_parameters()) {
    const int at = models::layer_index(arch, p.key());
    const bool trains = at > from_index && at <= head_index;
    p.value().set_requires_grad(trains);
    if (trains) {
      trained_.emplace_back(p.key(), p.value());
      trained.push_back(p.value());
    }
  }
  for (auto& p : head_layer_->parameters()) p.set_requires_grad(true);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  auto group = [&](std::vector<torch::Tensor> params, double lr) {
    auto opt = std::make_unique<torch::optim::SGDOptions>(lr);
    opt->momentum(o.momentum).weight_decay(o.weight_decay);
    groups.emplace_back(std::move(params), std::move(opt));
  };
  trains_backbone_ = !trained.empty();
  if (trains_backbone_) group(trained, o.lr_backbone);
  group(head_layer_->parameters(), o.lr_head);
  sgd_ = std::make_unique<torch::optim::SGD>(groups, torch::optim::SGDOptions(o.lr_head));
}

torch::Tensor FineTuner::frozen(const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  if (from_ == "input") return x;
  return backbone_.forward(x, {from_}).at(from_).contiguous();
}

torch::Tensor FineTuner::logits(const torch::Tensor& frozen_x) {
  const auto maps = backbone_.forward_from(frozen_x, from_, {head_}).at(head_);
  auto pooled = features::pool(maps, options_.pooling);
  if (mean_.defined()) pooled = (pooled - mean_) / std_;
  return head_layer_->forward(pooled);
}

void FineTuner::set_standardisation(const torch::Tensor& mean, const torch::Tensor& std) {
  const auto& w = head_layer_->weight;
  mean_ = mean.to(w.device(), torch::kFloat32).reshape({1, -1});
  std_ = std.to(w.device(), torch::kFloat32).reshape({1, -1});
}

double FineTuner::step(const torch::Tensor& frozen_x, const torch::Tensor& labels,
                       const torch::Tensor& class_weights) {
  sgd_->zero_grad();
  auto opts = torch::nn::functional::CrossEntropyFuncOptions();
  if (class_weights.defined()) opts.weight(class_weights.to(torch::kFloat32));
  const auto loss = torch::nn::functional::cross_entropy(logits(frozen_x), labels.to(torch::kInt64), opts);
  loss.backward();
  sgd_->step();
  ++steps_;
  return loss.item<double>();
}

torch::Tensor FineTuner::probabilities(const torch::Tensor& frozen_x) {
  torch::NoGradGuard no_grad;
  return torch::softmax(logits(frozen_x), 1);
}

namespace {
// SGD keeps its per-parameter state under the tensor's address, as text.
std::string state_key(const torch::Tensor& t) { return c10::guts::to_string(t.unsafeGetTensorImpl()); }
}  // namespace

io::StateDict FineTuner::state() const {
  io::StateDict out;
  for (const auto& [name, t] : trainable()) {
    out.emplace_back("param/" + name, t.detach().contiguous());
    auto it = sgd_->state().find(state_key(t));
    if (it != sgd_->state().end())
      out.emplace_back("momentum/" + name,
                       static_cast<torch::optim::SGDParamState&>(*it->second).momentum_buffer().contiguous());
  }
  out.emplace_back("steps", torch::tensor({steps_}, torch::kInt64));
  return out;
}

void FineTuner::save(const std::string& path) const { io::write_torch_dict(path, state()); }

void FineTuner::load(const std::string& path) {
  std::map<std::string, torch::Tensor> in;
  for (auto& [k, v] : io::read_weights(path).tensors) in.emplace(k, v);
  set_state(in, path);
}

void FineTuner::set_state(const std::map<std::string, torch::Tensor>& in, const std::string& source) {
  auto get = [&](const std::string& key, const torch::Tensor& like) -> const torch::Tensor& {
    auto it = in.find(key);
    if (it == in.end())
      throw Error(fmt::format("{}: no tensor {} (a checkpoint of another fine-tuning?)", source, key));
    if (it->second.sizes() != like.sizes())
      throw Error(fmt::format("{}: {} is [{}], the network's is [{}]", source, key,
                              fmt::join(it->second.sizes(), ", "), fmt::join(like.sizes(), ", ")));
    return it->second;
  };
  torch::NoGradGuard no_grad;
  for (auto& [name, t] : trainable()) {
    t.copy_(get("param/" + name, t));
    sgd_->state().erase(state_key(t));
    if (in.count("momentum/" + name)) {
      auto st = std::make_unique<torch::optim::SGDParamState>();
      st->momentum_buffer(get("momentum/" + name, t).to(t.dtype()).contiguous(t.suggest_memory_format()));
      sgd_->state()[state_key(t)] = std::move(st);
    }
  }
  const auto steps = in.find("steps");
  if (steps == in.end())
    throw Error(fmt::format("{}: no tensor steps (a checkpoint of another fine-tuning?)", source));
  steps_ = steps->second.item<int64_t>();
}

void FineTuner::set_learning_rates(double backbone, double head) {
  auto& groups = sgd_->param_groups();
  if (trains_backbone_) static_cast<torch::optim::SGDOptions&>(groups.at(0).options()).lr(backbone);
  static_cast<torch::optim::SGDOptions&>(groups.back().options()).lr(head);
}

std::vector<std::pair<std::string, torch::Tensor>> FineTuner::trainable() const {
  auto out = trained_;
  out.emplace_back("head.weight", head_layer_->weight);
  out.emplace_back("head.bias", head_layer_->bias);
  return out;
}

}  // namespace oess::finetune
