#pragma once
// oess/features/cache.h — a content-addressed, crash-safe store of per-image features.
//
// One folder per extraction config (backbone, weights identity, preprocessing, crop, pooling: the config
// key), holding one entry per image: <cache>/<config[0:16]>/<key[0:2]>/<key>.oessf, where key is the SHA-256
// of the image file's bytes (plus the augmentation seed for augmented copies — plain duplicates share an
// entry). An entry holds any number of taps. Entries are written to a temporary name and renamed, so a
// reader sees a whole entry or none; each ends in a checksum, so a damaged entry reads as missing (and is
// recomputed), never as wrong features.
#include <torch/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace oess::features {

class FeatureCache {
 public:
  // requires: a writable folder (created if missing), else oess::Error naming it.
  FeatureCache(const std::string& root, const std::string& config_key, const std::string& config_description);

  // Every tap in `taps` for this key, or nothing when the entry is missing, damaged or lacks a tap.
  std::optional<std::map<std::string, torch::Tensor>> get(const std::string& key,
                                                          const std::vector<std::string>& taps) const;
  // Adds taps to the key's entry (keeping the ones already there), atomically.
  void put(const std::string& key, const std::map<std::string, torch::Tensor>& taps) const;

  std::string folder() const { return dir_; }
  int damaged_entries() const { return damaged_; }

 private:
  std::string entry_path(const std::string& key) const;
  std::optional<std::map<std::string, torch::Tensor>> read_entry(const std::string& key,
                                                                 bool count_damage) const;
  std::string dir_;
  mutable int damaged_ = 0;
};

// The entry encoding, exposed for tests: magic "OESSFC01", u32 count, then per tensor u32 name length, name,
// u32 ndim, i64 dims, float32 data; then a u64 FNV-1a checksum of everything before it.
std::string encode_entry(const std::map<std::string, torch::Tensor>& taps);
std::optional<std::map<std::string, torch::Tensor>> decode_entry(const std::string& bytes);

}  // namespace oess::features
