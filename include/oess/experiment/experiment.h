#pragma once
// oess/experiment/experiment.h — `oess run`: one experiment config, the whole chain, one run folder.
//
// Stages, in order: data (the manifest, or the synthetic dataset made on first use; split; balancing) ->
// extract (backbone features at every tap, through the feature cache) -> sweep (one classifier per tap) ->
// select (the final tap, on validation only) -> ensemble (members with varied settings) -> evaluate
// (predictions.csv, metrics.json with bootstrap CIs) -> report (report.md, report.html, plots/) -> export
// (model/).
// parse_stages(spec): "" = all; "X" or "..X" = up to and including X; "X.." = from X on. A run from X
//   reuses what the stages before it left and recomputes nothing: from extract, the dataset must exist;
//   from sweep, every feature row must be in the cache (else oess::Error naming the first missing image).
//   Only data, extract and sweep can start a run: the later stages take seconds and work on the sweep's
//   results in memory. errors: oess::UsageError naming the stage.
// run_experiment(config, options)
//   ensures: the run folder (config output.dir, {name} replaced; or options.out_dir) holds, for the stages
//   run: config.resolved.yaml, split.csv, layers.csv, curves/, predictions.csv (test set, final model),
//   metrics.json (equal to `oess evaluate --predictions predictions.csv --bootstrap B --seed SEED`),
//   report.md, report.html, plots/, model/, log.txt (the console output and warnings, also on failure).
//   Every file is written whole or not at all. Console: each stage with its wall time, progress bars on
//   stderr for long work, a prominent note when the backbone has no ImageNet weights.
#include <string>
#include <vector>

#include "oess/config/config.h"

namespace oess::experiment {

const std::vector<std::string>& stage_names();  // data extract sweep select ensemble evaluate report export

struct StageRange {
  size_t first = 0, last = 8;  // indices into stage_names(), inclusive (8: export, the last)
};
StageRange parse_stages(const std::string& spec);

struct RunOptions {
  std::string out_dir;  // overrides output.dir when not empty
  bool force = false;   // run into a folder holding a run of another config (else UsageError)
  StageRange stages;
  // Extraction shard K of N (K = 1..N): only every N-th image (index % N == K - 1) is extracted into the
  // feature cache, and the run stops after its extract stage (stages must end there: UsageError) without the
  // data check (the run that reads the shards back checks). `oess run --slurm`'s array jobs use it.
  int shard_k = 1, shard_n = 1;
  // K-fold: train fold F alone (1..folds x repeats, repeat-major) and save it to RUN/folds/<fold>/fold.pt
  // (kfold.h), its log to RUN/folds/<fold>/log.txt: the data stage without the data check, the features from
  // the cache (Error naming the first missing image), that fold's sweep, select and ensemble. A later run of
  // the same config into RUN (e.g. --stage sweep..) loads the saved folds instead of training them. 0 = every
  // fold. UsageError when the config is not K-fold or F is out of range. `oess run --slurm`'s fold jobs use
  // it.
  int fold = 0;
  // A grid's variant to run alone (its folder, no comparison); "" = every variant, then the comparison.
  std::string variant;
};

struct StageTime {
  std::string stage;
  double seconds = 0;
};

struct RunSummary {
  std::string dir;
  std::vector<StageTime> times;
};

RunSummary run_experiment(const config::Config& config, const RunOptions& options = {});

}  // namespace oess::experiment
