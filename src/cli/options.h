#pragma once
// src/cli/options.h — command-line options several subcommands share, declared once.
namespace CLI {
class App;
}
namespace oess::data {
struct SplitOptions;
}

namespace oess::cli {

// --split-method, --val-per-class, --test-per-class, --val-fraction, --test-fraction, --seed,
// --allow-patient-overlap (data/split.h).
void add_split_options(CLI::App& sub, data::SplitOptions& split);

}  // namespace oess::cli
