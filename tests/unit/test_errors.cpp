// The exit-code contract: failed work is 1, bad usage is 2, and both are oess::Error.
#include <catch2/catch.hpp>

#include "oess/core/error.h"

TEST_CASE("Error kinds carry the documented exit codes", "[core]") {
  CHECK(oess::Error("x").exit_code() == 1);
  CHECK(oess::UsageError("x").exit_code() == 2);
  try {
    throw oess::UsageError("bad --layers value");
  } catch (const oess::Error& e) {  // a UsageError is caught as an Error and keeps its code
    CHECK(e.exit_code() == 2);
    CHECK(std::string(e.what()) == "bad --layers value");
  }
}

#include "oess/core/sha256.h"

TEST_CASE("SHA-256 matches the FIPS 180-4 examples", "[core]") {
  CHECK(oess::sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(oess::sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(oess::sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  oess::Sha256 chunked;  // one million 'a', fed in odd-sized pieces
  const std::string piece(997, 'a');
  size_t left = 1000000;
  while (left > 0) {
    const size_t n = std::min(left, piece.size());
    chunked.update(piece.data(), n);
    left -= n;
  }
  CHECK(chunked.hex() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
