#pragma once
// Shared by the libFuzzer targets: each writes its input to a per-process file and calls an oess entry point
// that reads files. oess::Error is the designed outcome for bad input; anything else that escapes (another
// exception type, a crash, a sanitizer report) is a finding.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "oess/core/error.h"

namespace oess::fuzz {

inline std::string input_file(const uint8_t* data, size_t size, const char* name) {
  const std::string path = "/tmp/oess-fuzz-" + std::to_string(::getpid()) + "-" + name;
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  return path;
}

// Runs fn; oess::Error is fine, any other exception aborts (a finding, with its message).
template <typename F>
void expect_only_oess_errors(F&& fn) {
  try {
    fn();
  } catch (const oess::Error&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "non-oess exception escaped: %s\n", e.what());
    std::abort();
  }
}

}  // namespace oess::fuzz
