#pragma once
// Internal: `oess run`'s finetune stage (issue #31) — the chain's side of finetune::run. The training itself
// is finetune/'s; this file turns the chain's split, items and selected tap into a job and its result into
// the run's one member.
//
// stage_finetune   requires select_tap. Fine-tunes with the head on the selected tap (started from its sweep
//                  classifier), checkpoints in DIR/finetune/, writes DIR/finetune/curve.csv and
//                  DIR/finetune/finetuned.pt (the trained backbone tensors), and makes the fine-tuned network
//                  the run's single member (c.members, c.final).
// kfold_finetune   per fold (K-fold): stage_finetune on the fold's chain in DIR/folds/<fold>/ (folds loaded
// from
//                  their fold.pt and other jobs' folds are left alone); the refit that export runs is
//                  fine-tuned by the export stage in DIR/finetune/.
// finetuned_tensors  DIR/finetune/finetuned.pt as the export stage needs it (copied to model/).
// finetune_curves  for the report's training curves: validation accuracy per epoch of DIR/finetune/curve.csv,
//                  else of each fold's (K-fold: the report comes before the refit); none without finetune.
#include <string>
#include <vector>

#include "oess/experiment/chain.h"
#include "oess/experiment/kfold.h"
#include "oess/io/weights.h"
#include "oess/report/report.h"

namespace oess::experiment {

inline constexpr const char* kFinetunedNoEnsemble =
    "  skipped: the fine-tuned network is the model (finetune.enabled)\n";

void stage_finetune(Chain& c, const std::string& dir, const std::string& config_text, const SayFn& say);
void kfold_finetune(Chain& c, Kfold& k, const std::string& dir, const std::string& config_text,
                    const SayFn& say);
io::StateDict finetuned_tensors(const std::string& dir, const std::string& model_dir);
std::vector<report::Curve> finetune_curves(const Chain& c, const std::string& dir);

}  // namespace oess::experiment
