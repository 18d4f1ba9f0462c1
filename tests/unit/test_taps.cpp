// Tap tables and state-dict key normalisation, checked against facts written out by hand.
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include "oess/core/error.h"
#include "oess/models/backbone.h"
#include "oess/models/taps.h"

using Catch::Matchers::Contains;
using oess::models::Arch;
using oess::models::resolve_tap;

TEST_CASE("Inception mixed layers: Keras names, torchvision aliases, channels", "[taps]") {
  const char* alias[] = {"Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c",
                         "Mixed_6d", "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c"};
  const int channels[] = {256, 288, 288, 768, 768, 768, 768, 768, 1280, 2048, 2048};
  for (int i = 0; i < 11; ++i) {
    const auto& by_name = resolve_tap(Arch::kInceptionV3, "mixed" + std::to_string(i));
    const auto& by_alias = resolve_tap(Arch::kInceptionV3, alias[i]);
    CHECK(by_name.module == alias[i]);
    CHECK(&by_name == &by_alias);
    CHECK(by_name.channels == channels[i]);
  }
  CHECK(oess::models::default_taps(Arch::kInceptionV3).size() == 11);
}

TEST_CASE("VGG-16 Keras names map to torchvision features indices", "[taps]") {
  CHECK(resolve_tap(Arch::kVgg16, "block1_conv1").module == "features.1");  // ReLU after features.0
  CHECK(resolve_tap(Arch::kVgg16, "block1_pool").module == "features.4");
  CHECK(resolve_tap(Arch::kVgg16, "block3_conv3").module == "features.15");
  CHECK(resolve_tap(Arch::kVgg16, "block5_conv3").module == "features.29");
  CHECK(resolve_tap(Arch::kVgg16, "block5_pool").module == "features.30");
  CHECK(resolve_tap(Arch::kVgg16, "features.29").name == "block5_conv3");
  CHECK(resolve_tap(Arch::kVgg16, "features.28").name == "features.28");  // the conv itself, before ReLU
  CHECK(resolve_tap(Arch::kVgg16, "block5_conv3").channels == 512);
  CHECK(resolve_tap(Arch::kVgg16, "block2_pool").channels == 128);
  CHECK(oess::models::default_taps(Arch::kVgg16).size() == 18);  // 13 convs + 5 pools
}

TEST_CASE("an unknown tap is a usage error listing the valid ones", "[taps]") {
  REQUIRE_THROWS_AS(resolve_tap(Arch::kInceptionV3, "mixed11"), oess::UsageError);
  REQUIRE_THROWS_WITH(resolve_tap(Arch::kInceptionV3, "mixed11"),
                      Contains("unknown inception_v3 tap \"mixed11\"") && Contains("mixed10 (Mixed_7c)"));
  REQUIRE_THROWS_WITH(oess::models::parse_arch("resnet50"), Contains("expected vgg16 or inception_v3"));
}

TEST_CASE("resolve_taps expands all, keeps order, drops repeats", "[taps]") {
  const auto t = oess::models::resolve_taps(Arch::kInceptionV3, {"mixed4", "Mixed_6b", "mixed0"});
  CHECK(t == std::vector<std::string>{"mixed4", "mixed0"});
  CHECK(oess::models::resolve_taps(Arch::kInceptionV3, {"all"}).size() == 11);
}

TEST_CASE("state-dict keys: module. prefix and timm's VGG head are normalised", "[taps][weights]") {
  oess::io::StateDict timm = {
      {"module.features.0.weight", torch::zeros({64, 3, 3, 3})},
      {"pre_logits.fc1.weight", torch::arange(2 * 512 * 7 * 7, torch::kFloat32).reshape({2, 512, 7, 7})},
      {"pre_logits.fc2.weight", torch::zeros({3, 2, 1, 1})},
      {"head.fc.bias", torch::zeros({5})},
  };
  const auto out = oess::models::normalize_state_dict(Arch::kVgg16, timm);
  REQUIRE(out.size() == 4);
  CHECK(out[0].first == "features.0.weight");
  CHECK(out[1].first == "classifier.0.weight");
  CHECK(out[1].second.sizes() == torch::IntArrayRef({2, 25088}));
  // Row-major flatten of [C=512, 7, 7]: element (c=1, y=0, x=2) sits at column 1*49 + 2 = 51.
  CHECK(out[1].second[0][51].item<float>() == 51.0f);
  CHECK(out[2].first == "classifier.3.weight");
  CHECK(out[2].second.sizes() == torch::IntArrayRef({3, 2}));
  CHECK(out[3].first == "classifier.6.bias");
  // Inception keys are left alone (apart from module.).
  const auto inc =
      oess::models::normalize_state_dict(Arch::kInceptionV3, {{"head.fc.bias", torch::zeros({5})}});
  CHECK(inc[0].first == "head.fc.bias");
}

TEST_CASE("a backbone loads its own state dict strictly and refuses a classifier tap it lacks",
          "[taps][weights]") {
  oess::models::BackboneOptions o;
  o.arch = Arch::kVgg16;
  o.classifier = false;
  auto a = oess::models::make_backbone(o);
  a->init_random(7);
  oess::io::StateDict sd;
  for (const auto& p : a->module().named_parameters()) sd.emplace_back(p.key(), p.value().detach().clone());
  auto b = oess::models::make_backbone(o);
  const auto report = b->load(sd, /*strict=*/true);
  CHECK(report.ok());
  CHECK(report.loaded == 26);               // 13 convs x (weight, bias)
  CHECK(b->parameter_count() == 14714688);  // torchvision vgg16().features
  REQUIRE_THROWS_WITH(b->forward(torch::zeros({1, 3, 32, 32}), {"fc1"}), Contains("classification head"));
}

TEST_CASE("a bad device string is a usage error", "[models]") {
  CHECK(oess::models::parse_device("cpu") == torch::Device(torch::kCPU));
  REQUIRE_THROWS_AS(oess::models::parse_device("gpu"), oess::UsageError);
  REQUIRE_THROWS_AS(oess::models::parse_device("cuda:x"), oess::UsageError);
  if (!torch::cuda::is_available())
    REQUIRE_THROWS_WITH(oess::models::parse_device("cuda"), Contains("no usable CUDA"));
}

TEST_CASE("weights none gives a seeded random backbone, same seed same weights", "[models]") {
  oess::models::BackboneOptions o;
  o.arch = Arch::kVgg16;
  o.classifier = false;
  auto a = oess::models::load_backbone(o, "none", true, 5);
  auto b = oess::models::load_backbone(o, "none", true, 5);
  auto c = oess::models::load_backbone(o, "none", true, 6);
  torch::InferenceMode guard;
  const auto x = torch::ones({1, 3, 32, 32});
  const auto ya = a->forward(x, {"block2_pool"}).at("block2_pool");
  CHECK(torch::equal(ya, b->forward(x, {"block2_pool"}).at("block2_pool")));
  CHECK_FALSE(torch::equal(ya, c->forward(x, {"block2_pool"}).at("block2_pool")));
  a->to(oess::models::parse_device("cpu"));
  CHECK(a->device() == torch::Device(torch::kCPU));
}
