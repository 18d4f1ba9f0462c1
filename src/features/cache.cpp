#include "oess/features/cache.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "oess/core/atomic_file.h"
#include "oess/core/error.h"

namespace oess::features {
namespace {

namespace fs = std::filesystem;
constexpr char kMagic[8] = {'O', 'E', 'S', 'S', 'F', 'C', '0', '1'};

uint64_t fnv1a(const char* p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<uint8_t>(p[i])) * 0x100000001b3ull;
  return h;
}

template <class T>
void put_raw(std::string& s, T v) {
  s.append(reinterpret_cast<const char*>(&v), sizeof v);
}

template <class T>
bool get_raw(const std::string& s, size_t& pos, T& v) {
  if (pos + sizeof v > s.size()) return false;
  std::memcpy(&v, s.data() + pos, sizeof v);
  pos += sizeof v;
  return true;
}

}  // namespace

std::string encode_entry(const std::map<std::string, torch::Tensor>& taps) {
  std::string s(kMagic, sizeof kMagic);
  put_raw<uint32_t>(s, static_cast<uint32_t>(taps.size()));
  for (const auto& [name, t0] : taps) {
    const torch::Tensor t = t0.to(torch::kCPU, torch::kFloat32).contiguous();
    put_raw<uint32_t>(s, static_cast<uint32_t>(name.size()));
    s += name;
    put_raw<uint32_t>(s, static_cast<uint32_t>(t.dim()));
    for (int64_t d : t.sizes()) put_raw<int64_t>(s, d);
    s.append(reinterpret_cast<const char*>(t.data_ptr<float>()),
             static_cast<size_t>(t.numel()) * sizeof(float));
  }
  put_raw<uint64_t>(s, fnv1a(s.data(), s.size()));
  return s;
}

std::optional<std::map<std::string, torch::Tensor>> decode_entry(const std::string& s) {
  if (s.size() < sizeof kMagic + 12 || std::memcmp(s.data(), kMagic, sizeof kMagic) != 0) return std::nullopt;
  uint64_t stored;
  std::memcpy(&stored, s.data() + s.size() - 8, 8);
  if (stored != fnv1a(s.data(), s.size() - 8)) return std::nullopt;
  const std::string body = s.substr(0, s.size() - 8);
  size_t pos = sizeof kMagic;
  uint32_t count;
  if (!get_raw(body, pos, count)) return std::nullopt;
  std::map<std::string, torch::Tensor> out;
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t len, ndim;
    if (!get_raw(body, pos, len) || pos + len > body.size()) return std::nullopt;
    std::string name = body.substr(pos, len);
    pos += len;
    if (!get_raw(body, pos, ndim) || ndim > 8) return std::nullopt;
    std::vector<int64_t> dims(ndim);
    int64_t numel = 1;
    for (auto& d : dims) {
      if (!get_raw(body, pos, d) || d < 0) return std::nullopt;
      numel *= d;
    }
    const size_t bytes = static_cast<size_t>(numel) * sizeof(float);
    if (pos + bytes > body.size()) return std::nullopt;
    auto t = torch::empty(dims, torch::kFloat32);
    std::memcpy(t.data_ptr<float>(), body.data() + pos, bytes);
    pos += bytes;
    out.emplace(std::move(name), std::move(t));
  }
  if (pos != body.size()) return std::nullopt;
  return out;
}

FeatureCache::FeatureCache(const std::string& root, const std::string& config_key,
                           const std::string& description)
    : dir_((fs::path(root) / config_key.substr(0, 16)).string()) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) throw Error(fmt::format("feature cache {}: cannot create it ({})", dir_, ec.message()));
  const fs::path about = fs::path(dir_) / "config.txt";
  if (!fs::exists(about)) write_file_atomic(about.string(), description + "\nconfig " + config_key + "\n");
}

std::string FeatureCache::entry_path(const std::string& key) const {
  return (fs::path(dir_) / key.substr(0, 2) / (key + ".oessf")).string();
}

std::optional<std::map<std::string, torch::Tensor>> FeatureCache::read_entry(const std::string& key,
                                                                             bool count_damage) const {
  const std::string path = entry_path(key);
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto e = decode_entry(bytes);
  if (!e && count_damage) ++damaged_;
  return e;
}

std::optional<std::map<std::string, torch::Tensor>> FeatureCache::get(
    const std::string& key, const std::vector<std::string>& taps) const {
  auto e = read_entry(key, /*count_damage=*/true);
  if (!e) return std::nullopt;
  std::map<std::string, torch::Tensor> out;
  for (const auto& t : taps) {
    auto it = e->find(t);
    if (it == e->end()) return std::nullopt;
    out.emplace(t, it->second);
  }
  return out;
}

void FeatureCache::put(const std::string& key, const std::map<std::string, torch::Tensor>& taps) const {
  std::map<std::string, torch::Tensor> merged =
      read_entry(key, /*count_damage=*/false).value_or(std::map<std::string, torch::Tensor>{});
  for (const auto& [k, v] : taps) merged[k] = v;
  const std::string path = entry_path(key);
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  write_file_atomic(path, encode_entry(merged));
}

}  // namespace oess::features
