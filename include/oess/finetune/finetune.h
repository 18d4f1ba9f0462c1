#pragma once
// oess/finetune/finetune.h — fine-tuning the upper blocks of a backbone with a linear head (issue #31).
//
// A FineTuner trains the backbone's layers after `train_from` (everything up to and including it stays
// frozen; "input": the whole network) together with a linear head on `head_tap`, pooled as the tap is, by SGD
// with momentum and weight decay on the mean (optionally class-weighted) cross-entropy. Two learning rates: a
// lower one for the backbone than for the new head (param groups, as torch.optim.SGD has them).
//
// BatchNorm keeps its running statistics (the backbone stays in eval mode: batches of a few ultrasound images
// would make batch statistics noise); its scale and shift train with their block. Gradients reach exactly the
// trainable layers. While a FineTuner lives, the backbone runs plain LibTorch modules (no folded BatchNorm,
// no engine: both copy the weights, which then change).
//
// The frozen part is computed once per image (frozen()), so that an epoch costs only the trained blocks;
// step() and probabilities() take those activations.
//
// Checked against Python torchvision doing the same SGD steps (tests/oracles/finetune_sgd.py).
#include <torch/nn/modules/linear.h>
#include <torch/optim/sgd.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "oess/finetune/options.h"
#include "oess/io/weights.h"
#include "oess/models/backbone.h"

namespace oess::finetune {

class FineTuner {
 public:
  // requires: head maps head_tap's channels to `classes`; train_from shallower than head_tap, else UsageError
  // naming finetune.train_from; an unknown tap: UsageError listing the taps.
  FineTuner(models::Backbone& backbone, const Options& options, torch::nn::Linear head);

  // train_from's output for a batch of prepared inputs (the input itself for "input"), without gradients.
  torch::Tensor frozen(const torch::Tensor& x);
  // One SGD step on frozen activations and int64 labels [N]; class_weights (optional, [classes]) weight the
  // loss as torch's cross_entropy does. Returns the batch's mean loss before the step.
  double step(const torch::Tensor& frozen_x, const torch::Tensor& labels,
              const torch::Tensor& class_weights = {});
  // Class probabilities [N, classes] for frozen activations, without gradients.
  torch::Tensor probabilities(const torch::Tensor& frozen_x);

  // The training state — every trained tensor, the head, SGD's momentum buffers and the steps taken — written
  // atomically to `path` (a torch zip of a plain dict: "param/NAME", "momentum/NAME", "steps"). load() reads
  // it into a FineTuner built the same way (same backbone weights, options and head shape): training then
  // goes on exactly as it would have without the stop (same threads). errors (oess::Error): a missing or
  // mis-shaped tensor, named with the file.
  void save(const std::string& path) const;
  void load(const std::string& path);
  // The same state as tensors (what save writes), and back (`source` names it in errors).
  io::StateDict state() const;
  void set_state(const std::map<std::string, torch::Tensor>& tensors, const std::string& source);
  // The head's input standardisation, (pooled - mean) / std per feature, fixed (not trained): a linear
  // probe's, so that a head started from it sees the features it was fitted on. Default: none.
  void set_standardisation(const torch::Tensor& mean, const torch::Tensor& std);
  // The two learning rates from now on (a schedule's; the options' are the base rates).
  void set_learning_rates(double backbone, double head);
  int64_t steps() const { return steps_; }

  // The trained backbone tensors, by state-dict name, then the head's ("head.weight", "head.bias").
  std::vector<std::pair<std::string, torch::Tensor>> trainable() const;
  const Options& options() const { return options_; }

 private:
  torch::Tensor logits(const torch::Tensor& frozen_x);
  models::Backbone& backbone_;
  Options options_;
  std::string from_, head_;  // canonical
  torch::nn::Linear head_layer_;
  torch::Tensor mean_, std_;                                    // undefined: none
  std::vector<std::pair<std::string, torch::Tensor>> trained_;  // backbone parameters that train
  std::unique_ptr<torch::optim::SGD> sgd_;
  bool trains_backbone_ = false;  // param group 0 is the backbone's, else the head's only
  int64_t steps_ = 0;
};

}  // namespace oess::finetune
