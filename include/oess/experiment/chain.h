#pragma once
// oess/experiment/chain.h — the stages after extraction, shared by `oess run` and `oess sweep`: index the
// feature rows of a split, sweep the taps, select one, train the ensemble, evaluate, write the run files.
//
// Settings: what the stages need, read from an experiment config (settings_from checks what the schema
//   alone cannot: tap names, the crop, the device, ensemble taps; oess::UsageError naming the key).
// Chain: the state passed from stage to stage. Each function requires the ones before it:
//   index_rows    features hold a row for every manifest path, and `path#copyK` rows for augmented
//                 oversampled copies; fills rows (train rows repeat for oversampled copies), grades, test.
//   run_sweep     one early-stopped classifier per tap (train::sweep).
//   select_tap    settings.selection: `best` = highest validation accuracy (ties: lower validation loss,
//                 then earlier tap), or a named tap; the test set takes no part.
//   train_members settings.members per ensemble tap (`best` = the selected tap), settings varied by
//                 ensemble::member_grid (variation grid) or by seed only; 0 members: the selected tap's
//                 classifier alone. `final` combines them (ensemble::combine).
//   evaluate      writes DIR/predictions.csv (contract columns, then patient, p_diseased, disagreement,
//                 binary_vote) and DIR/metrics.json computed from that file as written, so that
//                 `oess evaluate` on it gives the same figures.
//   write_layers  DIR/layers.csv (one row per tap) and DIR/curves/<tap>.csv.
//   write_report  DIR/report.md / report.html (per settings.formats) and DIR/plots/.
#include <torch/types.h>

#include <functional>
#include <string>
#include <vector>

#include "oess/config/config.h"
#include "oess/data/balance.h"
#include "oess/data/manifest.h"
#include "oess/data/split.h"
#include "oess/data/synth.h"
#include "oess/ensemble/ensemble.h"
#include "oess/features/extractor.h"
#include "oess/metrics/evaluate.h"
#include "oess/train/sweep.h"

namespace oess::experiment {

struct Settings {
  std::string name, description, out_dir;
  uint64_t seed = 0;
  std::string manifest = "synthetic";
  data::SynthOptions synth;
  data::SplitOptions split;
  std::string balance = "oversample";
  bool augment = false;
  features::ExtractOptions extract;  // taps, cache, crop, backbone ...; pooling set per entry of poolings
  std::vector<std::string> poolings{"avg"};
  train::TrainOptions train;
  int train_threads = 2;
  std::string selection = "best";
  int members = 10;
  std::vector<std::string> ensemble_taps{"best"};
  std::string variation = "grid";
  bool report_md = true, report_html = true;
  int bootstrap = 2000;
};

Settings settings_from(const config::Config& c);

// The manifest a run reads: data.manifest, or the synthetic dataset's labels.csv.
std::string manifest_file(const Settings& s);

struct Member {
  std::string tap;
  train::TrainOptions options;
  train::LinearModel model;
  torch::Tensor test_probabilities;
};

using ProgressFn = std::function<void(int64_t done, int64_t total)>;

struct Chain {
  Settings s;
  data::Manifest manifest;
  data::Split split;
  std::vector<data::TrainItem> items;
  features::FeatureSet features;
  train::Rows rows;
  std::vector<int> grades;  // per feature row
  std::vector<int> test_grades;
  train::SweepResult sweep;
  size_t selected = 0;
  std::vector<Member> members;
  ensemble::Combined final;
  std::string final_label;
  metrics::Predictions predictions;
  std::string metrics_json;
  std::vector<std::string> notes;  // shown at the top of the report (e.g. no ImageNet weights)
  // What the weights file says of each tap (imported Keras weights): the report's per-tap "weights" column.
  std::vector<std::string> imagenet_taps, other_taps;
};

// Features from a randomly initialised backbone (meta "weights" = none:SEED), and the report's note on it.
bool random_backbone(const features::FeatureSet& f);
inline constexpr const char* kNoImagenetNote =
    "NO IMAGENET WEIGHTS: backbone.weights is none, so the features come from a seeded random initialisation "
    "of the backbone, not from ImageNet training (docs/weights.md says how to use real weights).";

// The feature row label of an augmented oversampled copy.
std::string copy_label(const std::string& rel_path, int copy);

void index_rows(Chain& c);
void run_sweep(Chain& c, const ProgressFn& progress = {});
void select_tap(Chain& c);
void train_members(Chain& c, const ProgressFn& progress = {});
void evaluate(Chain& c, const std::string& dir);
void write_layers(const Chain& c, const std::string& dir);
void write_report(const Chain& c, const std::string& dir);

// Console text: the per-tap table (the study's supplementary table) and the final model's test results.
std::string format_sweep_table(const Chain& c);
std::string format_final(const Chain& c);

}  // namespace oess::experiment
