#pragma once
// oess/experiment/chain.h — the stages after extraction, shared by `oess run` and `oess sweep`: index the
// feature rows of a split, sweep the taps, select one, train the ensemble, evaluate, write the run files.
//
// Settings: what the stages need (settings/settings.h).
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
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "oess/data/balance.h"
#include "oess/data/manifest.h"
#include "oess/data/split.h"
#include "oess/ensemble/ensemble.h"
#include "oess/features/extractor.h"
#include "oess/metrics/evaluate.h"
#include "oess/report/report.h"
#include "oess/settings/settings.h"
#include "oess/train/sweep.h"

namespace oess::experiment {

using settings::Settings;

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
  std::optional<metrics::Metrics> metrics;  // set by evaluate
  std::string metrics_text;                 // metrics.json as written (K-fold: with its cross_validation)
  // More predictions.csv columns, after the run's own: name and one value per test row (K-fold: fold, tap).
  std::vector<std::pair<std::string, std::vector<std::string>>> extra_columns;
  report::CrossValidation cross_validation;  // K-fold: what the report says of the folds
  struct TapFolds {
    std::vector<double> val, test, kappa;  // one per fold
    int chosen = 0;                        // folds that chose the tap
  };
  std::vector<TapFolds> tap_folds;  // K-fold: per tap, in sweep order
  std::vector<std::string> notes;   // shown at the top of the report (e.g. no ImageNet weights)
  // What the weights file says of each tap (imported Keras weights): the report's per-tap "weights" column.
  std::vector<std::string> imagenet_taps, other_taps;
};

// Features from a randomly initialised backbone (meta "weights" = none:SEED), and the report's note on it.
bool random_backbone(const features::FeatureSet& f);
inline constexpr const char* kNoImagenetNote =
    "NO IMAGENET WEIGHTS: backbone.weights is none, so the features come from a seeded random initialisation "
    "of the backbone, not from ImageNet training (docs/weights.md says how to use real weights).";

// Mean and sample standard deviation (n - 1; 0 for one value, NaN for none).
std::pair<double, double> mean_sd(const std::vector<double>& v);

// The feature row label of an augmented oversampled copy.
std::string copy_label(const std::string& rel_path, int copy);

void index_rows(Chain& c);
void run_sweep(Chain& c, const ProgressFn& progress = {});
void select_tap(Chain& c);
void train_members(Chain& c, const ProgressFn& progress = {});
void evaluate(Chain& c, const std::string& dir);
void write_layers(const Chain& c, const std::string& dir);
void write_report(const Chain& c, const std::string& dir);

// `oess sweep`: the chain's start on a feature file (features::read_feature_file) and the manifest it was
// extracted from, split and balanced per s (s.split, s.balance, s.seed); every manifest row needs a feature
// row (matched by path; Error "MANIFEST:LINE: PATH has no row in FEATURES"). Ready for index_rows; with
// split method kfold, not split: ready for kfold_data (experiment/kfold.h).
Chain chain_from_features(const std::string& features_file, const std::string& manifest, const Settings& s);
// The best k taps on validation, one classifier each (their sweep fits), combined: a copy of c whose members
// and final are the cross-tap ensemble. requires: run_sweep.
Chain cross_tap_ensemble(const Chain& c, int k);

// Console text: the per-tap table (the study's supplementary table) and the final model's test results.
std::string format_sweep_table(const Chain& c);
std::string format_final(const Chain& c);

}  // namespace oess::experiment
