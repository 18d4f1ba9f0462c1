#pragma once
// oess/cli/app.h — the `oess` command line (CLI11). tools/oess_main.cpp only calls run().
//
// ensures: returns 0 on success, 2 on bad usage (unknown option or subcommand, missing argument, a value
// out of its range), 1 on failed work; never lets an exception escape; messages go to stderr, results to
// stdout or files.
namespace oess::cli {
int run(int argc, char** argv);
}  // namespace oess::cli
