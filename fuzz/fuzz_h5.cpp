// libFuzzer: Keras .h5 files through libhdf5 and oess's reader, then the importers.
#include "fuzz_input.h"
#include "targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string file = oess::fuzz::input_file(data, size, "weights.h5");
  oess::fuzz::expect_only_oess_errors([&] { oess::fuzz::h5(file); });
  return 0;
}
