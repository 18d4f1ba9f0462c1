// One fine-tuning of a backbone on images (finetune/run.h).
#include "oess/finetune/run.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <optional>

#include "oess/core/error.h"
#include "oess/core/random.h"
#include "oess/core/sha256.h"
#include "oess/data/loader.h"
#include "oess/features/cache.h"
#include "oess/models/backbone.h"
#include "oess/models/preprocessing.h"
#include "oess/models/taps.h"

namespace oess::finetune {
namespace {

// The frozen-activation cache of a job (features/cache.h's store and atomicity): one folder per extraction
// config plus the frozen tap, since these maps come from the training path's LibTorch modules, one entry per
// image (content hash, plus the augmentation seed of a view). None for train_from input (the input itself).
std::optional<features::FeatureCache> frozen_cache(const Job& job, const std::string& from) {
  if (job.cache_dir.empty() || from == "input") return std::nullopt;
  auto e = job.extract;
  e.pooling = "none";
  std::string description;
  features::config_key(e, features::weights_id(e), &description);
  description += "\nfinetune frozen activations at " + from + " (LibTorch modules)";
  return features::FeatureCache(job.cache_dir, sha256_hex(description), description);
}

// The frozen part of every image, [N, ...] on `device`, in order: from the cache where it has them, the rest
// computed in batches (and added to the cache).
torch::Tensor frozen_of(FineTuner& tuner, const std::vector<Image>& images, const Job& job,
                        const torch::Device& device, const std::string& what, const StepFn& progress,
                        const std::optional<features::FeatureCache>& cache, const std::string& from) {
  std::vector<torch::Tensor> rows(images.size());
  std::vector<std::string> keys(images.size());
  std::vector<data::LoadItem> load;
  std::vector<size_t> todo;
  int64_t done = 0;
  for (size_t i = 0; i < images.size(); ++i) {
    if (cache) {
      keys[i] = features::entry_key(sha256_file(images[i].path), images[i].augment, images[i].augment_seed);
      if (auto got = cache->get(keys[i], {from})) {
        rows[i] = got->at(from);
        ++done;
        continue;
      }
    }
    todo.push_back(i);
    load.push_back({images[i].path, images[i].augment, images[i].augment_seed});
  }
  const int64_t cached = done;
  if (progress && cached > 0) progress(what, done, static_cast<int64_t>(images.size()), cached);
  const auto& e = job.extract;
  data::BatchLoader loader(std::move(load), models::preprocessing_preset(e.preprocessing, e.backbone.arch),
                           data::Framing{e.mask, e.crop}, e.batch, data::decode_workers(),
                           /*prefetch=*/2, nullptr, e.dicom_frame);
  torch::Tensor batch;
  size_t first = 0;
  while (loader.next(batch, first)) {
    const auto out = tuner.frozen(batch.to(device)).to(torch::kCPU, torch::kFloat32);
    for (int64_t b = 0; b < out.size(0); ++b) {
      const size_t i = todo[first + static_cast<size_t>(b)];
      rows[i] = out[b].clone();
      if (cache) cache->put(keys[i], {{from, rows[i]}});
    }
    done += batch.size(0);
    if (progress) progress(what, done, static_cast<int64_t>(images.size()), cached);
  }
  if (rows.empty()) return {};
  return torch::stack(rows).to(device);
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
  const std::string from =
      job.net.train_from == "input" ? "input" : models::resolve_tap(e.backbone.arch, job.net.train_from).name;
  const auto cache = frozen_cache(job, from);
  auto frozen = [&](const std::vector<Image>& images, const std::string& what) {
    return frozen_of(tuner, images, job, device, what, progress, cache, from);
  };
  Labelled train{frozen(job.train, "train"), labels_of(job.train, device),
                 job.class_weights.defined() ? job.class_weights.to(device) : torch::Tensor()};
  Labelled val{frozen(job.val, "validation"), labels_of(job.val, device), {}};
  const auto test = frozen(job.test, "test");
  r.frozen_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::function<torch::Tensor(int)> fresh;  // train_from input: views drawn afresh every epoch
  const bool views =
      std::any_of(job.train.begin(), job.train.end(), [](const Image& im) { return im.view > 0; });
  if (from == "input" && views)
    fresh = [&](int epoch) {
      auto images = job.train;
      for (auto& im : images)
        if (im.view > 0) im.augment_seed = mix_seed(im.augment_seed, static_cast<uint64_t>(epoch) + 1);
      return frozen_of(tuner, images, job, device, "", {}, std::nullopt, from);
    };
  r.fit = fit(tuner, train, val, job.trainer, job.checkpoint, job.fingerprint, on_epoch, fresh);
  if (test.defined()) r.test_probabilities = predict(tuner, test, job.trainer.batch).cpu();
  if (val.x.defined() && val.x.size(0) > 0)
    r.val_probabilities = predict(tuner, val.x, job.trainer.batch).cpu();
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
