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
