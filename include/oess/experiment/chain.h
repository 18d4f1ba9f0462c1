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
  // A fine-tuned member's probabilities on the validation rows, from the tuned network (calibration fits on
  // them); undefined for frozen members, whose are their classifier on the features.
  torch::Tensor val_probabilities = {};
};

using ProgressFn = std::function<void(int64_t done, int64_t total)>;

// calibration.method temperature or platt (experiment/calibrate.cpp): what was fitted, and the final model's
// test probabilities before it, for metrics.json's before/after figures.
struct Calibrated {
  std::vector<double> temperatures;  // one (a single split, the refit), or one per fold (pooled K-fold)
  std::vector<std::array<double, 2>> platt_ab;  // platt: (a, b), likewise
  bool platt() const { return !platt_ab.empty(); }
  size_t validation_images = 0;
  double val_nll_before = 0, val_nll_after = 0;  // summed over folds' images when pooled: means below
  torch::Tensor before;                          // [test rows, K]
};

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
  std::optional<Calibrated> calibration;  // calibration.method temperature: set by train_members
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
  std::vector<TapFolds> tap_folds;   // K-fold: per tap, in sweep order
  std::vector<std::string> notes;    // shown at the top of the report (e.g. no ImageNet weights)
  std::vector<RunWarning> warnings;  // part of the result: metrics.json "warnings", the report's top
  std::vector<std::string> dataset;  // the data check's summary lines (data/dataset_check.h), for the report
  std::vector<std::string> readers_lines;  // data.readers: their agreement and the model's (evaluate_readers)
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
// Per-group figures (evaluate.by; leave_group_out's column first), experiment/groups.cpp:
// check_group_columns  at the data stage: each column is in the manifest (else UsageError listing its
//                      columns), has a value on every row (else Error FILE:LINE), and more than one value
//                      among the test images `test` (empty: every image, as cross-validation tests them;
//                      else UsageError).
// group_columns        the columns' values for each prediction row, for predictions.csv.
// evaluate_groups      after evaluate: c.metrics->by from predictions.csv's columns; metrics_text redone.
void check_group_columns(const Chain& c, const std::vector<size_t>& test);
std::vector<std::pair<std::string, std::vector<std::string>>> group_columns(const Chain& c,
                                                                            const metrics::Predictions& pr);
void evaluate_groups(Chain& c);
// evaluate_readers  after evaluate, with data.readers (experiment/readers_stage.cpp): metrics::agreement on
// the
//                   predicted images (test, or every image out of fold), the model as a reader unless the
//                   task is binary; metrics_text gains "readers" (metrics::agreement_json, plus the label and
//                   the consensus used), readers_lines the text for the console and the report.
void evaluate_readers(Chain& c);
// soft_targets      (index_rows, data.label: soft) c.rows.soft: each feature row's readers' grade
//                   distribution (data::grade_distribution; an augmented copy its image's). manifest_row:
//                   each sample's row; requires rows.train filled, one row per item.
void soft_targets(Chain& c, const std::vector<int64_t>& manifest_row);
// calibrate          (end of train_members and of a finetune stage, with s.calibrate) the ensemble's
//                    probabilities on the validation rows, T (calibration::fit_temperature) or Platt's (a, b)
//                    (fit_platt; a warning platt_not_converged when the validation set is separable) fitted
//                    there, c.final scaled; c.calibration holds them and the test probabilities before.
//                    UsageError when there are no validation rows.
// calibration_json   metrics_text gains "calibration": method, temperature(s), validation NLL before/after,
//                    and the test set's ECE and Brier score before and after (same definitions as metrics).
void calibrate(Chain& c);
void calibration_json(Chain& c);
// The test calls' reliability table and ECE before calibration (the report's grey rings); empty without.
std::pair<std::vector<metrics::ReliabilityBin>, double> reliability_before(const Chain& c);
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

// Warnings that are part of the result (core/warning.h; docs/data.md lists the codes).
// manifest_warnings  the patient column used, or none (image-level bootstrap, no leakage guard); columns
//                    that look like identifiers but are not used.
// split_warnings     one split (`where`: "" or "fold 2: "): patients in both training and test (allowed by
//                    data.allow_patient_overlap), grades with fewer than kSmallGrade validation images (and
//                    test images, with `test_part`). A grade of the manifest with no validation image is an
//                    Error (the tap choice could not see it) unless s.allow_empty_grades: then a warning.
// tap_warnings       after select_tap with `best`: the choice is flagged when the runner-up is fewer than
//                    kResolutionImages validation images behind.
// metrics_with_warnings  metrics.json text with "warnings": [{code, message}] added (always present).
// write_metrics      after evaluate: c.metrics_text gains "split" (a single split: method, images per grade
//                    in train/val/test, patients_in_train_and_test) and "warnings"; written to
//                    DIR/metrics.json.
inline constexpr int kSmallGrade = 10;
inline constexpr int kResolutionImages = 3;
void manifest_warnings(const data::Manifest& m, std::vector<RunWarning>& out);
void split_warnings(const Settings& s, const data::Manifest& m, const data::Split& split,
                    const std::string& where, bool test_part, std::vector<RunWarning>& out);
void tap_warnings(const Chain& c, std::vector<RunWarning>& out);
std::string metrics_with_warnings(const std::string& metrics_text, const std::vector<RunWarning>& warnings);
// What the run computes with, for its console and log.txt (metrics.json's "build" block says the same): the
// CPU, oneDNN's ISA and the memory layout, the BLAS and the threads; on the reference BLAS it adds the coded
// warning reference_blas to c.warnings and says it.
std::string platform_lines(Chain& c);
void write_metrics(Chain& c, const std::string& dir);

// check_data: the data stage's look at every image (data/dataset_check.h) after the split. `part` gives
// each sample's part (split part, or fold) and `part_names` their names. Unreadable images are an Error
// (all listed); a duplicate group across parts is an Error unless s.allow_duplicates (then the warning
// duplicate_across_split); groups across grades or patients are warnings (duplicate_conflicting_grades,
// duplicate_across_patients). Fills c.dataset; says the summary. With `pairs_dir`, each duplicate group's
// first two images side by side there (data::write_duplicate_pairs; `oess run`: RUN/duplicates/).
std::vector<int> split_parts(const data::Split& split);  // 0 train, 1 val, 2 test per sample
void check_data(Chain& c, const std::vector<int>& part, const std::vector<std::string>& part_names,
                const std::function<void(const std::string&)>& say, const std::string& pairs_dir = "");
// The warning clip_short (metrics.json) for clips with fewer frames than data.clip.frames: from the frame
// counts check_data decoded (one per manifest row, 0 for stills), or, with data.check off, from the clips'
// headers (data::clip_frame_count_hint).
void short_clip_warning(Chain& c, const std::vector<int>& frames);
void short_clip_warning(Chain& c);

// Console text: the feature rows (`copies`: augmented oversampled copies among them), the per-tap table (the
// study's supplementary table) and the final model's test results.
std::string format_features(const Chain& c, bool copies);
std::string format_sweep_table(const Chain& c);
std::string format_final(const Chain& c);

}  // namespace oess::experiment
