#pragma once
// oess/core/sha256.h — SHA-256 (FIPS 180-4), for content-addressed caches and weights identity.
#include <cstdint>
#include <string>
#include <string_view>

namespace oess {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t n);
  void update(std::string_view s) { update(s.data(), s.size()); }
  std::string hex();  // finishes; the object is spent afterwards

 private:
  void block(const uint8_t* p);
  uint32_t h_[8];
  uint8_t buf_[64];
  size_t fill_ = 0;
  uint64_t bits_ = 0;
};

std::string sha256_hex(std::string_view data);
// Hash of a file's bytes. errors: oess::Error naming the file.
std::string sha256_file(const std::string& path);

}  // namespace oess
