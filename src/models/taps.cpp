#include "oess/models/taps.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>

#include "oess/core/error.h"

namespace oess::models {
namespace {

std::vector<TapInfo> make_inception_table() {
  std::vector<TapInfo> t;
  auto add = [&t](std::string name, std::string module, int channels, bool classifier = false) {
    t.push_back({std::move(name), std::move(module), channels, static_cast<int>(t.size()), classifier});
  };
  add("Conv2d_1a_3x3", "Conv2d_1a_3x3", 32);
  add("Conv2d_2a_3x3", "Conv2d_2a_3x3", 32);
  add("Conv2d_2b_3x3", "Conv2d_2b_3x3", 64);
  add("maxpool1", "maxpool1", 64);
  add("Conv2d_3b_1x1", "Conv2d_3b_1x1", 80);
  add("Conv2d_4a_3x3", "Conv2d_4a_3x3", 192);
  add("maxpool2", "maxpool2", 192);
  const char* mixed[] = {"Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c",
                         "Mixed_6d", "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c"};
  const int channels[] = {256, 288, 288, 768, 768, 768, 768, 768, 1280, 2048, 2048};
  for (int i = 0; i < 11; ++i) add(fmt::format("mixed{}", i), mixed[i], channels[i]);
  add("avgpool", "avgpool", 2048);
  add("logits", "fc", 1000, /*classifier=*/true);
  return t;
}

std::vector<TapInfo> make_vgg16_table() {
  // Configuration "D": channels per conv, 0 = max-pool.
  const int cfg[] = {64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0};
  std::vector<TapInfo> t;
  int block = 1, conv = 1, channels = 3, index = 0;
  auto add = [&t](std::string name, std::string module, int ch, bool classifier = false) {
    t.push_back({std::move(name), std::move(module), ch, static_cast<int>(t.size()), classifier});
  };
  for (int v : cfg) {
    if (v == 0) {
      add(fmt::format("block{}_pool", block), fmt::format("features.{}", index++), channels);
      ++block;
      conv = 1;
    } else {
      channels = v;
      add(fmt::format("features.{}", index), fmt::format("features.{}", index), channels);  // pre-ReLU
      ++index;
      add(fmt::format("block{}_conv{}", block, conv++), fmt::format("features.{}", index++), channels);
    }
  }
  add("fc1", "classifier.1", 4096, true);
  add("fc2", "classifier.4", 4096, true);
  add("logits", "classifier.6", 1000, true);
  return t;
}

std::string known_names(const std::vector<TapInfo>& table) {
  std::string s;
  for (const auto& t : table) {
    if (!s.empty()) s += ", ";
    s += t.name;
    if (t.module != t.name) s += " (" + t.module + ")";
  }
  return s;
}

}  // namespace

Arch parse_arch(const std::string& name) {
  if (name == "vgg16" || name == "vgg-16" || name == "VGG16") return Arch::kVgg16;
  if (name == "inception_v3" || name == "inception-v3" || name == "inceptionv3") return Arch::kInceptionV3;
  throw UsageError(fmt::format("unknown architecture \"{}\": expected vgg16 or inception_v3", name));
}

std::string arch_name(Arch arch) { return arch == Arch::kVgg16 ? "vgg16" : "inception_v3"; }

const std::vector<TapInfo>& tap_table(Arch arch) {
  static const std::vector<TapInfo> inception = make_inception_table();
  static const std::vector<TapInfo> vgg = make_vgg16_table();
  return arch == Arch::kVgg16 ? vgg : inception;
}

const TapInfo& resolve_tap(Arch arch, const std::string& name) {
  const auto& table = tap_table(arch);
  for (const auto& t : table)
    if (t.name == name) return t;
  for (const auto& t : table)
    if (t.module == name) return t;
  throw UsageError(fmt::format("unknown {} tap \"{}\"; valid taps (alias in parentheses): {}",
                               arch_name(arch), name, known_names(table)));
}

std::vector<std::string> resolve_taps(Arch arch, const std::vector<std::string>& names) {
  std::vector<std::string> out;
  auto push = [&out](const std::string& n) {
    if (std::find(out.begin(), out.end(), n) == out.end()) out.push_back(n);
  };
  for (const auto& n : names) {
    if (n == "all") {
      for (const auto& d : default_taps(arch)) push(d);
    } else {
      push(resolve_tap(arch, n).name);
    }
  }
  if (out.empty()) throw UsageError(fmt::format("no {} taps requested", arch_name(arch)));
  return out;
}

std::vector<std::string> default_taps(Arch arch) {
  std::vector<std::string> out;
  for (const auto& t : tap_table(arch)) {
    const bool keras_named =
        arch == Arch::kVgg16 ? t.name.rfind("block", 0) == 0 : t.name.rfind("mixed", 0) == 0;
    if (keras_named) out.push_back(t.name);
  }
  return out;
}

int native_input_size(Arch arch) { return arch == Arch::kVgg16 ? 224 : 299; }

int layer_index(Arch arch, const std::string& key) {
  const auto& table = tap_table(arch);
  if (arch == Arch::kVgg16) {
    int n = -1;
    if (std::sscanf(key.c_str(), "features.%d.", &n) != 1) return -1;
    int index = -1;  // the deepest tap computed from layers up to n
    for (const auto& t : table) {
      int m = -1;
      if (std::sscanf(t.module.c_str(), "features.%d", &m) == 1 && m <= n) index = std::max(index, t.index);
    }
    return index;
  }
  const std::string top = key.substr(0, key.find('.'));
  for (const auto& t : table)
    if (t.module == top) return t.index;
  return -1;
}

}  // namespace oess::models
