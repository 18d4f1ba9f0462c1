// libFuzzer: weight loading: torch zip dicts, safetensors headers, the formats refused by name.
#include "fuzz_input.h"
#include "targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string file = oess::fuzz::input_file(data, size, "weights.bin");
  oess::fuzz::expect_only_oess_errors([&] { oess::fuzz::weights(file); });
  return 0;
}
