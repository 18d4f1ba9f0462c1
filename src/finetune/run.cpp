// One fine-tuning of a backbone on images (finetune/run.h).
#include "oess/finetune/run.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <chrono>

#include "oess/core/error.h"
#include "oess/data/loader.h"
#include "oess/models/backbone.h"
#include "oess/models/preprocessing.h"

namespace oess::finetune {
namespace {

// The frozen part of every image, [N, ...] on `device`, in order.
torch::Tensor frozen_of(FineTuner& tuner, const std::vector<Image>& images, const Job& job,
                        const torch::Device& device, const std::string& what, const StepFn& progress) {
  std::vector<data::LoadItem> load;
  for (const auto& im : images) load.push_back({im.path, im.augment, im.augment_seed});
  const auto& e = job.extract;
  data::BatchLoader loader(std::move(load), models::preprocessing_preset(e.preprocessing, e.backbone.arch),
                           e.crop, e.batch, /*threads=*/1, /*prefetch=*/2, nullptr, e.dicom_frame);
  std::vector<torch::Tensor> parts;
  torch::Tensor batch;
  size_t first = 0;
  int64_t done = 0;
  while (loader.next(batch, first)) {
    parts.push_back(tuner.frozen(batch.to(device)));
    done += batch.size(0);
    if (progress) progress(what, done, static_cast<int64_t>(images.size()));
  }
  if (parts.empty()) return {};
  return torch::cat(parts);
}

torch::Tensor labels_of(const std::vector<Image>& images, const torch::Device& device) {
  std::vector<int64_t> y;
  for (const auto& im : images) y.push_back(im.label);
  return torch::tensor(y, torch::kInt64).to(device);
}

}  // namespace

JobResult run(const Job& job, const StepFn& progress, const EpochFn& on_epoch) {
  const auto& e = job.extract;
  const torch::Device device = models::parse_device(e.device);
  torch::set_num_threads(e.threads);
  auto backbone = models::load_backbone(e.backbone, e.weights, /*strict=*/true, e.seed);
  backbone->to(device);
  torch::nn::Linear head(torch::nn::LinearOptions(job.head_weight.size(1), job.head_weight.size(0)));
  {
    torch::NoGradGuard no_grad;
    head->weight.copy_(job.head_weight);
    head->bias.copy_(job.head_bias);
  }
  head->to(device);
  FineTuner tuner(*backbone, job.net, head);
  if (job.mean.defined()) tuner.set_standardisation(job.mean, job.std);
  JobResult r;
  const auto t0 = std::chrono::steady_clock::now();
  Labelled train{frozen_of(tuner, job.train, job, device, "train", progress), labels_of(job.train, device),
                 job.class_weights.defined() ? job.class_weights.to(device) : torch::Tensor()};
  Labelled val{
      frozen_of(tuner, job.val, job, device, "validation", progress), labels_of(job.val, device), {}};
  const auto test = frozen_of(tuner, job.test, job, device, "test", progress);
  r.frozen_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.fit = fit(tuner, train, val, job.trainer, job.checkpoint, job.fingerprint, on_epoch);
  if (test.defined()) r.test_probabilities = predict(tuner, test, job.trainer.batch).cpu();
  for (const auto& [name, t] : tuner.trainable()) {
    if (name == "head.weight")
      r.head_weight = t.detach().cpu().clone();
    else if (name == "head.bias")
      r.head_bias = t.detach().cpu().clone();
    else
      r.trained.emplace_back(name, t.detach().cpu().contiguous().clone());
  }
  return r;
}

}  // namespace oess::finetune
