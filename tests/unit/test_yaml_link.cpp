// yaml-cpp is linked and parses the shapes oess experiments use: nested maps, lists, scalars.
#include <yaml-cpp/yaml.h>

#include <catch2/catch.hpp>

TEST_CASE("yaml-cpp parses nested maps, lists and typed scalars", "[link][yaml]") {
  const YAML::Node n = YAML::Load(
      "seed: 42\n"
      "backbone: {arch: inception_v3, weights: none}\n"
      "features:\n"
      "  layers: [mixed3, mixed4, mixed5]\n"
      "classifier:\n"
      "  lr: 1.0e-3\n"
      "  early_stopping: {patience: 10}\n");
  CHECK(n["seed"].as<int>() == 42);
  CHECK(n["backbone"]["arch"].as<std::string>() == "inception_v3");
  REQUIRE(n["features"]["layers"].IsSequence());
  CHECK(n["features"]["layers"].size() == 3);
  CHECK(n["features"]["layers"][1].as<std::string>() == "mixed4");
  CHECK(n["classifier"]["lr"].as<double>() == Approx(0.001));
  CHECK(n["classifier"]["early_stopping"]["patience"].as<int>() == 10);
  CHECK_FALSE(n["missing"]);
  CHECK_THROWS_AS(n["backbone"]["arch"].as<int>(), YAML::BadConversion);
}
