#pragma once
// oess/finetune/run.h — one fine-tuning of a backbone on images (issue #31), what `oess run`'s finetune stage
// calls: load the backbone, compute the frozen part of every image once (training images with their augmented
// copies), fit (finetune/trainer.h) with checkpoints in a folder, then score the test images with the best
// epoch's network.
//
// The head starts from the given linear classifier and standardisation (the sweep's classifier of the head's
// tap): fine-tuning then starts from the linear probe's answer rather than from noise.
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "oess/features/extractor.h"
#include "oess/finetune/finetune.h"
#include "oess/finetune/trainer.h"

namespace oess::finetune {

struct Image {
  std::string path;
  int64_t label = 0;  // the task's class
  bool augment = false;
  uint64_t augment_seed = 0;
  int view = 0;  // > 0: an augmented view (finetune.views); with train_from input, drawn afresh every epoch
};

struct Job {
  features::ExtractOptions extract;  // backbone, weights, preprocessing, crop, frame, batch, threads, device
  Options net;                       // train_from, head_tap, pooling, classes, learning rates ...
  TrainerOptions trainer;
  torch::Tensor head_weight, head_bias;  // [classes, F], [classes]: the head's start
  torch::Tensor mean, std;               // [F]: the head's fixed input standardisation (FineTuner's)
  torch::Tensor class_weights;           // [classes] or undefined
  std::vector<Image> train, val, test;
  std::string cache_dir;    // the frozen activations' cache (features.cache), or empty: none
  std::string checkpoint;   // file, or empty: none
  std::string fingerprint;  // what the checkpoint must say to be resumed
};

struct JobResult {
  FitResult fit;
  torch::Tensor test_probabilities;  // [N test, classes]
  torch::Tensor val_probabilities;   // [N validation, classes] (undefined without validation images)
  torch::Tensor head_weight, head_bias;
  std::vector<std::pair<std::string, torch::Tensor>> trained;  // backbone tensors that changed, by state name
  double frozen_seconds = 0;                                   // computing the frozen part
};

using StepFn = std::function<void(const std::string& what, int64_t done, int64_t total, int64_t cached)>;
// With train_from input, the views (Image::view > 0) are decoded and augmented again every epoch, with the
// seed mix_seed(augment_seed, epoch + 1): on the fly, and the same in a resumed run. Otherwise they are
// fixed. progress: per part ("train", "validation", "test") the images whose frozen part is ready, of which
// `cached` came from the cache (reported first); fit's epochs through on_epoch.
JobResult run(const Job& job, const StepFn& progress = {}, const EpochFn& on_epoch = {});

}  // namespace oess::finetune
