#include "oess/models/backbone.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <torch/cuda.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <mutex>
#include <unordered_map>

#include <nlohmann/json.hpp>
#include "oess/core/error.h"
#include "oess/core/warning.h"
#include "oess/platform/platform.h"

namespace oess::models {
namespace {

bool has_prefix(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

std::string shape_str(const torch::Tensor& t) { return fmt::format("[{}]", fmt::join(t.sizes(), ", ")); }

void append_list(std::string& out, const char* label, const std::vector<std::string>& keys) {
  if (keys.empty()) return;
  out += fmt::format("\n  {} ({}): {}", label, keys.size(), fmt::join(keys, ", "));
}

}  // namespace

bool LoadReport::only_head_missing() const {
  if (missing.empty() || !unexpected.empty() || !mismatched.empty()) return false;
  for (const auto& k : missing)
    if (!has_prefix(k, "fc.") && !has_prefix(k, "classifier.") && !has_prefix(k, "AuxLogits.")) return false;
  return true;
}

std::string LoadReport::summary() const { return fmt::format("{} tensors loaded", loaded) + details(); }

std::string LoadReport::details() const {
  std::string s;
  append_list(s, "missing", missing);
  append_list(s, "unexpected", unexpected);
  append_list(s, "mis-shaped", mismatched);
  append_list(s, "ignored (part not built)", ignored);
  return s;
}

io::StateDict normalize_state_dict(Arch arch, const io::StateDict& state) {
  io::StateDict out;
  out.reserve(state.size());
  for (const auto& [key, value] : state) {
    std::string k = has_prefix(key, "module.") ? key.substr(7) : key;
    torch::Tensor v = value;
    if (arch == Arch::kVgg16) {
      // timm stores VGG's first two fully connected layers as 7x7 and 1x1 convolutions.
      if (has_prefix(k, "pre_logits.fc1.")) {
        k = "classifier.0." + k.substr(15);
        if (v.dim() == 4) v = v.reshape({v.size(0), -1});
      } else if (has_prefix(k, "pre_logits.fc2.")) {
        k = "classifier.3." + k.substr(15);
        if (v.dim() == 4) v = v.reshape({v.size(0), -1});
      } else if (has_prefix(k, "head.fc.")) {
        k = "classifier.6." + k.substr(8);
      }
    }
    out.emplace_back(std::move(k), std::move(v));
  }
  return out;
}

LoadReport Backbone::load(const io::StateDict& raw, bool strict, const std::string& source) {
  const io::StateDict state = normalize_state_dict(arch(), raw);
  std::vector<std::string> not_built;
  if (!options_.classifier) not_built.push_back(arch() == Arch::kVgg16 ? "classifier." : "fc.");
  if (arch() == Arch::kInceptionV3 && !options_.aux_logits) not_built.push_back("AuxLogits.");

  std::unordered_map<std::string, torch::Tensor> targets;
  std::vector<std::string> order;
  for (const auto& [key, t] : tensors()) {
    targets.emplace(key, t);
    order.push_back(key);
  }

  LoadReport report;
  std::unordered_map<std::string, bool> seen;
  std::vector<std::pair<torch::Tensor, torch::Tensor>> copies;
  for (const auto& [key, value] : state) {
    if (key == io::kWeightsMetaKey) continue;  // the file's metadata, not a tensor of the network
    auto it = targets.find(key);
    if (it == targets.end()) {
      bool ignored = false;
      for (const auto& p : not_built) ignored = ignored || has_prefix(key, p);
      (ignored ? report.ignored : report.unexpected).push_back(key);
      continue;
    }
    seen[key] = true;
    if (it->second.sizes() != value.sizes()) {
      report.mismatched.push_back(
          fmt::format("{}: file {} vs network {}", key, shape_str(value), shape_str(it->second)));
      continue;
    }
    copies.emplace_back(it->second, value);
  }
  for (const auto& key : order)
    if (!seen.count(key)) report.missing.push_back(key);

  if (strict && !report.ok()) {
    std::string hint;
    if (report.only_head_missing())
      hint =
          "\n  only the classification head is missing: a features-only file (converted with --drop-head) "
          "loads into a backbone built without the head (`oess weights check --features-only`)";
    else if (copies.empty())
      hint = fmt::format("\n  no tensor fits: is this {} file?", arch() == Arch::kVgg16
                                                                     ? "an Inception-v3 (not a VGG-16)"
                                                                     : "a VGG-16 (not an Inception-v3)");
    report.loaded = 0;
    throw Error(
        fmt::format("{} do not fit {} (strict load, nothing loaded): {} of {} tensors in the file fit{}{}",
                    source, arch_name(arch()), copies.size(), state.size(), report.details(), hint));
  }
  torch::NoGradGuard no_grad;
  for (auto& [target, value] : copies) target.copy_(value.to(target.dtype()));
  report.loaded = static_cast<int64_t>(copies.size());
  if (fast_.fold_batchnorm) fold_batchnorm(true);  // re-fold from the new weights
  engines_.clear();                                // and re-read them into the engine
  return report;
}

std::map<std::string, torch::Tensor> Backbone::forward(const torch::Tensor& x,
                                                       const std::vector<std::string>& taps) {
  return run(x, 0, plan(taps));
}

std::map<std::string, torch::Tensor> Backbone::forward_from(const torch::Tensor& x, const std::string& from,
                                                            const std::vector<std::string>& taps) {
  if (from == "input") return forward(x, taps);
  const TapInfo& f = resolve_tap(arch(), from);
  const Plan p = plan(taps);
  for (const auto& t : taps)
    if (const TapInfo& to = resolve_tap(arch(), t); to.index <= f.index)
      throw UsageError(
          fmt::format("tap {} is not deeper than {}: forward_from({}) runs only the layers after it", to.name,
                      f.name, f.name));
  return run(x, f.index + 1, p);
}

void Backbone::init_random(uint64_t seed) {
  const FastPaths keep = fast_;
  set_fast_paths({});
  torch::NoGradGuard no_grad;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  for (const auto& m : module().modules(/*include_self=*/false)) {
    if (auto* conv = m->as<torch::nn::Conv2d>()) {
      auto w = torch::empty(conv->weight.sizes(), torch::kFloat32);
      const double fan_in = static_cast<double>(w.numel() / w.size(0));
      w.normal_(0.0, std::sqrt(2.0 / fan_in), gen);  // Kaiming-normal for ReLU
      conv->weight.copy_(w);
      if (conv->bias.defined()) conv->bias.zero_();
    } else if (auto* lin = m->as<torch::nn::Linear>()) {
      auto w = torch::empty(lin->weight.sizes(), torch::kFloat32);
      w.normal_(0.0, 0.01, gen);
      lin->weight.copy_(w);
      lin->bias.zero_();
    } else if (auto* bn = m->as<torch::nn::BatchNorm2d>()) {
      bn->weight.fill_(1.0);
      bn->bias.zero_();
      bn->running_mean.zero_();
      bn->running_var.fill_(1.0);
    }
  }
  set_fast_paths(keep);
}

void Backbone::to(const torch::Device& device) {
  module().to(device);
  device_ = device;
  set_fast_paths(fast_);  // re-derive folded weights and layouts on the new device
}

Backbone::FastPaths Backbone::FastPaths::for_this_cpu() {
  return {/*fold_batchnorm=*/true, /*channels_last=*/platform::channels_last_pays(), /*engine=*/true};
}

void Backbone::set_fast_paths(const FastPaths& f) {
  fast_ = f;
  engines_.clear();
  torch::NoGradGuard no_grad;
  const auto format = f.channels_last ? torch::MemoryFormat::ChannelsLast : torch::MemoryFormat::Contiguous;
  for (auto& p : module().parameters())
    if (p.dim() == 4) p.set_data(p.contiguous(format));
  fold_batchnorm(f.fold_batchnorm);
}

torch::Tensor Backbone::prepare_input(const torch::Tensor& x) const {
  return fast_.channels_last ? x.contiguous(torch::MemoryFormat::ChannelsLast) : x;
}

io::StateDict Backbone::tensors() {
  io::StateDict out;
  for (const auto& p : module().named_parameters(/*recurse=*/true)) out.emplace_back(p.key(), p.value());
  for (const auto& b : module().named_buffers(/*recurse=*/true)) out.emplace_back(b.key(), b.value());
  return out;
}

int64_t Backbone::parameter_count() {
  int64_t n = 0;
  for (const auto& p : module().parameters()) n += p.numel();
  return n;
}

Backbone::Plan Backbone::plan(const std::vector<std::string>& taps) const {
  const auto& table = tap_table(arch());
  Plan p;
  p.want.assign(table.size(), false);
  if (taps.empty()) throw UsageError(fmt::format("no {} taps requested", arch_name(arch())));
  for (const auto& name : taps) {
    const TapInfo& t = resolve_tap(arch(), name);
    if (t.classifier && !options_.classifier)
      throw UsageError(
          fmt::format("tap \"{}\" needs the {} classification head, which this backbone was built "
                      "without (features-only weights)",
                      t.name, arch_name(arch())));
    p.want[static_cast<size_t>(t.index)] = true;
    p.deepest = std::max(p.deepest, t.index);
  }
  return p;
}

std::string flavour_name(Flavour f) { return f == Flavour::kKeras ? "keras" : "torchvision"; }

Flavour parse_flavour(const std::string& name) {
  if (name == "torchvision") return Flavour::kTorchvision;
  if (name == "keras") return Flavour::kKeras;
  throw UsageError(fmt::format("unknown backbone flavour \"{}\": expected torchvision or keras", name));
}

WeightsSemantics weights_semantics(const io::WeightsFile& file) {
  WeightsSemantics s;
  s.meta_json = io::weights_meta(file);
  if (s.meta_json.empty()) return s;
  s.has_meta = true;
  try {
    const auto j = nlohmann::json::parse(s.meta_json);
    s.flavour = parse_flavour(j.value("flavour", std::string("torchvision")));
    s.preprocessing = j.value("preprocessing", std::string());
    s.description = j.value("description", std::string());
    if (j.contains("imagenet")) {
      s.imagenet_taps = j.at("imagenet").value("taps", std::vector<std::string>{});
      s.other_taps = j.at("imagenet").value("other_taps", std::vector<std::string>{});
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: its metadata ({}) is not the JSON oess writes ({})", file.path,
                            io::kWeightsMetaKey, e.what()));
  } catch (const UsageError& e) {
    throw Error(fmt::format("{}: metadata: {}", file.path, e.what()));
  }
  return s;
}

WeightsSemantics weights_semantics(const std::string& weights) {
  if (weights == "none") return {};
  // One run asks several times (settings, console, extraction, export) about a file of ~80 MiB that only a
  // full read can answer: remember the answer per path while the file's size and time stay the same.
  struct Seen {
    std::uintmax_t size;
    std::filesystem::file_time_type time;
    WeightsSemantics semantics;
  };
  static std::mutex mutex;
  static std::map<std::string, Seen> seen;
  std::error_code ec;
  const auto size = std::filesystem::file_size(weights, ec);
  const auto time = ec ? std::filesystem::file_time_type() : std::filesystem::last_write_time(weights, ec);
  if (!ec) {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = seen.find(weights);
    if (it != seen.end() && it->second.size == size && it->second.time == time) return it->second.semantics;
  }
  WeightsSemantics s = weights_semantics(io::read_weights(weights));  // errors name the file
  if (!ec) {
    std::lock_guard<std::mutex> lock(mutex);
    seen[weights] = {size, time, s};
  }
  return s;
}

void resolve_semantics(const std::string& weights, const std::string& flavour_request,
                       std::string& preprocessing, BackboneOptions& options) {
  const WeightsSemantics s = weights_semantics(weights);
  if (flavour_request == "auto") {
    options.flavour = s.flavour;
  } else {
    options.flavour = parse_flavour(flavour_request);
    if (s.has_meta && options.flavour != s.flavour)
      throw UsageError(fmt::format(
          "backbone flavour {} was asked for, but {} holds {}-flavour weights (its metadata says so): "
          "running them with the other network's pooling gives wrong features. Use flavour auto (or {})",
          flavour_request, weights, flavour_name(s.flavour), flavour_name(s.flavour)));
  }
  if (preprocessing.empty() || preprocessing == "auto") {
    preprocessing = !s.preprocessing.empty() ? s.preprocessing : "torchvision";
  } else if (!s.preprocessing.empty() && preprocessing != s.preprocessing) {
    throw UsageError(fmt::format(
        "preprocessing {} was asked for, but {} was trained with {} input (its metadata says so). Use "
        "preprocessing auto (or {})",
        preprocessing, weights, s.preprocessing, s.preprocessing));
  }
  if (options.flavour == Flavour::kKeras && options.transform_input)
    throw UsageError(
        "transform_input is torchvision's re-normalisation for its own Inception-v3 weights; Keras-flavour "
        "weights take keras_tf input directly: switch transform_input off");
}

torch::Device parse_device(const std::string& spec) {
  if (spec == "cpu") return torch::Device(torch::kCPU);
  if (spec == "cuda" || has_prefix(spec, "cuda:")) {
    int64_t index = 0;
    if (spec.size() > 5) {
      const std::string n = spec.substr(5);
      if (n.empty() || n.find_first_not_of("0123456789") != std::string::npos)
        throw UsageError(fmt::format("bad device \"{}\": expected cpu, cuda or cuda:N", spec));
      index = std::stoll(n);
    }
    if (!torch::cuda::is_available())
      throw UsageError(
          fmt::format("device \"{}\" requested, but this LibTorch has no usable CUDA (build: {})", spec,
                      "CPU-only or no GPU visible"));
    const auto count = static_cast<int64_t>(torch::cuda::device_count());
    if (index >= count)
      throw UsageError(
          fmt::format("device \"{}\" requested, but only {} CUDA device(s) are visible", spec, count));
    return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  throw UsageError(fmt::format("bad device \"{}\": expected cpu, cuda or cuda:N", spec));
}

}  // namespace oess::models

#include "nets.h"

namespace oess::models {
std::unique_ptr<Backbone> make_backbone(const BackboneOptions& options) {
  std::unique_ptr<Backbone> b =
      options.arch == Arch::kVgg16 ? detail::make_vgg16(options) : detail::make_inception_v3(options);
  b->module().eval();
  return b;
}

std::unique_ptr<Backbone> load_backbone(const BackboneOptions& options, const std::string& weights,
                                        bool strict, uint64_t seed) {
  auto b = make_backbone(options);
  if (weights == "none") {
    b->init_random(seed);
    b->set_fast_paths(b->fast_paths());
    const CodedWarning coded;  // runs record it as random_weights
    spdlog::warn(
        "{}: NO IMAGENET WEIGHTS (weights: none) - seeded random initialisation (seed {}). Features and "
        "every result built on them are NOT ImageNet-based; see docs/weights.md to get real weights.",
        arch_name(options.arch), seed);
    return b;
  }
  const io::WeightsFile file = io::read_weights(weights);
  const WeightsSemantics sem = weights_semantics(file);
  if (sem.has_meta && sem.flavour != options.flavour)
    throw UsageError(fmt::format("{} holds {}-flavour weights, but a {}-flavour network was asked for",
                                 weights, flavour_name(sem.flavour), flavour_name(options.flavour)));
  const auto report = b->load(file.tensors, strict, weights);
  if (!report.ok())
    spdlog::warn("{}: partial load of {}: {}", arch_name(options.arch), weights, report.summary());
  else if (!report.ignored.empty())
    spdlog::debug("{}: {} tensors of parts not built (classifier, AuxLogits) ignored in {}",
                  arch_name(options.arch), report.ignored.size(), weights);
  return b;
}
}  // namespace oess::models
