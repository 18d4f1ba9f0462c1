// Broken weights files (made by the oracle script) each give an oess::Error naming the file and the fault.
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include "oess/core/error.h"
#include "oess/io/weights.h"
#include "oess/models/backbone.h"

using Catch::Matchers::Contains;
using oess::models::Arch;

namespace {

std::string bad(const std::string& name) { return std::string(OESS_FIXTURE_DIR) + "/bad/" + name; }

void load_vgg_features(const std::string& path) {
  oess::models::BackboneOptions o;
  o.arch = Arch::kVgg16;
  o.classifier = false;
  auto b = oess::models::make_backbone(o);
  b->load(oess::io::read_weights(path).tensors, /*strict=*/true, path);
}

}  // namespace

TEST_CASE("a missing key is named", "[weights][errors]") {
  REQUIRE_THROWS_WITH(load_vgg_features(bad("missing_key.pt")),
                      Contains("missing (1): features.28.bias") && Contains("missing_key.pt"));
}

TEST_CASE("an extra key is named", "[weights][errors]") {
  REQUIRE_THROWS_WITH(load_vgg_features(bad("extra_key.pt")), Contains("unexpected (1): features.31.weight"));
}

TEST_CASE("a wrong shape is named with both shapes", "[weights][errors]") {
  REQUIRE_THROWS_WITH(load_vgg_features(bad("wrong_shape.pt")),
                      Contains("features.0.weight: file [64, 3, 5, 5] vs network [64, 3, 3, 3]"));
}

TEST_CASE("a truncated torch zip is reported as such", "[weights][errors]") {
  REQUIRE_THROWS_WITH(oess::io::read_weights(bad("truncated.pt")),
                      Contains("truncated.pt: truncated or corrupt torch zip file"));
}

TEST_CASE("a truncated safetensors file is reported as such", "[weights][errors]") {
  REQUIRE_THROWS_WITH(oess::io::read_weights(bad("truncated.safetensors")),
                      Contains("truncated.safetensors") && Contains("truncated?"));
}

TEST_CASE("a file that is not a checkpoint is reported as such", "[weights][errors]") {
  REQUIRE_THROWS_WITH(oess::io::read_weights(bad("not_a_checkpoint.pt")), Contains("not a checkpoint"));
}

TEST_CASE("unconverted PyTorch files point at the converter", "[weights][errors]") {
  for (const char* f : {"ordered_dict.pth", "legacy.pth", "nested.pt"}) {
    INFO(f);
    REQUIRE_THROWS_WITH(oess::io::read_weights(bad(f)), Contains(f) && Contains("tools/convert_weights.py"));
  }
}

TEST_CASE("a missing file and a folder are named", "[weights][errors]") {
  REQUIRE_THROWS_WITH(oess::io::read_weights(bad("no_such_file.pt")),
                      Contains("no_such_file.pt: no such file"));
  REQUIRE_THROWS_WITH(oess::io::read_weights(std::string(OESS_FIXTURE_DIR) + "/bad"),
                      Contains("is a folder"));
}

TEST_CASE("Inception weights loaded into VGG-16 name the mismatch and hint at the architecture",
          "[weights][errors]") {
  REQUIRE_THROWS_WITH(load_vgg_features(std::string(OESS_FIXTURE_DIR) + "/inception_v3.plain.pt"),
                      Contains("no tensor fits: is this an Inception-v3"));
}
