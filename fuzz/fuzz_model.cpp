// libFuzzer: loading exported models (oess score --model).
#include "fuzz_input.h"
#include "targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string file = oess::fuzz::input_file(data, size, "model.pt");
  oess::fuzz::expect_only_oess_errors([&] { oess::fuzz::model(file); });
  return 0;
}
