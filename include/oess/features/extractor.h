#pragma once
// oess/features/extractor.h — the feature extraction engine behind `oess extract` and experiments.
//
// extract_features(items, options, progress)
//   Runs the backbone once per image, keeping every requested tap, pooled per options.pooling:
//     avg  global average over height and width -> [rows, C]
//     max  global maximum -> [rows, C]
//     none the full maps [rows, C, h, w] (refused up front when larger than max_full_bytes)
//   With a cache folder only rows missing from the cache are computed, and each image's entry is written as
//   soon as its batch is done: a run killed at any point continues where it stopped. Decoding runs on worker
//   threads ahead of the forward pass; memory for the forward pass is bounded by the batch size.
//   Shards: with shard_n > 1 only rows with index % shard_n == shard_k - 1 are extracted.
//   ensures: a FeatureSet whose rows follow `items` (after sharding), meta filled (feature_file.h).
//   errors: an undecodable image is named (oess::Error) and nothing is written for it; entries already
//   written stay valid.
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "oess/data/clip.h"
#include "oess/data/image.h"
#include "oess/features/feature_file.h"
#include "oess/models/backbone.h"

namespace oess::features {

struct ExtractItem {
  std::string path;   // file to read
  std::string label;  // what the feature file's "paths" records (the manifest's path)
  bool augment = false;
  uint64_t augment_seed = 0;
};

struct ExtractOptions {
  models::BackboneOptions backbone{models::Arch::kInceptionV3, /*classifier=*/false, /*aux_logits=*/false};
  std::string weights = "none";        // file, or none (seeded random init)
  uint64_t seed = 0;                   // for weights none
  std::string flavour = "auto";        // auto (from the weights file) | torchvision | keras
  std::string preprocessing = "auto";  // auto (from the weights file, else torchvision) | a preset
  data::MaskSpec mask;                 // data.mask: hidden before the crop (data/mask.h)
  data::CropSpec crop;
  int dicom_frame = 0;
  data::ClipOptions clip;  // data.clip: how clips (videos, and with clip.dicom multi-frame DICOM) are read
  std::vector<std::string> taps;  // names, aliases or "all"
  std::string pooling = "avg";    // avg | max | none
  int batch = 16;
  int threads = 2;  // torch intra-op threads; decoding uses one more worker
  std::string device = "cpu";
  std::string cache_dir;    // empty: no cache
  bool cache_only = false;  // every row must come from the cache (oess::Error naming the first missing)
  int shard_k = 1, shard_n = 1;
  double max_full_bytes = 4.0 * (1ull << 30);
  models::Backbone::FastPaths fast = models::Backbone::FastPaths::for_this_cpu();
};

struct ExtractStats {
  int64_t rows = 0, from_cache = 0, computed = 0;
  double seconds = 0;
  std::string notes;                   // decoding conversions, damaged cache entries, short clips
  int64_t clips = 0, short_clips = 0;  // rows computed from clips; of them, fewer frames than asked
};

FeatureSet extract_features(const std::vector<ExtractItem>& items, const ExtractOptions& options,
                            const std::function<void(int64_t done, int64_t total)>& progress = {},
                            ExtractStats* stats = nullptr);

// Makes `flavour` and `preprocessing` concrete from the weights file (models::resolve_semantics): what the
// file's metadata says unless the options say otherwise, and a UsageError when they contradict it.
// extract_features does this itself; callers that record the settings (run folders, exported models) call it
// first. Idempotent.
void resolve_weights_semantics(ExtractOptions& o);

// A cache entry's key for an image: the SHA-256 of its file's bytes, or for an augmented copy the SHA-256 of
// that hash with its augmentation seed (plain duplicates share an entry).
std::string entry_key(const std::string& content_hash, bool augment, uint64_t augment_seed);

// The weights' identity in cache keys: "sha256:<the file's SHA-256>", or "none:<seed>" for random weights.
std::string weights_id(const ExtractOptions& o);

// The config key: SHA-256 over everything that changes a feature value (arch, weights identity, transform
// input, preprocessing, crop, DICOM frame, pooling, feature-format version). `weights_id` is the weights
// file's SHA-256 or "none:<seed>".
std::string config_key(const ExtractOptions& o, const std::string& weights_id,
                       std::string* description = nullptr);

// A tap's output pooled as ExtractOptions::pooling says (avg | max | none); [N, C] outputs pass unchanged.
torch::Tensor pool(const torch::Tensor& t, const std::string& how);

// $XDG_CACHE_HOME/oess/features, else ~/.cache/oess/features (./.cache/oess/features without HOME).
std::string default_cache_dir();

}  // namespace oess::features
