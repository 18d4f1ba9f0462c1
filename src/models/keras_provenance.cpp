// What an imported Keras file is: its provenance, as the weights file's metadata (keras_provenance.h).
#include "keras_provenance.h"

#include <fmt/format.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "oess/models/taps.h"
#include "oess/version.h"

namespace oess::models {
namespace {

using Json = nlohmann::json;

std::string span(const std::vector<std::string>& taps) {
  if (taps.empty()) return "none";
  if (taps.size() == 1) return taps.front();
  return taps.front() + ".." + taps.back();
}

}  // namespace

void describe_provenance(const io::KerasModel& m, const KerasImportOptions& o,
                         const std::map<std::string, bool>& imagenet, KerasImport& out) {
  if (o.imagenet != "unknown")
    for (const auto& tap : default_taps(o.arch)) {
      const int idx = resolve_tap(o.arch, tap).index;
      bool all = true;
      for (const auto& [prefix, v] : imagenet) {
        const int li = layer_index(o.arch, prefix + ".");
        if (li >= 0 && li <= idx) all = all && v;
      }
      (all ? out.imagenet_taps : out.other_taps).push_back(tap);
    }
  const std::string arch = o.arch == Arch::kVgg16 ? "VGG-16" : "Inception-v3";
  std::string what;
  if (o.imagenet == "unknown")
    what = "ImageNet status not stated";
  else if (out.other_taps.empty())
    what = "ImageNet weights at every tap";
  else if (out.imagenet_taps.empty())
    what = "no tap known to hold ImageNet weights";
  else
    what = fmt::format("taps {} ImageNet, {} not ImageNet", span(out.imagenet_taps), span(out.other_taps));
  const std::string quant = m.quantisation == "none" ? "float32" : m.quantisation + "-quantised";
  const std::string description =
      fmt::format("Keras {} ({} {}, {}); {}{}", arch, m.format,
                  std::filesystem::path(m.files.front().first).filename().string(), quant, what,
                  o.note.empty() ? "" : ". " + o.note);
  Json files = Json::array();
  for (const auto& [name, sha] : m.files) files.push_back({{"name", name}, {"sha256", sha}});
  const Json meta = {
      {"format", "oess-weights"},
      {"format_version", 1},
      {"arch", arch_name(o.arch)},
      {"flavour", "keras"},
      {"preprocessing", o.arch == Arch::kVgg16 ? "keras_caffe" : "keras_tf"},
      {"description", description},
      {"source",
       {{"format", m.format},
        {"files", files},
        {"keras_version", m.keras_version},
        {"quantisation", m.quantisation}}},
      {"imagenet", {{"basis", o.imagenet}, {"taps", out.imagenet_taps}, {"other_taps", out.other_taps}}},
      {"ignored_layers", out.ignored},
      {"note", o.note},
      {"oess", OESS_VERSION_STRING}};
  out.meta_json = meta.dump(2);
}

}  // namespace oess::models
