// libFuzzer: manifest CSV parsing and the splits made from it.
#include "fuzz_input.h"
#include "targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string file = oess::fuzz::input_file(data, size, "manifest.csv");
  oess::fuzz::expect_only_oess_errors([&] { oess::fuzz::manifest(file); });
  return 0;
}
