#pragma once
// oess/experiment/grid.h — ablation grids: one config, many variants, paired statistics (docs/ablation.md).
//
// A `grid:` block at the top of an experiment file (not in a base) lists config keys, each with its values;
// the variants are their cross product, named KEY-VALUE joined by "__" (KEY: the key's last part), e.g.
//     grid:
//       data.balance: [oversample, class_weights, none]
//       features.pooling: [avg, max]
//       reference: balance-oversample__pooling-avg     # optional; default: the first variant
//       export: true                                   # optional; default false: no variant writes a model
// or an explicit list: `variants: [{name: a, set: {key: value, ...}}, ...]` (names: letters, digits, . _ -).
// `oess run CONFIG --grid key=v1,v2` adds (or replaces) a key from the command line.
//
// read_grid(file, cli)
//   ensures: the variants in order, each with its key = YAML value settings; `reference` one of them.
//   errors (oess::UsageError naming FILE:LINE or --grid, before anything runs): an unknown key, a key that
//   cannot vary (name, output.*), a key with no value, an empty grid, a reference that is not a variant
//   (the variants listed), two variants of one name. Values are checked against the schema by
//   variant_config.
// variant_config(base, v) — base with v's settings applied (origin "grid"). errors: UsageError naming the
//   variant, the key and what the schema refuses.
// run_grid(base, grid, options)
//   Every variant's config is built (so every bad value fails first), then each runs as a normal run into
//   RUN/variants/<name>/ (RUN: options.out_dir, else the base's output.dir), one after another, each with
//   every thread (the sweep trains taps in parallel); features are shared through the feature cache, so
//   each distinct backbone / weights / input setting is extracted once. A finished variant (its
//   grid.done holds the SHA-256 of the resolved config it would run now) is skipped, so an interrupted
//   grid resumes. Variants stop after their report (no model/) unless the grid says `export: true`. The data
//   check decodes each manifest once per process (check_data): variants on the same images share it. Then
//   every variant is compared with the reference on the same test images
//   (metrics/paired.h: paired patient bootstrap of the accuracy and quadratic-kappa differences, McNemar
//   exact, Holm over the grid) into RUN/ablation.csv, ablation.md, ablation.html (report/ablation.h).
//   options.variant: only that variant (UsageError listing the variants when it is not one), no
//   comparison — what `oess run --slurm`'s variant array jobs run.
#include <string>
#include <utility>
#include <vector>

#include "oess/config/config.h"
#include "oess/experiment/experiment.h"

namespace oess::experiment {

struct GridVariant {
  std::string name;
  std::vector<std::pair<std::string, std::string>> sets;  // key, YAML value
};

struct Grid {
  std::vector<GridVariant> variants;
  std::string reference;
  bool export_models = false;  // `export: true`: each variant also writes its model/ (the export stage)
  bool empty() const { return variants.empty(); }
};

Grid read_grid(const std::string& file, const std::vector<std::string>& cli);
// The grid as a `grid:` block (explicit variants, the reference) that read_grid reads back to the same grid.
std::string grid_yaml(const Grid& grid);
config::Config variant_config(const config::Config& base, const GridVariant& v);
void run_grid(const config::Config& base, const Grid& grid, const RunOptions& options);

}  // namespace oess::experiment
