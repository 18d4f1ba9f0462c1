// A clip's features: sampled frames through the backbone, pooled over the frames (clip_features.h).
#include "oess/features/clip_features.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <limits>

#include "oess/core/error.h"
#include "oess/data/balance.h"
#include "oess/models/backbone.h"

namespace oess::features {

ClipRun run_clip(models::Backbone& backbone, const std::string& path, const data::ClipOptions& clip,
                 const data::Framing& framing, const data::Preprocessing& pre,
                 const std::vector<std::string>& taps, const PoolFn& pool, int batch,
                 const torch::Device& device, bool augment, uint64_t augment_seed, data::DecodeNotes* notes) {
  const auto c = data::decode_clip(path, clip.sampling, notes);
  ClipRun r;
  r.info = c.info;
  r.index = c.index;
  r.short_clip = clip.sampling.every == 0 && c.info.frames < clip.sampling.frames;
  std::vector<torch::Tensor> inputs;
  for (const auto& f : c.frames) {
    cv::Mat img = data::apply_framing(f, framing, notes);
    if (augment) img = data::augment(img, augment_seed);
    inputs.push_back(data::preprocess(img, pre));
  }
  std::map<std::string, std::vector<torch::Tensor>> parts;
  const size_t step = static_cast<size_t>(std::max(1, batch));
  for (size_t s = 0; s < inputs.size(); s += step) {
    const auto x = torch::stack(std::vector<torch::Tensor>(
        inputs.begin() + static_cast<std::ptrdiff_t>(s),
        inputs.begin() + static_cast<std::ptrdiff_t>(std::min(inputs.size(), s + step))));
    for (auto& [key, t] : pool(backbone.infer(x.to(device), taps)))
      parts[key].push_back(t.to(torch::kCPU, torch::kFloat32));
  }
  for (auto& [key, v] : parts) r.per_frame[key] = torch::cat(v);
  return r;
}

torch::Tensor over_frames(const torch::Tensor& per_frame, const std::string& how) {
  if (how == "max") return std::get<0>(per_frame.max(0));
  if (how == "mean") return per_frame.mean(0);
  throw UsageError(fmt::format("data.clip.pooling \"{}\": expected mean or max", how));
}

torch::Tensor clip_row(const torch::Tensor& per_frame, const data::ClipOptions& clip) {
  if (!clip.aggregated()) return over_frames(per_frame, clip.pooling);
  const int64_t slots = clip.slots(), n = per_frame.size(0);
  if (n > slots)
    throw Error(fmt::format("clip features: {} frames for {} slots (data.clip sampling)", n, slots));
  auto out = torch::full({slots, per_frame.size(1)}, std::numeric_limits<float>::quiet_NaN(),
                         per_frame.options().dtype(torch::kFloat32));
  out.slice(0, 0, n).copy_(per_frame);
  return out;
}

torch::Tensor still_row(const torch::Tensor& row, const data::ClipOptions& clip) {
  return clip.aggregated() ? clip_row(row.reshape({1, -1}), clip) : row;
}

}  // namespace oess::features
