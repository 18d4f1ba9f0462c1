// Replays the fuzz seed corpus (fuzz/corpus) and every input that once crashed a fuzz target
// (tests/fuzz_regressions) through the same entry points, on the normal build: each must end normally or in
// an oess::Error — never another exception, a crash or (under tools/sanitize.sh) a sanitizer report.
#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

#include "../../fuzz/targets.h"

namespace fs = std::filesystem;

namespace {

void replay(const std::string& target, void (*fn)(const std::string&)) {
  int files = 0;
  for (const char* root : {OESS_SOURCE_DIR "/fuzz/corpus/", OESS_SOURCE_DIR "/tests/fuzz_regressions/"}) {
    const fs::path dir = fs::path(root) / target;
    if (!fs::is_directory(dir)) continue;
    for (const auto& e : fs::directory_iterator(dir)) {
      if (!e.is_regular_file() || e.path().filename() == "README") continue;
      INFO(e.path().string());
      CHECK_NOTHROW(oess::fuzz::swallow_oess_errors(fn, e.path().string()));
      ++files;
    }
  }
  CHECK(files > 0);
}

}  // namespace

TEST_CASE("fuzz inputs replay: manifest") { replay("manifest", oess::fuzz::manifest); }
TEST_CASE("fuzz inputs replay: config") { replay("config", oess::fuzz::config); }
TEST_CASE("fuzz inputs replay: weights") { replay("weights", oess::fuzz::weights); }
TEST_CASE("fuzz inputs replay: image") { replay("image", oess::fuzz::image); }
TEST_CASE("fuzz inputs replay: model") { replay("model", oess::fuzz::model); }
TEST_CASE("fuzz inputs replay: tfjs") { replay("tfjs", oess::fuzz::tfjs); }
TEST_CASE("fuzz inputs replay: h5") { replay("h5", oess::fuzz::h5); }
