// `oess run CONFIG`: a YAML experiment end to end (src/experiment).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <memory>

#include "oess/core/error.h"

#include "commands.h"
#include "oess/config/config.h"
#include "oess/experiment/experiment.h"
#include "oess/experiment/grid.h"
#include "oess/experiment/slurm.h"
#include "options.h"

namespace oess::cli {

namespace {

// --slurm DIR and the options that need it (experiment/slurm.h, docs/cluster.md).
void add_slurm_options(CLI::App* sub, experiment::SlurmOptions& o) {
  auto* slurm =
      sub->add_option("--slurm", o.dir,
                      "write the experiment as SLURM jobs into this folder instead of running it: an "
                      "extraction array, a merge, (K-fold) an array over the folds, the rest of the chain; "
                      "grids: an array over the variants, a summary (docs/cluster.md)");
  sub->add_option("--shards", o.shards, "with --slurm: extraction array tasks")
      ->needs(slurm)
      ->capture_default_str();
  sub->add_option("--cpus", o.cpus, "with --slurm: CPUs per task (--cpus-per-task)")
      ->needs(slurm)
      ->capture_default_str();
  sub->add_option("--partition", o.partition, "with --slurm: the partition (sbatch --partition)")
      ->needs(slurm);
  sub->add_option("--time", o.time, "with --slurm: the time limit per job (sbatch --time)")->needs(slurm);
  sub->add_option("--mem", o.mem, "with --slurm: memory per job (sbatch --mem, e.g. 8G)")->needs(slurm);
  sub->add_option("--sbatch-arg", o.sbatch_args,
                  "with --slurm: one more #SBATCH line, e.g. --sbatch-arg=--account=rheum (repeatable)")
      ->needs(slurm);
  sub->add_flag("--submit", o.submit,
                "with --slurm: submit the jobs (sbatch --parsable, chained by afterok) and write their ids "
                "to DIR/jobs.txt; a rerun submits only what is missing")
      ->needs(slurm);
}

}  // namespace

void add_run_command(CLI::App& app) {
  struct Args {
    std::string config, out, stage, shard, variant;
    std::vector<std::string> sets, grid;
    bool force = false;
    int fold = 0;
    experiment::SlurmOptions slurm;
  };
  auto a = std::make_shared<Args>();
  auto* sub = app.add_subcommand("run", "Run a YAML experiment end to end into a run folder");
  sub->add_option("CONFIG", a->config, "experiment YAML (experiments/*.yaml; keys: docs/config.md)")
      ->required();
  sub->add_option("--set", a->sets,
                  "override a key: --set classifier.lr=0.01 (repeatable; value read as YAML)");
  sub->add_option(
      "--grid", a->grid,
      "vary a key over values: --grid data.balance=oversample,none (repeatable; the variants are the "
      "cross product, with the config's grid: block; docs/ablation.md)");
  sub->add_option("--out", a->out, "run folder (default: the config's output.dir, runs/{name})");
  sub->add_flag("--force", a->force,
                "run into a folder that holds a run of another config (files are replaced; a rerun of the "
                "same config needs no --force)");
  sub->add_option("--stage", a->stage,
                  "X or ..X: run up to stage X; X..: from X (data, extract or sweep), reusing what the "
                  "earlier stages left");
  sub->add_option("--shard", a->shard,
                  "K/N: extract only every N-th image (K = 1..N) into the feature cache, with --stage "
                  "..extract (what --slurm's array jobs run; docs/cluster.md)");
  auto* fold = sub->add_option(
      "--fold", a->fold,
      "K-fold: train fold F alone (1..folds x repeats) on the cached features and save it to "
      "RUN/folds/<fold>/fold.pt; a later run of the same config into RUN pools the saved folds "
      "instead of training them (what --slurm's fold jobs run; docs/cluster.md)");
  sub->add_option("--variant", a->variant,
                  "with a grid: run only this variant into RUN/variants/NAME, no comparison (what --slurm's "
                  "variant jobs run)");
  add_slurm_options(sub, a->slurm);
  sub->footer(
      "Stages: data -> extract -> sweep -> select -> ensemble -> evaluate -> report -> export.\n"
      "Run folder: config.resolved.yaml, split.csv, layers.csv, curves/, predictions.csv, metrics.json,\n"
      "report.md, report.html, plots/, model/, log.txt (docs/config.md, docs/formats.md).\n"
      "Features are cached (features.cache), so a rerun with other classifier settings takes seconds.\n"
      "Warnings that qualify the result (patient overlap, tiny grades, an uncertain tap choice ...) go into\n"
      "metrics.json (\"warnings\") and the top of the report as well as the console (docs/data.md).\n"
      "See a config resolved without running it: oess config show CONFIG [--set ...].\n"
      "A grid (a grid: block, or --grid) runs each variant into RUN/variants/<name>/ and compares them with\n"
      "the reference on the same test images: RUN/ablation.csv, ablation.md, ablation.html. Variants write\n"
      "no model unless the grid block says export: true.");
  sub->callback([a, fold] {
    const auto stages = experiment::parse_stages(a->stage);  // a bad --stage fails before any work
    const auto cfg = config::load_config(a->config, a->sets);
    experiment::RunOptions o;
    o.out_dir = a->out;
    o.stages = stages;
    o.force = a->force;
    parse_shard(a->shard, o.shard_k, o.shard_n);
    const auto grid = experiment::read_grid(a->config, a->grid);
    o.variant = a->variant;
    o.fold = a->fold;
    if (fold->count() > 0 && a->fold < 1)
      throw UsageError(fmt::format("--fold {}: folds are numbered from 1", a->fold));
    if (!a->variant.empty() && grid.empty()) throw UsageError("--variant: this config has no grid");
    if (o.fold > 0 && (!a->stage.empty() || !a->shard.empty() || !a->slurm.dir.empty() || !grid.empty()))
      throw UsageError(
          "--fold: a fold job runs sweep..ensemble of one fold of a single K-fold run; it takes no --stage, "
          "--shard, --slurm or grid");
    if (!a->slurm.dir.empty()) {
      if (!a->stage.empty() || !a->shard.empty() || !a->variant.empty())
        throw UsageError(
            "--slurm: the jobs run every stage, shard and variant themselves; give no --stage, --shard or "
            "--variant with it");
      fmt::print("{}", experiment::write_slurm(cfg, grid, o, a->slurm));
      return;
    }
    if (!grid.empty()) return experiment::run_grid(cfg, grid, o);
    experiment::run_experiment(cfg, o);
  });
}

}  // namespace oess::cli
