// The `oess` binary: everything lives in liboess (oess/cli/app.h).
#include "oess/cli/app.h"

int main(int argc, char** argv) { return oess::cli::run(argc, argv); }
