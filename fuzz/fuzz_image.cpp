// libFuzzer: the image decoding entry point (PNG, JPEG, BMP, TIFF, DICOM by content) and the colour-box crop.
#include "fuzz_input.h"
#include "targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string file = oess::fuzz::input_file(data, size, "image");
  oess::fuzz::expect_only_oess_errors([&] { oess::fuzz::image(file); });
  return 0;
}
