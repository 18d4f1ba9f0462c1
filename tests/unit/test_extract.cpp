// The extraction engine: taps equal the backbone's, the cache, damaged entries, corrupt images, shards.
#include <torch/torch.h>
#include <unistd.h>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "oess/data/loader.h"
#include "oess/data/synth.h"
#include "oess/features/cache.h"
#include "oess/features/extractor.h"
#include "oess/models/preprocessing.h"
#include "oess/platform/platform.h"

namespace fs = std::filesystem;
using namespace oess;
using Catch::Matchers::Contains;

namespace {

// A small synthetic dataset, made once per test binary run.
std::vector<features::ExtractItem> dataset() {
  static std::vector<features::ExtractItem> items;
  if (items.empty()) {
    // Per process: ctest runs the test cases of this binary in parallel processes.
    const fs::path root =
        fs::temp_directory_path() / ("oess_test_extract_data." + std::to_string(::getpid()));
    fs::remove_all(root);
    data::SynthOptions o;
    o.out_dir = root.string();
    o.counts = {3, 3, 2, 2};
    o.width = 192;
    o.height = 144;
    o.seed = 5;
    data::generate_dataset(o);
    for (const auto& e : fs::directory_iterator(root / "images"))
      items.push_back({e.path().string(), e.path().filename().string()});
    std::sort(items.begin(), items.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  }
  return items;
}

features::ExtractOptions options(const std::string& cache = "") {
  features::ExtractOptions o;
  o.taps = {"mixed0", "mixed2"};
  o.batch = 3;
  o.cache_dir = cache;
  return o;
}

fs::path fresh(const std::string& name) {
  const fs::path p = fs::temp_directory_path() / (name + "." + std::to_string(::getpid()));
  fs::remove_all(p);
  return p;
}

}  // namespace

TEST_CASE("extracted features equal the backbone's taps, pooled (fast paths on vs off)", "[extract]") {
  auto o = options();
  o.weights = std::string(OESS_FIXTURE_DIR) + "/inception_v3.plain.pt";
  o.taps = {"all"};
  o.pooling = "avg";
  const auto f = features::extract_features(dataset(), o);
  REQUIRE(f.rows() == 10);
  REQUIRE(f.taps.size() == 11);
  // Reference: the plain backbone (no folding, no channels_last), one image at a time, pooled here.
  models::BackboneOptions bo;
  bo.classifier = false;
  bo.aux_logits = false;
  auto b = models::load_backbone(bo, o.weights);
  const auto pre = models::preprocessing_preset("torchvision", models::Arch::kInceptionV3);
  torch::InferenceMode guard;
  double worst = 0;
  for (size_t i = 0; i < dataset().size(); ++i) {
    const auto x = data::load_image(dataset()[i].path, pre, {}).unsqueeze(0);
    const auto out = b->forward(x, f.taps);
    for (const auto& tap : f.taps) {
      const auto ref = out.at(tap).mean({2, 3})[0];
      const double scale = ref.abs().max().item<double>();
      const double err = (f.data.at(tap)[static_cast<int64_t>(i)] - ref).abs().max().item<double>();
      CHECK(err <= 1e-4 * scale);
      worst = std::max(worst, err / scale);
    }
  }
  std::cout << "extract vs backbone: worst max|diff| = " << worst << " * max|ref| (tolerance 1e-4)\n";
  CHECK(f.paths[0] == dataset()[0].label);
  CHECK(f.meta.at("taps") == "mixed0,mixed1,mixed2,mixed3,mixed4,mixed5,mixed6,mixed7,mixed8,mixed9,mixed10");
}

TEST_CASE("the memory layout chosen for this CPU gives the other layout's features (1e-5)", "[extract]") {
  auto o = options();
  o.weights = std::string(OESS_FIXTURE_DIR) + "/inception_v3.plain.pt";
  o.taps = {"all"};
  o.pooling = "avg";
  CHECK(o.fast.fold_batchnorm);
  CHECK(o.fast.channels_last == oess::platform::channels_last_pays());
  o.fast.engine = false;  // the layout is LibTorch's (heat maps, and wherever the engine falls back)
  const auto chosen = features::extract_features(dataset(), o);
  o.fast.channels_last = !o.fast.channels_last;
  const auto other = features::extract_features(dataset(), o);
  REQUIRE(chosen.taps == other.taps);
  double worst = 0;
  for (const auto& tap : chosen.taps) {
    const auto& a = chosen.data.at(tap);
    const double scale = a.abs().max().item<double>();
    const double err = (a - other.data.at(tap)).abs().max().item<double>();
    CHECK(err <= 1e-5 * scale);
    worst = std::max(worst, err / scale);
  }
  std::cout << "chosen layout vs the other: worst max|diff| = " << worst
            << " * max|feature| (tolerance 1e-5)\n";
}

TEST_CASE("max pooling and full maps", "[extract]") {
  auto o = options();
  o.taps = {"mixed0"};
  o.pooling = "max";
  const auto mx = features::extract_features(dataset(), o);
  o.pooling = "none";
  const auto full = features::extract_features(dataset(), o);
  REQUIRE(full.data.at("mixed0").sizes() == torch::IntArrayRef({10, 256, 35, 35}));
  CHECK(torch::allclose(full.data.at("mixed0").amax({2, 3}), mx.data.at("mixed0")));
  o.max_full_bytes = 1e6;  // 10 x 256 x 35 x 35 x 4 B = 12.5 MB
  REQUIRE_THROWS_WITH(features::extract_features(dataset(), o), Contains("over the 0.00 GiB limit"));
}

TEST_CASE("the cache: second run is all hits, new taps are computed, damaged entries are recomputed",
          "[extract]") {
  const fs::path cache = fresh("oess_test_extract_cache");
  features::ExtractStats s1, s2, s3, s4;
  const auto a = features::extract_features(dataset(), options(cache.string()), {}, &s1);
  CHECK(s1.computed == 10);
  CHECK(s1.from_cache == 0);
  const auto b = features::extract_features(dataset(), options(cache.string()), {}, &s2);
  CHECK(s2.computed == 0);
  CHECK(s2.from_cache == 10);
  for (const auto& tap : a.taps) CHECK(torch::equal(a.data.at(tap), b.data.at(tap)));
  auto more = options(cache.string());
  more.taps = {"mixed0", "mixed3"};
  features::extract_features(dataset(), more, {}, &s3);
  CHECK(s3.computed == 10);  // mixed3 was not cached
  // Damage one entry: it reads as missing and is recomputed, giving the same features.
  std::vector<fs::path> entries;
  for (const auto& e : fs::recursive_directory_iterator(cache))
    if (e.path().extension() == ".oessf") entries.push_back(e.path());
  REQUIRE(entries.size() == 10);
  fs::resize_file(entries[3], fs::file_size(entries[3]) / 2);
  const auto c = features::extract_features(dataset(), options(cache.string()), {}, &s4);
  CHECK(s4.computed == 1);
  CHECK_THAT(s4.notes, Contains("1 damaged cache entr"));
  for (const auto& tap : a.taps) CHECK(torch::equal(a.data.at(tap), c.data.at(tap)));
}

TEST_CASE("a corrupt image is named and does not poison the cache", "[extract]") {
  const fs::path cache = fresh("oess_test_extract_corrupt");
  auto items = dataset();
  const fs::path dir = fresh("oess_test_corrupt");
  fs::create_directories(dir);
  const fs::path bad = dir / "corrupt.png";
  std::ofstream(bad) << "\x89PNG but not really";
  items.insert(items.begin() + 7, {bad.string(), "corrupt.png"});
  REQUIRE_THROWS_WITH(features::extract_features(items, options(cache.string())),
                      Contains("corrupt.png: cannot decode image"));
  // The good images computed before the failure are in the cache and are right.
  features::ExtractStats st;
  const auto clean = features::extract_features(dataset(), options(), {}, nullptr);
  const auto resumed = features::extract_features(dataset(), options(cache.string()), {}, &st);
  CHECK(st.from_cache >= 6);  // batches of 3: items 0..5 at least were done before item 7 failed
  for (const auto& tap : clean.taps) CHECK(torch::equal(clean.data.at(tap), resumed.data.at(tap)));
}

TEST_CASE("duplicates are computed once, augmented copies are their own rows", "[extract]") {
  auto items = dataset();
  items.push_back(items[0]);                          // plain duplicate
  items.push_back({items[1].path, "aug", true, 99});  // augmented copy
  features::ExtractStats st;
  const auto f = features::extract_features(items, options(), {}, &st);
  CHECK(st.computed == 11);  // 10 originals + 1 augmented; the duplicate reuses row 0
  CHECK(torch::equal(f.data.at("mixed2")[10], f.data.at("mixed2")[0]));
  CHECK_FALSE(torch::equal(f.data.at("mixed2")[11], f.data.at("mixed2")[1]));
}

TEST_CASE("shards merged equal one unsharded run, and mismatched shards are refused", "[extract]") {
  const auto whole = features::extract_features(dataset(), options());
  std::vector<std::pair<std::string, features::FeatureSet>> shards;
  for (int k : {3, 1, 2}) {
    auto o = options();
    o.shard_k = k;
    o.shard_n = 3;
    shards.emplace_back("shard" + std::to_string(k), features::extract_features(dataset(), o));
  }
  CHECK(shards[0].second.rows() == 3);  // rows 2, 5, 8
  const auto merged = features::merge_shards(shards);
  CHECK(merged.paths == whole.paths);
  for (const auto& tap : whole.taps) CHECK(torch::equal(merged.data.at(tap), whole.data.at(tap)));
  // Written and read back.
  const fs::path file = fresh("oess_test_merged.pt");
  features::write_feature_file(file.string(), merged);
  const auto back = features::read_feature_file(file.string());
  CHECK(back.paths == whole.paths);
  CHECK(torch::equal(back.data.at("mixed2"), whole.data.at("mixed2")));
  auto missing = shards;
  missing.pop_back();
  REQUIRE_THROWS_WITH(features::merge_shards(missing), Contains("shard(s) 2 of 3 missing"));
  auto other = options();
  other.shard_k = 2;
  other.shard_n = 3;
  other.pooling = "max";
  missing.emplace_back("other", features::extract_features(dataset(), other));
  REQUIRE_THROWS_WITH(features::merge_shards(missing), Contains("disagree on config"));
}

TEST_CASE("cache entries round-trip and reject damage", "[extract]") {
  std::map<std::string, torch::Tensor> e{{"mixed0", torch::arange(6, torch::kFloat32).reshape({2, 3})}};
  const std::string bytes = features::encode_entry(e);
  auto back = features::decode_entry(bytes);
  REQUIRE(back);
  CHECK(torch::equal(back->at("mixed0"), e.at("mixed0")));
  std::string flipped = bytes;
  flipped[20] ^= 1;
  CHECK_FALSE(features::decode_entry(flipped));
  CHECK_FALSE(features::decode_entry(bytes.substr(0, bytes.size() - 1)));
}
