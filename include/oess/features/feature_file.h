#pragma once
// oess/features/feature_file.h — feature files (contract): what `oess extract` writes and training reads.
//
// A torch zip holding a plain dict, so Python reads it with torch.load(path):
//   "paths"     list of str — one per row, the image paths as the manifest gave them, in manifest order
//   <tap>       float32 tensor [rows, C] (pooled) or [rows, C, h, w] (--pool none), one key per tap
//   "__meta__"  dict of str -> str: arch, weights (file and SHA-256, or none + seed), preprocessing, crop,
//               pooling, taps (comma-separated, in order), config (the cache key), shard (K/N),
//               rows_total (rows of the unsharded manifest), oess (version)
// Keys other than "paths" and "__meta__" are taps.
#include <torch/types.h>

#include <map>
#include <string>
#include <vector>

namespace oess::features {

struct FeatureSet {
  std::vector<std::string> paths;
  std::map<std::string, std::string> meta;
  std::vector<std::string> taps;              // in order
  std::map<std::string, torch::Tensor> data;  // tap -> rows

  int64_t rows() const { return static_cast<int64_t>(paths.size()); }
};

// Atomic. requires: every tap tensor has rows() rows.
void write_feature_file(const std::string& path, const FeatureSet& f);
// errors (oess::Error naming the file): not a feature file, missing "paths", a tap whose row count differs.
FeatureSet read_feature_file(const std::string& path);

// Joins the shard files of one extraction (`--shard K/N`, K = 1..N) back into manifest order. errors: files
// that disagree on config (backbone, weights, preprocessing, pooling), taps or N, a shard missing or given
// twice — each named.
FeatureSet merge_shards(const std::vector<std::pair<std::string, FeatureSet>>& shards);

}  // namespace oess::features
