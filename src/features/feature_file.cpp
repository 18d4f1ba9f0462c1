#include "oess/features/feature_file.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/serialize.h>
#include <torch/torch.h>

#include <set>

#include "oess/core/atomic_file.h"
#include "oess/core/error.h"
#include "oess/io/weights.h"

namespace oess::features {

void write_feature_file(const std::string& path, const FeatureSet& f) {
  c10::impl::GenericDict dict(c10::StringType::get(), c10::AnyType::get());
  c10::List<std::string> paths;
  for (const auto& p : f.paths) paths.push_back(p);
  dict.insert("paths", paths);
  for (const auto& tap : f.taps) {
    const auto& t = f.data.at(tap);
    if (t.size(0) != f.rows())
      throw Error(fmt::format("{}: tap {} has {} rows, paths has {}", path, tap, t.size(0), f.rows()));
    dict.insert(tap, t.cpu().contiguous());
  }
  c10::Dict<std::string, std::string> meta;
  for (const auto& [k, v] : f.meta) meta.insert(k, v);
  dict.insert("__meta__", meta);
  const std::vector<char> bytes = torch::pickle_save(c10::IValue(dict));
  write_file_atomic(path, std::string_view(bytes.data(), bytes.size()));
}

FeatureSet read_feature_file(const std::string& path) {
  const c10::IValue v = io::read_torch_dict(path, "feature file");
  FeatureSet f;
  bool have_paths = false;
  for (const auto& item : v.toGenericDict()) {
    const std::string key = item.key().toStringRef();
    const c10::IValue& val = item.value();
    if (key == "paths") {
      if (!val.isList()) throw Error(fmt::format("{}: \"paths\" is not a list", path));
      for (const auto& p : val.toListRef()) f.paths.push_back(p.toStringRef());
      have_paths = true;
    } else if (key == "__meta__") {
      for (const auto& m : val.toGenericDict()) f.meta[m.key().toStringRef()] = m.value().toStringRef();
    } else if (val.isTensor()) {
      f.taps.push_back(key);
      f.data[key] = val.toTensor();
    } else {
      throw Error(fmt::format("{}: entry \"{}\" is a {}, expected a tensor", path, key, val.tagKind()));
    }
  }
  if (!have_paths) throw Error(fmt::format("{}: not a feature file (no \"paths\")", path));
  for (const auto& tap : f.taps)
    if (f.data[tap].size(0) != f.rows())
      throw Error(fmt::format("{}: tap {} has {} rows but there are {} paths", path, tap, f.data[tap].size(0),
                              f.rows()));
  return f;
}

FeatureSet merge_shards(const std::vector<std::pair<std::string, FeatureSet>>& shards) {
  if (shards.empty()) throw UsageError("features merge: no shard files given");
  const auto& [first_name, first] = shards.front();
  auto meta = [](const FeatureSet& f, const std::string& k) {
    auto it = f.meta.find(k);
    return it == f.meta.end() ? std::string() : it->second;
  };
  int n = 0;
  if (std::sscanf(meta(first, "shard").c_str(), "%*d/%d", &n) != 1 || n < 1)
    throw Error(fmt::format("{}: no shard K/N in its metadata", first_name));
  const int64_t total = std::stoll(meta(first, "rows_total").empty() ? "0" : meta(first, "rows_total"));
  std::vector<const FeatureSet*> by_k(static_cast<size_t>(n), nullptr);
  std::vector<std::string> names(static_cast<size_t>(n));
  for (const auto& [name, f] : shards) {
    for (const char* key : {"config", "taps", "rows_total"})
      if (meta(f, key) != meta(first, key))
        throw Error(fmt::format("{} and {} disagree on {} (\"{}\" vs \"{}\"): not shards of one extraction",
                                first_name, name, key, meta(first, key), meta(f, key)));
    int k = 0, nn = 0;
    if (std::sscanf(meta(f, "shard").c_str(), "%d/%d", &k, &nn) != 2 || nn != n || k < 1 || k > n)
      throw Error(
          fmt::format("{}: shard \"{}\" does not belong to a {}-way split", name, meta(f, "shard"), n));
    if (by_k[static_cast<size_t>(k - 1)])
      throw Error(
          fmt::format("shard {}/{} given twice: {} and {}", k, n, names[static_cast<size_t>(k - 1)], name));
    by_k[static_cast<size_t>(k - 1)] = &f;
    names[static_cast<size_t>(k - 1)] = name;
  }
  std::vector<int> missing;
  for (int k = 0; k < n; ++k)
    if (!by_k[static_cast<size_t>(k)]) missing.push_back(k + 1);
  if (!missing.empty())
    throw Error(fmt::format("features merge: shard(s) {} of {} missing", fmt::join(missing, ", "), n));
  // Shard k holds manifest rows k-1, k-1+n, k-1+2n, ...
  FeatureSet out;
  out.meta = first.meta;
  out.meta["shard"] = "1/1";
  out.taps = first.taps;
  out.paths.resize(static_cast<size_t>(total));
  std::vector<int64_t> row_of_shard_row;
  for (const auto& tap : out.taps) {
    auto shape = first.data.at(tap).sizes().vec();
    shape[0] = total;
    out.data[tap] = torch::empty(shape, first.data.at(tap).options());
  }
  for (int k = 0; k < n; ++k) {
    const FeatureSet& f = *by_k[static_cast<size_t>(k)];
    const int64_t expect = (total - k + n - 1) / n;
    if (f.rows() != expect)
      throw Error(fmt::format("{}: {} rows, but shard {}/{} of {} rows has {}", names[static_cast<size_t>(k)],
                              f.rows(), k + 1, n, total, expect));
    const auto idx = torch::arange(k, total, n, torch::kLong);
    for (int64_t r = 0; r < f.rows(); ++r)
      out.paths[static_cast<size_t>(k + r * n)] = f.paths[static_cast<size_t>(r)];
    for (const auto& tap : out.taps) out.data[tap].index_copy_(0, idx, f.data.at(tap));
  }
  return out;
}

}  // namespace oess::features
