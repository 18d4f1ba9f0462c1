#pragma once
// oess/experiment/kfold.h — data.split.method kfold (`oess run`, `oess sweep`): the chain once per fold on
// shared features, pooled out of fold, and a refit on every image for export. `say` gets the console text.
//
// kfold_data      the folds (data::make_folds) and each fold's nested split (data::fold_split: test = the
//                 fold, validation carved from the rest by patient), balanced; the refit's split (every
//                 image: training and validation); c.items = every augmented copy any of them uses, so that
//                 one extraction serves all. Writes DIR/split.csv (path, score, patient, fold[, fold_r2 ...],
//                 refit) and DIR/folds/<fold>/split.csv (that fold's parts: train, val, test). Leakage guard:
//                 a patient in a fold's training and test parts is an Error.
// kfold_sweep     per fold: index_rows, run_sweep on the shared features (every fold's every tap on one
//                 pool of classifier.threads threads). With kfold_saved set up, a fold whose saved state
//                 holds the same key is loaded instead of trained; with `only`, that fold alone is trained.
// kfold_select    per fold: select_tap on that fold's validation; DIR/folds/<fold>/layers.csv and curves/.
// kfold_ensemble  per fold: train_members (saved folds keep their members). With `only`: that fold, then
//                 its state saved to DIR/folds/<fold>/fold.pt.
// kfold_evaluate  c becomes the pooled chain: rows.test = every image (manifest order) with its fold's
//                 final prediction (repeat 1), sweep.taps = per tap its out-of-fold probabilities and the
//                 mean validation accuracy, selected = the tap the most folds chose (ties: higher mean
//                 validation accuracy, then earlier tap). Writes predictions.csv (+ fold, tap columns),
//                 metrics.json (the pooled figures as `oess evaluate` computes them, plus cross_validation:
//                 per fold, mean ± sd, per repeat, taps chosen) and layers.csv (mean ± sd over folds).
// kfold_refit     the exported model: the refit split, one sweep of the chosen tap (its validation part for
//                 early stopping), the ensemble as configured — or, with finetune.enabled, `finetune` on the
//                 refit's chain instead of its members; metrics = the pooled out-of-fold ones.
// (finetune.enabled: kfold_ensemble trains no members; the finetune stage made each fold's.)
#include <functional>
#include <string>
#include <vector>

#include "oess/data/folds.h"
#include "oess/experiment/chain.h"

namespace oess::experiment {

struct FoldRun {
  int repeat = 0, fold = 0;  // 0-based
  Chain chain;
  bool saved = false;  // sweep, members and final loaded from its fold.pt (kfold_saved)
};

struct Kfold {
  std::vector<data::Folds> folds;  // per repeat
  std::vector<FoldRun> runs;       // repeat-major
  Chain refit;
  // Saved fold states (kfold_saved): the run folder, the key a state must hold to be used, and the one fold
  // to train and save (`oess run --fold`; -1 = every fold not saved).
  std::string state_dir, config_sha256, features_sha256;
  int only = -1;
};

using SayFn = std::function<void(const std::string&)>;

inline bool is_kfold(const Settings& s) {
  return config::cross_validated(s.split.method);
}  // or leave_group_out

void kfold_data(Chain& c, Kfold& k, const std::string& dir, const SayFn& say);
// For check_data (chain.h): a part per sample that differs between two samples when any repeat puts them
// in different folds, and names for repeat 1's folds ("fold 1" ...).
std::vector<int> fold_parts(const Kfold& k);
std::vector<std::string> fold_part_names(const Kfold& k);
// A fold's name: "fold3", or "r2-fold1" with repeats; its folder is DIR/folds/<name>.
std::string fold_name(const Kfold& k, const FoldRun& r);

// Saved fold states, so that folds can run as separate processes (`oess run --fold F`, a SLURM job array)
// and a later run pools them. DIR/folds/<fold>/fold.pt is a torch zip dict of tensors (docs/formats.md):
// per tap its classifier, curve, figures and test probabilities; per member its classifier and test
// probabilities; metadata (format "oess-fold", the fold, the members' settings, the key). The key is the
// SHA-256 of the run's resolved config text and of the features (features_digest): a state of another
// config or other features is never used.
// kfold_saved(k, dir, config_text, features, fold)  after kfold_data and extraction: sets k's state fields;
//   fold 1..k.runs.size() (`--fold`) makes k.only = fold - 1, 0 = every fold; UsageError for another value.
//   The features are hashed only when a state is to be saved or one exists to be read.
// fold_file(k, run): k.state_dir/folds/<fold>/fold.pt.
std::string features_digest(const features::FeatureSet& f);
std::string fold_file(const Kfold& k, const FoldRun& run);
void kfold_saved(Kfold& k, const std::string& dir, const std::string& config_text,
                 const features::FeatureSet& features, int fold);
// Writes run's state to `file` (atomically). requires: kfold_ensemble done for it.
void save_fold(const FoldRun& run, const Kfold& k, const std::string& file);
// Loads `file` into run (after index_rows) when it holds k's key and fits the fold (taps, rows, classes):
// true; false with `why` ("no such file", "another config", "other features", or what is wrong with it).
bool load_fold(FoldRun& run, const Kfold& k, const std::string& file, std::string& why);

void kfold_sweep(Chain& c, Kfold& k, const SayFn& say);
void kfold_select(Chain& c, Kfold& k, const std::string& dir, const SayFn& say);
void kfold_ensemble(Chain& c, Kfold& k, const SayFn& say);
void kfold_evaluate(Chain& c, Kfold& k, const std::string& dir, const SayFn& say);
Chain kfold_refit(const Chain& c, const Kfold& k, const SayFn& say,
                  const std::function<void(Chain&)>& finetune = {});

}  // namespace oess::experiment
