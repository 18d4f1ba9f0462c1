#pragma once
// oess/experiment/slurm.h — an experiment as SLURM batch jobs (docs/cluster.md). SLURM is the engine; oess
// writes the scripts, and submits them when asked.
//
// write_slurm(config, grid, options, slurm)
//   Writes into slurm.dir:
//     config.yaml      the resolved config (paths absolute): every job runs exactly this
//     extract.sbatch   a job array of `shards` tasks: `oess run config.yaml --stage ..extract --shard K/N
//                      --out DIR/shards/K`, each extracting every N-th image into the shared feature cache
//                      (features.cache, which must be on a filesystem every node sees); a finished task
//                      leaves DIR/shards/K.done
//     merge.sbatch     after all shards (afterok): `oess run config.yaml --out RUN --stage ..extract` —
//                      the data stage and data check into RUN, every feature read from the cache
//     folds.sbatch     K-fold only, after the merge (afterok): a job array of one task per fold (folds x
//                      repeats; the manifest is read when its fold column sets them): `oess run config.yaml
//                      --out RUN --fold F`, saving RUN/folds/<fold>/fold.pt; leaves DIR/folds/F.done
//     run.sbatch       after the merge or the folds (afterok): `oess run config.yaml --out RUN --stage
//                      sweep..` — the rest of the chain (K-fold: the saved folds loaded and pooled); leaves
//                      DIR/run.done
//     submit.sh        submits what is still missing with `sbatch --parsable`, chains the dependencies
//                      (--dependency=afterok), prints the job ids and writes them to DIR/jobs.txt
//   A rerun of the same command with the same config resubmits only what is missing: shards and folds
//   without their .done file (each array lists just those), and the merge and the rest unless run.done
//   exists; with nothing missing it says so and submits nothing. A different config in DIR is refused
//   (UsageError). submit: runs submit.sh (needs sbatch on PATH, checked before anything is written). Returns
//   the text to print: the one command to run, or the job ids. Errors leave no half-written DIR: a folder
//   this call made is removed again when writing or submitting fails; sbatch's own message is part of the
//   error.
// A grid (non-empty `grid`): config.yaml holds the base and the grid block; variants.sbatch is an array of
//   one task per variant (`oess run config.yaml --out RUN --variant NAME`, extraction through the shared
//   cache, no separate shards), leaving DIR/variants/NAME.done; summary.sbatch (afterok) runs `oess run
//   config.yaml --out RUN`: every variant is skipped as finished, the comparison is made. A rerun submits the
//   variants without .done and the summary.
#include <string>
#include <vector>

#include "oess/config/config.h"
#include "oess/experiment/experiment.h"
#include "oess/experiment/grid.h"
#include "oess/settings/settings.h"

namespace oess::experiment {

struct SlurmOptions {
  std::string dir;
  int shards = 4;
  int cpus = 2;
  std::string partition, time, mem;
  std::vector<std::string> sbatch_args;
  bool submit = false;
};

// For a run with options.shard_n > 1 (or shard_k != 1): checks 1 <= K <= N and that the stages end at
// extract (UsageError otherwise), sets the extraction shard and turns the data check off (the merge checks).
void apply_shard(const RunOptions& options, settings::Settings& s);

// The stages of a run with options.fold (`--fold F`): sweep..ensemble of that fold on the cached features,
// the data check off (the run that extracted checks); UsageError when F < 1 or the config is not K-fold.
// Without a fold: options.stages.
StageRange apply_fold(const RunOptions& options, settings::Settings& s);

std::string write_slurm(const config::Config& config, const Grid& grid, const RunOptions& run,
                        const SlurmOptions& slurm);

}  // namespace oess::experiment
