#pragma once
// oess/features/clip_features.h — a clip's features (issue #33): its sampled frames (data/clip.h) each
// through the framing, the preprocessing and the backbone, in chunks of `batch` frames, pooled per chunk by
// the caller's `pool` (tap maps -> [frames, C] per key), then over the frames by over_frames (mean | max):
// one row per clip, as a still image gives one.
#include <torch/types.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "oess/data/clip.h"
#include "oess/data/image.h"
#include "oess/data/preprocess.h"

namespace oess::models {
class Backbone;
}

namespace oess::features {

using PoolFn =
    std::function<std::map<std::string, torch::Tensor>(const std::map<std::string, torch::Tensor>&)>;

struct ClipRun {
  std::map<std::string, torch::Tensor> per_frame;  // key -> [sampled frames, C] (CPU, float32)
  data::ClipInfo info;
  std::vector<int> index;
  bool short_clip = false;  // fewer frames than data.clip.frames asked for
};

// requires: taps are the backbone's canonical names. augment: every frame through data::augment(seed).
ClipRun run_clip(models::Backbone& backbone, const std::string& path, const data::ClipOptions& clip,
                 const data::Framing& framing, const data::Preprocessing& pre,
                 const std::vector<std::string>& taps, const PoolFn& pool, int batch,
                 const torch::Device& device, bool augment = false, uint64_t augment_seed = 0,
                 data::DecodeNotes* notes = nullptr);

// [frames, C] -> [C]: the mean or the largest over the frames.
torch::Tensor over_frames(const torch::Tensor& per_frame, const std::string& how);

// A clip's feature row: without clip.aggregate its frames pooled (over_frames by clip.pooling) -> [C]; with
// it the frames' own rows, padded with rows of NaN to clip.slots() -> [slots, C] (train/classifier.h reads
// NaN rows as no frame). still_row: a still image's [C] row in a run with clip.aggregate is a one-frame clip
// -> [slots, C]; unchanged without.
torch::Tensor clip_row(const torch::Tensor& per_frame, const data::ClipOptions& clip);
torch::Tensor still_row(const torch::Tensor& row, const data::ClipOptions& clip);

}  // namespace oess::features
