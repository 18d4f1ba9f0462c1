// Parity with torchvision 0.14 (tests/oracles/make_backbone_fixtures.py): seeded random weights in every
// format oess reads or converts, every tap compared to max|diff| <= 1e-4 * max|ref|.
#include <torch/torch.h>
#include <catch2/catch.hpp>
#include <iostream>
#include <map>

#include "oess/io/weights.h"
#include "oess/models/backbone.h"

using oess::models::Arch;

namespace {

constexpr double kRelTol = 1e-4;

std::string fixture(const std::string& name) { return std::string(OESS_FIXTURE_DIR) + "/" + name; }

const std::map<std::string, torch::Tensor>& refs(const std::string& arch) {
  static std::map<std::string, std::map<std::string, torch::Tensor>> cache;
  auto it = cache.find(arch);
  if (it == cache.end()) {
    std::map<std::string, torch::Tensor> m;
    for (auto& [k, v] : oess::io::read_weights(fixture(arch + ".refs.pt")).tensors) m.emplace(k, v);
    it = cache.emplace(arch, std::move(m)).first;
  }
  return it->second;
}

std::unique_ptr<oess::models::Backbone> load(Arch arch, const std::string& file, bool transform_input = false,
                                             oess::models::Backbone::FastPaths fast = {}) {
  oess::models::BackboneOptions o;
  o.arch = arch;
  o.classifier = arch == Arch::kInceptionV3;  // the VGG fixture is features-only
  o.transform_input = transform_input;
  auto b = oess::models::make_backbone(o);
  auto report = b->load(oess::io::read_weights(fixture(file)).tensors, /*strict=*/true, file);
  CHECK(report.ok());
  b->set_fast_paths(fast);
  return b;
}

// Compares every tap in `taps` against refs[prefix + tap] for input refs[prefix + "input"]: forward() within
// kRelTol * max|ref|, or with `engine` Backbone::infer on the oneDNN engine (which must be what ran, not
// LibTorch's fallback) within 1e-5 * max|ref|.
void compare(oess::models::Backbone& b, const std::string& arch, const std::string& prefix,
             const std::vector<std::string>& taps, const std::string& label, bool engine = false) {
  const auto& r = refs(arch);
  torch::InferenceMode guard;
  const auto out = engine ? b.infer(r.at(prefix + "input"), taps) : b.forward(r.at(prefix + "input"), taps);
  const double tolerance = engine ? 1e-5 : kRelTol;
  if (engine) {
    INFO(label << ": " << b.engine_kernels());
    REQUIRE_THAT(b.engine_kernels(), Catch::Matchers::StartsWith("oneDNN engine"));
  }
  REQUIRE(out.size() == taps.size());
  double worst_ratio = 0;
  std::string worst_tap;
  for (const auto& tap : taps) {
    INFO(label << " tap " << tap);
    const torch::Tensor& ref = r.at(prefix + tap);
    const torch::Tensor& got = out.at(tap);
    REQUIRE(got.sizes() == ref.sizes());
    const double scale = ref.abs().max().item<double>();
    const double err = (got - ref).abs().max().item<double>();
    CHECK(scale > 0);
    CHECK(err <= tolerance * scale);
    if (err / scale > worst_ratio) {
      worst_ratio = err / scale;
      worst_tap = tap;
    }
  }
  std::cout << label << ": " << taps.size() << " taps, tolerance max|diff| <= " << tolerance
            << " * max|ref|; ";
  if (worst_ratio == 0)
    std::cout << "every tap bit-identical";
  else
    std::cout << "worst " << worst_ratio << " * max|ref| at " << worst_tap;
  std::cout << (engine ? "; " + b.engine_kernels() : "") << "\n";
}

std::vector<std::string> inception_taps() {
  std::vector<std::string> t;
  for (const auto& info : oess::models::tap_table(Arch::kInceptionV3)) t.push_back(info.name);
  return t;
}

std::vector<std::string> vgg_taps() {
  auto t = oess::models::default_taps(Arch::kVgg16);  // 13 conv (ReLU) + 5 pools
  t.push_back("features.0");                          // pre-ReLU convs by their torchvision index
  t.push_back("features.28");
  return t;
}

}  // namespace

TEST_CASE("Inception-v3 matches torchvision at every tap, in every weights format", "[parity][inception]") {
  for (const char* file : {"inception_v3.plain.pt", "inception_v3.safetensors", "inception_v3.ordered.pt",
                           "inception_v3.legacy.pt", "inception_v3.model.pt"}) {
    auto b = load(Arch::kInceptionV3, file);
    compare(*b, "inception_v3", "", inception_taps(), std::string("inception_v3 <- ") + file);
  }
}

TEST_CASE("Inception-v3 matches torchvision with transform_input=True", "[parity][inception]") {
  auto b = load(Arch::kInceptionV3, "inception_v3.plain.pt", /*transform_input=*/true);
  compare(*b, "inception_v3", "ti/", inception_taps(), "inception_v3 transform_input=True");
}

TEST_CASE("Inception-v3 matches torchvision at a non-square input (320x280)", "[parity][inception]") {
  auto b = load(Arch::kInceptionV3, "inception_v3.plain.pt");
  compare(*b, "inception_v3", "ns/", inception_taps(), "inception_v3 320x280");
}

TEST_CASE("Inception-v3 taps by torchvision alias equal taps by Keras name", "[parity][inception]") {
  auto b = load(Arch::kInceptionV3, "inception_v3.plain.pt");
  torch::InferenceMode guard;
  const auto& x = refs("inception_v3").at("input");
  const auto by_alias = b->forward(x, {"Mixed_6b"});
  const auto by_name = b->forward(x, {"mixed4"});
  REQUIRE(by_alias.count("mixed4") == 1);
  CHECK(torch::equal(by_alias.at("mixed4"), by_name.at("mixed4")));
}

TEST_CASE("VGG-16 features match torchvision at every block tap, in every weights format",
          "[parity][vgg16]") {
  for (const char* file : {"vgg16.plain.pt", "vgg16.safetensors", "vgg16.ordered.pt", "vgg16.legacy.pt"}) {
    auto b = load(Arch::kVgg16, file);
    compare(*b, "vgg16", "", vgg_taps(), std::string("vgg16 <- ") + file);
  }
}

TEST_CASE("VGG-16 with classifier matches torchvision, from torchvision and from timm-named files",
          "[parity][vgg16][.full]") {
  for (const char* file : {"vgg16_full.plain.pt", "vgg16_full.timm.safetensors"}) {
    oess::models::BackboneOptions o;
    o.arch = Arch::kVgg16;
    auto b = oess::models::make_backbone(o);
    REQUIRE(b->load(oess::io::read_weights(fixture(file)).tensors, /*strict=*/true, file).ok());
    compare(*b, "vgg16_full", "", {"block5_pool", "fc1", "fc2", "logits"},
            std::string("vgg16 full <- ") + file);
  }
}

TEST_CASE("the inference fast paths keep parity with torchvision", "[parity][fast]") {
  const oess::models::Backbone::FastPaths both{/*fold_batchnorm=*/true, /*channels_last=*/true};
  auto inc = load(Arch::kInceptionV3, "inception_v3.plain.pt", false, both);
  compare(*inc, "inception_v3", "", inception_taps(), "inception_v3 folded BatchNorm + channels_last");
  auto inc_ti = load(Arch::kInceptionV3, "inception_v3.plain.pt", true, both);
  compare(*inc_ti, "inception_v3", "ti/", inception_taps(), "inception_v3 fast paths, transform_input=True");
  auto vgg = load(Arch::kVgg16, "vgg16.plain.pt", false, both);
  compare(*vgg, "vgg16", "", vgg_taps(), "vgg16 channels_last");
}

namespace {

// The feature taps (the engine does not run the classification head: infer() sends those to LibTorch).
std::vector<std::string> feature_taps(Arch arch) {
  std::vector<std::string> t;
  for (const auto& info : oess::models::tap_table(arch))
    if (!info.classifier) t.push_back(info.name);
  return t;
}

}  // namespace

TEST_CASE("the oneDNN engine keeps parity with torchvision (1e-5)", "[parity][engine]") {
  const oess::models::Backbone::FastPaths engine{true, true, /*engine=*/true};
  auto inc = load(Arch::kInceptionV3, "inception_v3.plain.pt", false, engine);
  compare(*inc, "inception_v3", "", feature_taps(Arch::kInceptionV3), "inception_v3 engine", /*engine=*/true);
  auto inc_ti = load(Arch::kInceptionV3, "inception_v3.plain.pt", true, engine);
  compare(*inc_ti, "inception_v3", "ti/", feature_taps(Arch::kInceptionV3),
          "inception_v3 engine, transform_input=True", /*engine=*/true);
  compare(*inc, "inception_v3", "ns/", feature_taps(Arch::kInceptionV3),
          "inception_v3 engine at 320x280 (even sizes: floor-mode pools)", /*engine=*/true);
  auto vgg = load(Arch::kVgg16, "vgg16.plain.pt", false, engine);
  compare(*vgg, "vgg16", "", vgg_taps(), "vgg16 engine", /*engine=*/true);
}

TEST_CASE("the oneDNN engine gives LibTorch's Keras-flavour taps (branch pools without the padding)",
          "[parity][engine]") {
  oess::models::BackboneOptions o;
  o.classifier = false;
  o.aux_logits = false;
  o.flavour = oess::models::Flavour::kKeras;
  auto b = oess::models::make_backbone(o);
  b->init_random(7);
  torch::manual_seed(3);
  const auto x = torch::randn({2, 3, 299, 299});
  torch::InferenceMode guard;
  const auto taps = feature_taps(Arch::kInceptionV3);
  const auto plain = b->forward(x, taps);
  b->set_fast_paths({true, true, /*engine=*/true});
  const auto fast = b->infer(x, taps);
  REQUIRE_THAT(b->engine_kernels(), Catch::Matchers::StartsWith("oneDNN engine"));
  // The torchvision flavour's pools would differ at the borders: the check can tell the flavours apart.
  o.flavour = oess::models::Flavour::kTorchvision;
  auto tv = oess::models::make_backbone(o);
  tv->init_random(7);
  const auto tv_out = tv->forward(x, {"mixed0"});
  CHECK((tv_out.at("mixed0") - plain.at("mixed0")).abs().max().item<double>() > 1e-3);
  for (const auto& tap : taps) {
    INFO("tap " << tap);
    const double scale = plain.at(tap).abs().max().item<double>();
    CHECK((fast.at(tap) - plain.at(tap)).abs().max().item<double>() <= 1e-5 * scale);
  }
}
