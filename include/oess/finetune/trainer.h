#pragma once
// oess/finetune/trainer.h — epochs of fine-tuning (issue #31): a FineTuner driven over cached frozen
// activations with a learning-rate schedule, validation after every epoch, early stopping that keeps the
// best epoch, and a checkpoint after every epoch that a later call resumes from.
//
// Schedule (per epoch e = 0, 1, ...; both learning rates are multiplied by the same factor):
//   warm-up   the first warmup_epochs epochs ramp linearly: factor (e + 1) / (warmup_epochs + 1);
//   cosine    then 0.5 * (1 + cos(pi * t / T)), t = e - warmup_epochs, T = epochs - warmup_epochs: 1 at the
//             end of warm-up, falling towards 0 at the last epoch;
//   step      then step_gamma ^ floor(t / step_every);
//   constant  then 1.
// Early stopping: the network as it starts is scored as epoch 0 (the first row of the curve), and after each
// epoch the validation set is scored again; the best epoch by the monitor (validation accuracy, ties by lower
// validation loss; or validation loss) is kept — epoch 0 when no epoch beats the start —, training stops
// after `patience` epochs without improvement, and the best epoch's weights are what the FineTuner holds at
// the end. Batch order: a permutation of the training rows per epoch, seeded by (seed, epoch) alone, so that
// a resumed run draws the same batches as one that never stopped. Checkpoint (`checkpoint` non-empty): after
// every epoch one file, written atomically, holding the FineTuner's state, the best epoch's state, the curve
// and a fingerprint of what is being trained; fit() given the same file and fingerprint starts after its last
// epoch (a different fingerprint: from the start). On the CPU with the same threads, a resumed fit ends
// bit-identical to one that never stopped. Divergence: an epoch whose training or validation loss is not
// finite ends training there, keeping the best epoch before it (diverged_at says which).
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "oess/finetune/finetune.h"

namespace oess::finetune {

struct Labelled {
  torch::Tensor x;              // frozen activations [N, ...] (FineTuner::frozen)
  torch::Tensor y;              // int64 classes [N]
  torch::Tensor class_weights;  // [classes] for the loss, or undefined (unweighted)
};

struct EpochPoint {
  int epoch = 0;  // 0: the start, before any step
  double lr_backbone = 0, lr_head = 0, train_loss = 0, val_loss = 0, val_accuracy = 0, seconds = 0;
};

struct FitResult {
  std::vector<EpochPoint> curve;  // epoch 0 (the start), then one per epoch run
  int best_epoch = 0;             // 0: the start was never beaten on validation
  int resumed_after = 0;          // epochs read from the checkpoint (0: a fresh start)
  bool stopped_early = false;
  int diverged_at = 0;  // an epoch whose training loss was not finite: training stopped there (0: none)
};

using EpochFn = std::function<void(const EpochPoint& point, int epochs)>;
// Runs a fresh step count (the tuner's steps must be 0 unless the checkpoint is resumed).
// train_x_for_epoch (optional): the training activations of epoch e (0-based) in train's row order, for
// augmented views drawn afresh every epoch; train.x then serves epoch 0's start only.
FitResult fit(FineTuner& tuner, const Labelled& train, const Labelled& val, const TrainerOptions& o,
              const std::string& checkpoint = "", const std::string& fingerprint = "",
              const EpochFn& on_epoch = {},
              const std::function<torch::Tensor(int epoch)>& train_x_for_epoch = {});

// Class probabilities [N, classes] in batches of `batch` rows.
torch::Tensor predict(FineTuner& tuner, const torch::Tensor& frozen_x, int batch);

}  // namespace oess::finetune
