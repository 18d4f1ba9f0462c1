#pragma once
// oess/finetune/options.h — what a fine-tuning is asked to do (finetune.h: the network and its two learning
// rates; trainer.h: epochs, schedule, early stopping). Torch-free, so that the run's settings can hold them.
#include <cstdint>
#include <string>

#include "oess/config/choices.h"

namespace oess::finetune {

struct Options {
  std::string train_from = "input";  // tap (canonical or alias) or "input"
  std::string head_tap;              // the tap the head reads; deeper than train_from
  std::string pooling = "avg";       // of head_tap's maps: avg | max
  int64_t classes = 4;
  double lr_backbone = 1e-3, lr_head = 1e-2, momentum = 0.9, weight_decay = 0.0;
};

struct TrainerOptions {
  int epochs = 20;
  int batch = 16;
  int warmup_epochs = 1;
  config::Schedule schedule = config::Schedule::kCosine;
  int step_every = 5;
  double step_gamma = 0.1;
  int patience = 5;
  config::Monitor monitor = config::Monitor::kValAccuracy;
  uint64_t seed = 0;
};
// requires: epochs >= 1, batch >= 1, 0 <= warmup_epochs < epochs, step_every >= 1, step_gamma in (0, 1],
// patience >= 1; else UsageError naming the finetune.* key.
void validate(const TrainerOptions& o);
// The factor both learning rates are multiplied by in epoch e (0-based).
double lr_factor(const TrainerOptions& o, int epoch);

}  // namespace oess::finetune
