// libFuzzer: experiment YAML parsing and validation (schema, resolved form, settings_from).
#include "fuzz_input.h"
#include "targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string file = oess::fuzz::input_file(data, size, "fuzz.yaml");
  oess::fuzz::expect_only_oess_errors([&] { oess::fuzz::config(file); });
  return 0;
}
