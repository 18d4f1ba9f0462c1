// libFuzzer: TensorFlow.js model.json / UMD bundles: the JS-literal reader, manifests, dequantisation, the
// importers.
#include "fuzz_input.h"
#include "targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string file = oess::fuzz::input_file(data, size, "model.json");
  oess::fuzz::expect_only_oess_errors([&] { oess::fuzz::tfjs(file); });
  return 0;
}
