// Links the installed liboess and checks the library and header versions agree.
#include <cstdio>
#include <cstring>

#include "oess/core/error.h"
#include "oess/version.h"

int main() {
  const std::string v = oess::version();
  std::printf("%s", oess::build_info().c_str());
  if (v != OESS_VERSION_STRING) {
    std::printf("header %s != library %s\n", OESS_VERSION_STRING, v.c_str());
    return 1;
  }
  return oess::UsageError("x").exit_code() == 2 ? 0 : 1;
}
