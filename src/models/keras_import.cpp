#include "oess/models/keras_import.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <regex>
#include <set>

#include "keras_layout.h"
#include "keras_provenance.h"
#include "oess/core/error.h"
#include "oess/models/backbone.h"
#include "oess/version.h"

namespace oess::models {
namespace {

using Json = nlohmann::json;

std::string shape_str(at::IntArrayRef s) { return fmt::format("[{}]", fmt::join(s, ", ")); }

class Importer {
 public:
  Importer(const io::KerasModel& m, const KerasImportOptions& o) : m_(m), o_(o) {
    for (const auto& [name, t] : m.weights) {
      const auto slash = name.rfind('/');
      const std::string layer = slash == std::string::npos ? name : name.substr(0, slash);
      const std::string w = slash == std::string::npos ? "" : name.substr(slash + 1);
      weights_[layer][w] = t;
      if (std::find(layer_order_.begin(), layer_order_.end(), layer) == layer_order_.end())
        layer_order_.push_back(layer);
    }
    for (const auto& l : m.layers())
      if (l.is_object() && l.contains("name") && l.at("name").is_string())
        topo_[l.at("name").get<std::string>()] = &l;
  }

  KerasImport run() {
    if (o_.imagenet != "all" && o_.imagenet != "frozen" && o_.imagenet != "none" && o_.imagenet != "unknown")
      throw UsageError(fmt::format("--imagenet {}: expected all, frozen, none or unknown", o_.imagenet));
    if (o_.imagenet == "frozen" && topo_.empty())
      fail("--imagenet frozen reads the topology's trainable flags, and this file has no topology");
    BackboneOptions bo;
    bo.arch = o_.arch;
    bo.flavour = Flavour::kKeras;
    bo.aux_logits = false;
    bo.classifier = weights_.count("predictions") > 0;
    if (o_.arch == Arch::kVgg16) bo.classifier = weights_.count("fc1") > 0;
    auto backbone = make_backbone(bo);
    convs_ = torch_convs(*backbone);
    if (o_.arch == Arch::kInceptionV3)
      inception();
    else
      vgg16();
    // Every tensor of the network must have been filled, with its shape.
    std::map<std::string, torch::Tensor> want;
    for (const auto& [key, t] : backbone->tensors()) want[key] = t;
    std::set<std::string> have;
    for (const auto& [k, v] : out_.state) {
      have.insert(k);
      auto it = want.find(k);
      if (it == want.end()) fail(fmt::format("internal: {} is not a tensor of {}", k, arch_name(o_.arch)));
      if (it->second.sizes() != v.sizes())
        fail(fmt::format("{}: {} does not fit {}", k, shape_str(v.sizes()), shape_str(it->second.sizes())));
    }
    for (const auto& [k, v] : want)
      if (!have.count(k)) fail(fmt::format("internal: nothing imported for {}", k));
    for (const auto& layer : layer_order_)
      if (!used_.count(layer)) out_.ignored.push_back(layer);
    provenance();
    out_.state.emplace_back(io::kWeightsMetaKey, io::meta_tensor(out_.meta_json));
    return std::move(out_);
  }

 private:
  [[noreturn]] void fail(const std::string& what) const { throw Error(fmt::format("{}: {}", m_.path, what)); }

  const torch::Tensor* weight(const std::string& layer, const std::string& w) const {
    auto l = weights_.find(layer);
    if (l == weights_.end()) return nullptr;
    auto it = l->second.find(w);
    return it == l->second.end() ? nullptr : &it->second;
  }
  const torch::Tensor& need(const std::string& layer, const std::string& w) const {
    const auto* t = weight(layer, w);
    if (!t) fail(fmt::format("layer {}: no weight \"{}\"", layer, w));
    return *t;
  }

  const Json* layer_config(const std::string& name) const {
    auto it = topo_.find(name);
    if (it == topo_.end()) return nullptr;
    const Json& l = *it->second;
    return l.contains("config") && l.at("config").is_object() ? &l.at("config") : nullptr;
  }
  std::string class_of(const std::string& name) const {
    auto it = topo_.find(name);
    if (it == topo_.end() || !it->second->contains("class_name") || !it->second->at("class_name").is_string())
      return "";
    return it->second->at("class_name").get<std::string>();
  }
  std::vector<std::string> inputs_of(const std::string& name) const {
    std::vector<std::string> v;
    auto it = topo_.find(name);
    if (it != topo_.end() && it->second->contains("inbound_nodes"))
      inbound_names(it->second->at("inbound_nodes"), v);
    return v;
  }
  bool frozen(const std::string& name) const {
    const Json* c = layer_config(name);
    return c && c->contains("trainable") && c->at("trainable").is_boolean() &&
           !c->at("trainable").get<bool>();
  }

  static std::vector<int64_t> ints(const Json& c, const char* key) {
    std::vector<int64_t> v;
    if (c.contains(key) && c.at(key).is_array())
      for (const auto& x : c.at(key))
        if (x.is_number_integer()) v.push_back(x.get<int64_t>());
    return v;
  }

  // Checks a Keras conv layer's configuration against the torchvision conv it fills.
  void check_conv(const std::string& layer, const TorchConv& t, bool bias_expected) const {
    const Json* c = layer_config(layer);
    if (!c) {
      if (!topo_.empty()) fail(fmt::format("layer {} has weights but is not in the topology", layer));
      return;
    }
    if (class_of(layer) != "Conv2D")
      fail(fmt::format("layer {} is a {}, expected a Conv2D", layer, class_of(layer)));
    auto mismatch = [&](const std::string& what, const std::string& got, const std::string& want) {
      fail(fmt::format("layer {} ({}): {} is {}, expected {} (the topology differs from {})", layer, t.prefix,
                       what, got, want, arch_name(o_.arch)));
    };
    const auto k = ints(*c, "kernel_size"), s = ints(*c, "strides"), d = ints(*c, "dilation_rate");
    if (k != t.kernel) mismatch("kernel_size", shape_str(k), shape_str(t.kernel));
    if (!s.empty() && s != t.stride) mismatch("strides", shape_str(s), shape_str(t.stride));
    if (!d.empty() && (d[0] != 1 || d.back() != 1)) mismatch("dilation_rate", shape_str(d), "[1, 1]");
    if (c->contains("filters") && c->at("filters").is_number_integer() &&
        c->at("filters").get<int64_t>() != t.weight_shape[0])
      mismatch("filters", c->at("filters").dump(), std::to_string(t.weight_shape[0]));
    const std::string padding = c->value("padding", std::string("valid"));
    const bool zero = t.padding[0] == 0 && t.padding[1] == 0;
    const bool same = t.stride == std::vector<int64_t>{1, 1} && t.padding[0] == (t.kernel[0] - 1) / 2 &&
                      t.padding[1] == (t.kernel[1] - 1) / 2;
    if (!((padding == "valid" && zero) || (padding == "same" && same)))
      mismatch("padding", "\"" + padding + "\"", zero ? "\"valid\"" : "\"same\"");
    if (c->contains("use_bias") && c->at("use_bias").is_boolean() &&
        c->at("use_bias").get<bool>() != bias_expected)
      mismatch("use_bias", c->at("use_bias").dump(), bias_expected ? "true" : "false");
  }

  // OIHW from Keras's HWIO, shape-checked against the torchvision conv.
  torch::Tensor kernel(const std::string& layer, const TorchConv& t) const {
    const torch::Tensor& k = need(layer, "kernel");
    if (k.dim() != 4 || k.permute({3, 2, 0, 1}).sizes().vec() != t.weight_shape)
      fail(fmt::format("layer {}: kernel {} does not fit {} (needs Keras shape [{}, {}, {}, {}])", layer,
                       shape_str(k.sizes()), t.prefix, t.weight_shape[2], t.weight_shape[3],
                       t.weight_shape[1], t.weight_shape[0]));
    return k.permute({3, 2, 0, 1}).contiguous();
  }

  void vector(const std::string& key, const torch::Tensor& v, int64_t n, const std::string& layer,
              const std::string& w) {
    if (v.dim() != 1 || v.size(0) != n)
      fail(fmt::format("layer {}: {} {} does not fit [{}]", layer, w, shape_str(v.sizes()), n));
    out_.state.emplace_back(key, v.contiguous());
  }

  // Names matching `stem` or `stem_N`, ranked by N (the bare one first).
  std::vector<std::string> ranked(const std::string& stem) const {
    const std::regex re(stem + "(?:_([0-9]+))?");
    std::vector<std::pair<long long, std::string>> found;
    for (const auto& layer : layer_order_) {
      std::smatch mt;
      if (!std::regex_match(layer, mt, re)) continue;
      found.emplace_back(mt[1].matched ? std::stoll(mt[1].str()) : -1, layer);
    }
    std::sort(found.begin(), found.end());
    std::vector<std::string> out;
    for (auto& f : found) out.push_back(f.second);
    return out;
  }

  // The names missing from a numbered run stem_1..stem_n (or tf.keras's stem, stem_1..stem_{n-1}), each
  // with the weight it lacks: "conv2d_50 (kernel)".
  std::vector<std::string> gaps(const std::string& stem, size_t n) const {
    std::vector<std::string> out;
    const auto names = ranked(stem);
    if (names.empty()) return out;
    const bool bare = names.front() == stem;  // tf.keras numbering starts at the bare name
    for (size_t k = 0; k < n; ++k) {
      const size_t number = bare ? k : k + 1;
      const std::string name = number == 0 ? stem : fmt::format("{}_{}", stem, number);
      if (!weights_.count(name)) {
        const bool in_topology = topo_.count(name) > 0;
        out.push_back(name + (in_topology ? " (in the topology, its weights missing)" : ""));
      }
    }
    return out;
  }

  std::string other_arch_hint() const {
    const bool vgg = weights_.count("block1_conv1") > 0;
    const bool inc = !ranked("conv2d").empty();
    if (o_.arch == Arch::kInceptionV3 && vgg)
      return " (its layers block1_conv1... are VGG-16's: --arch vgg16)";
    if (o_.arch == Arch::kVgg16 && inc)
      return " (its layers conv2d_N are Inception-v3's: --arch inception_v3)";
    std::vector<std::string> some(layer_order_.begin(),
                                  layer_order_.begin() + std::min<size_t>(6, layer_order_.size()));
    return fmt::format(" (its layers with weights: {}{})", fmt::join(some, ", "),
                       layer_order_.size() > 6 ? ", ..." : "");
  }

  void inception() {
    const auto convs = ranked("conv2d"), bns = ranked("batch_normalization");
    const size_t n = convs_.size();  // 94
    if (convs.size() != n || bns.size() != n) {
      const std::string missing =
          fmt::format("{}", fmt::join(gaps("conv2d", n), ", ")) +
          (gaps("conv2d", n).empty() || gaps("batch_normalization", n).empty() ? "" : ", ") +
          fmt::format("{}", fmt::join(gaps("batch_normalization", n), ", "));
      fail(
          fmt::format("not a Keras Inception-v3: expected {} layers conv2d_1..conv2d_{} with {} batch "
                      "normalizations, found {} and {}{}{}",
                      n, n, n, convs.size(), bns.size(), missing.empty() ? "" : "; missing: " + missing,
                      convs.empty() ? other_arch_hint() : ""));
    }
    for (size_t i = 0; i < n; ++i) {
      const TorchConv& t = convs_[i];
      const std::string& conv = convs[i];
      const std::string& bn = bns[i];
      check_conv(conv, t, /*bias_expected=*/false);
      if (weight(conv, "bias"))
        fail(fmt::format("layer {} has a bias; Inception-v3's convolutions have none", conv));
      out_.state.emplace_back(t.prefix + ".conv.weight", kernel(conv, t));
      const int64_t c = t.weight_shape[0];
      if (const Json* cfg = layer_config(bn)) {
        if (class_of(bn) != "BatchNormalization")
          fail(fmt::format("layer {} is a {}, expected BatchNormalization", bn, class_of(bn)));
        const double eps = cfg->value("epsilon", 1e-3);
        if (std::abs(eps - 1e-3) > 1e-9)
          fail(fmt::format("layer {}: epsilon {} — Inception-v3's batch normalizations use 0.001", bn, eps));
      }
      const auto* gamma = weight(bn, "gamma");
      const auto* beta = weight(bn, "beta");
      vector(t.prefix + ".bn.weight", gamma ? *gamma : torch::ones({c}), c, bn, "gamma");
      vector(t.prefix + ".bn.bias", beta ? *beta : torch::zeros({c}), c, bn, "beta");
      vector(t.prefix + ".bn.running_mean", need(bn, "moving_mean"), c, bn, "moving_mean");
      vector(t.prefix + ".bn.running_var", need(bn, "moving_variance"), c, bn, "moving_variance");
      out_.state.emplace_back(t.prefix + ".bn.num_batches_tracked", torch::zeros({}, torch::kInt64));
      used_.insert(conv);
      used_.insert(bn);
      layer_of_prefix_[t.prefix] = {conv, bn};
      rank_[conv] = static_cast<int>(i) + 1;
    }
    if (weights_.count("predictions")) {
      dense("predictions", "fc", 2048, false);
    }
    if (!topo_.empty()) inception_topology();
  }

  // The rank of the conv a branch ends in, through its activation and batch normalization; 0 for a max pool.
  void branch_sources(const std::string& name, std::vector<int>& out, int depth = 0) const {
    if (depth > 8) fail(fmt::format("layer {}: cannot trace it to a convolution", name));
    const std::string cls = class_of(name);
    if (cls == "Conv2D") {
      auto it = rank_.find(name);
      out.push_back(it == rank_.end() ? -1 : it->second);
    } else if (cls == "MaxPooling2D") {
      out.push_back(0);
    } else if (cls == "Concatenate") {
      for (const auto& in : inputs_of(name)) branch_sources(in, out, depth + 1);
    } else if (cls == "Activation" || cls == "BatchNormalization" || cls == "ReLU") {
      const auto in = inputs_of(name);
      if (in.size() != 1) fail(fmt::format("layer {}: expected one input, found {}", name, in.size()));
      branch_sources(in[0], out, depth + 1);
    } else {
      fail(fmt::format("layer {}: a {} where a branch should end in a convolution or max pool", name,
                       cls.empty() ? "layer missing from the topology" : cls));
    }
  }

  void inception_topology() {
    const auto& concats = inception_concats();
    for (size_t b = 0; b < concats.size(); ++b) {
      const std::string name = fmt::format("mixed{}", b);
      if (class_of(name) != "Concatenate")
        fail(fmt::format("the topology has no Concatenate layer {} (an Inception-v3 has mixed0..mixed10)",
                         name));
      std::vector<int> got;
      branch_sources(name, got);
      if (got != concats[b]) {
        auto show = [](const std::vector<int>& v) {
          std::vector<std::string> s;
          for (int x : v) s.push_back(x == 0 ? "max-pool" : x < 0 ? "?" : fmt::format("conv #{}", x));
          return fmt::format("{}", fmt::join(s, ", "));
        };
        fail(
            fmt::format("layer {}: concatenates [{}], Inception-v3 concatenates [{}] (conv #k = the k-th "
                        "conv2d layer by number)",
                        name, show(got), show(concats[b])));
      }
    }
    // The branch pools: every conv fed by an average pool.
    int pools = 0;
    for (const auto& [conv, rank] : rank_) {
      const auto in = inputs_of(conv);
      if (in.size() != 1 || class_of(in[0]) != "AveragePooling2D") continue;
      ++pools;
      const Json* c = layer_config(in[0]);
      const auto size = ints(*c, "pool_size"), strides = ints(*c, "strides");
      if (size != std::vector<int64_t>{3, 3} || strides != std::vector<int64_t>{1, 1} ||
          c->value("padding", std::string()) != "same")
        fail(fmt::format(
            "layer {}: a branch pool must be 3x3, strides 1, padding same; it is {} strides {} {}", in[0],
            shape_str(size), shape_str(strides), c->value("padding", std::string("?"))));
    }
    if (pools != 9) fail(fmt::format("the topology has {} branch average pools, Inception-v3 has 9", pools));
  }

  void dense(const std::string& layer, const std::string& prefix, int64_t in, bool vgg_fc1) {
    const torch::Tensor& k = need(layer, "kernel");
    const torch::Tensor& b = need(layer, "bias");
    if (k.dim() != 2 || k.size(0) != in)
      fail(fmt::format("layer {}: kernel {} does not fit {} (needs [{}, N])", layer, shape_str(k.sizes()),
                       prefix, in));
    torch::Tensor w = k.t();
    if (vgg_fc1)  // Keras flattens 7x7x512 as (h, w, c); torchvision as (c, h, w)
      w = k.reshape({7, 7, 512, k.size(1)}).permute({3, 2, 0, 1}).reshape({k.size(1), in});
    out_.state.emplace_back(prefix + ".weight", w.contiguous());
    vector(prefix + ".bias", b, k.size(1), layer, "bias");
    used_.insert(layer);
    layer_of_prefix_[prefix] = {layer};
  }

  void vgg16() {
    std::vector<std::string> names;
    for (int b = 1, c = 1; names.size() < convs_.size();) {
      names.push_back(fmt::format("block{}_conv{}", b, c));
      const int per_block = b <= 2 ? 2 : 3;
      if (++c > per_block) {
        ++b;
        c = 1;
      }
    }
    for (size_t i = 0; i < convs_.size(); ++i) {
      const TorchConv& t = convs_[i];
      if (!weights_.count(names[i]))
        fail(fmt::format("not a Keras VGG-16: no layer {}{}", names[i], i == 0 ? other_arch_hint() : ""));
      check_conv(names[i], t, /*bias_expected=*/true);
      out_.state.emplace_back(t.prefix + ".weight", kernel(names[i], t));
      vector(t.prefix + ".bias", need(names[i], "bias"), t.weight_shape[0], names[i], "bias");
      used_.insert(names[i]);
      layer_of_prefix_[t.prefix] = {names[i]};
    }
    if (weights_.count("fc1")) {
      for (const char* l : {"fc2", "predictions"})
        if (!weights_.count(l))
          fail(fmt::format("layer fc1 is present but {} is not (a partial VGG-16 head)", l));
      dense("fc1", "classifier.0", 25088, true);
      dense("fc2", "classifier.3", 4096, false);
      dense("predictions", "classifier.6", 4096, false);
    }
    if (!topo_.empty())
      for (const auto& [name, l] : topo_)
        if (class_of(name) == "MaxPooling2D") {
          const Json* c = layer_config(name);
          if (ints(*c, "pool_size") != std::vector<int64_t>{2, 2} ||
              ints(*c, "strides") != std::vector<int64_t>{2, 2})
            fail(fmt::format("layer {}: VGG-16's pools are 2x2 with strides 2", name));
        }
  }

  void provenance() {
    std::map<std::string, bool> imagenet;  // torch prefix -> known ImageNet
    for (const auto& [prefix, layers] : layer_of_prefix_) {
      bool v = o_.imagenet == "all";
      if (o_.imagenet == "frozen") {
        v = true;
        for (const auto& l : layers) v = v && frozen(l);
      }
      imagenet[prefix] = v;
    }
    describe_provenance(m_, o_, imagenet, out_);
  }

  const io::KerasModel& m_;
  const KerasImportOptions& o_;
  std::map<std::string, std::map<std::string, torch::Tensor>> weights_;
  std::vector<std::string> layer_order_;
  std::map<std::string, const Json*> topo_;
  std::vector<TorchConv> convs_;
  std::set<std::string> used_;
  std::map<std::string, std::vector<std::string>> layer_of_prefix_;
  std::map<std::string, int> rank_;
  KerasImport out_;
};

}  // namespace

KerasImport import_keras(const io::KerasModel& model, const KerasImportOptions& options) {
  return Importer(model, options).run();
}

}  // namespace oess::models
