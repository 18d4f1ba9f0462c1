// The exported model file: write, read and check it (export/model_file.h).
#include "oess/export/model_file.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/serialize.h>
#include <torch/torch.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "oess/core/atomic_file.h"
#include "oess/core/error.h"
#include "oess/models/taps.h"

namespace oess::exporting {
namespace {

namespace fs = std::filesystem;

std::string meta_at(const ModelFile& m, const std::string& key, const std::string& file) {
  auto it = m.meta.find(key);
  if (it == m.meta.end())
    throw Error(fmt::format("{}: not an oess model (no \"{}\" in __meta__)", file, key));
  return it->second;
}

}  // namespace

std::string meta_or(const ModelFile& m, const std::string& key, const std::string& fallback) {
  auto it = m.meta.find(key);
  return it == m.meta.end() ? fallback : it->second;
}

std::string base_tap(const std::string& member_tap) { return member_tap.substr(0, member_tap.find('@')); }

std::string pooling_of(const std::string& member_tap, const std::string& model_pooling) {
  const size_t at = member_tap.find('@');
  return at == std::string::npos ? model_pooling : member_tap.substr(at + 1);
}

std::string member_key(size_t i, const char* part) { return fmt::format("member{}.{}", i, part); }

void put_member(io::StateDict& out, size_t i, const train::LinearModel& m) {
  const torch::Tensor* parts[] = {&m.mean, &m.std, &m.weight, &m.bias};  // kMemberParts' order
  for (size_t k = 0; k < 4; ++k)
    out.emplace_back(member_key(i, kMemberParts[k]), parts[k]->cpu().contiguous());
  if (m.aggregate != "none")
    out.emplace_back(member_key(i, kMemberAggregate),
                     torch::tensor({m.aggregate == "max_grade" ? int64_t{1} : int64_t{2}}, torch::kInt64));
}

train::LinearModel get_member(const std::map<std::string, torch::Tensor>& by_name, size_t i, train::Task task,
                              const std::string& file) {
  train::LinearModel lm;
  lm.task = task;
  torch::Tensor* parts[] = {&lm.mean, &lm.std, &lm.weight, &lm.bias};  // kMemberParts' order
  for (size_t k = 0; k < 4; ++k) {
    auto it = by_name.find(member_key(i, kMemberParts[k]));
    if (it == by_name.end())
      throw Error(fmt::format("{}: no tensor {}", file, member_key(i, kMemberParts[k])));
    *parts[k] = it->second;
  }
  if (auto it = by_name.find(member_key(i, kMemberAggregate)); it != by_name.end()) {
    const int64_t code = it->second.numel() == 1 ? it->second.to(torch::kInt64).item<int64_t>() : 0;
    if (code != 1 && code != 2)
      throw Error(fmt::format("{}: tensor {} is not 1 (max_grade) or 2 (mean_probability)", file,
                              member_key(i, kMemberAggregate)));
    lm.aggregate = code == 1 ? "max_grade" : "mean_probability";
  }
  // The ordinal head (one score, three thresholds) is told by its shapes: softmax members have 4 of each.
  if (task == train::Task::kOess4 && lm.weight.dim() == 2 && lm.weight.size(0) == 1 && lm.bias.dim() == 1 &&
      lm.bias.size(0) == 3)
    lm.head = train::Head::kOrdinal;
  return lm;
}

void write_model(const std::string& path, const ModelFile& m) {
  c10::impl::GenericDict dict(c10::StringType::get(), c10::AnyType::get());
  c10::Dict<std::string, std::string> meta;
  for (const auto& [k, v] : m.meta) meta.insert(k, v);
  dict.insert("__meta__", meta);
  for (const auto& [k, t] : m.backbone) dict.insert("backbone." + k, t.cpu().contiguous());
  io::StateDict members;
  for (size_t i = 0; i < m.members.size(); ++i) put_member(members, i, m.members[i]);
  for (const auto& [k, t] : members) dict.insert(k, t);
  for (const auto& [tap, t] : m.reference) dict.insert("reference." + tap, t.cpu().contiguous());
  const std::vector<char> bytes = torch::pickle_save(c10::IValue(dict));
  write_file_atomic(path, std::string_view(bytes.data(), bytes.size()));
}

ModelFile read_model(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return read_model((fs::path(path) / "model.pt").string());
  if (!fs::is_regular_file(path, ec)) throw Error(fmt::format("{}: no such model file", path));
  const c10::IValue v = io::read_torch_dict(path, "oess model");
  ModelFile m;
  std::map<std::string, torch::Tensor> members;
  for (const auto& item : v.toGenericDict()) {
    if (!item.key().isString())
      throw Error(fmt::format("{}: not an oess model (a key is not a string)", path));
    const std::string key = item.key().toStringRef();
    const c10::IValue& val = item.value();
    if (key == "__meta__") {
      if (!val.isGenericDict()) throw Error(fmt::format("{}: __meta__ is not a dict", path));
      for (const auto& kv : val.toGenericDict()) {
        if (!kv.key().isString() || !kv.value().isString())
          throw Error(fmt::format("{}: __meta__ holds a value that is not a string", path));
        m.meta[kv.key().toStringRef()] = kv.value().toStringRef();
      }
    } else if (!val.isTensor()) {
      throw Error(fmt::format("{}: entry \"{}\" is a {}, expected a tensor", path, key, val.tagKind()));
    } else if (key.rfind("backbone.", 0) == 0) {
      m.backbone.emplace_back(key.substr(9), val.toTensor());
    } else if (key.rfind("reference.", 0) == 0) {
      m.reference[key.substr(10)] = val.toTensor().to(torch::kFloat32);
    } else {
      members[key] = val.toTensor();
    }
  }
  if (meta_at(m, "format", path) != "oess-model")
    throw Error(fmt::format("{}: not an oess model (format \"{}\")", path, m.meta["format"]));
  int version = 0;
  try {
    version = std::stoi(meta_at(m, "format_version", path));
  } catch (const std::logic_error&) {
    throw Error(fmt::format("{}: format_version \"{}\" is not a number", path, m.meta["format_version"]));
  }
  if (version > kModelFormatVersion)
    throw Error(
        fmt::format("{}: model format version {} is newer than this oess reads ({}): it was written by oess "
                    "{}; upgrade oess to score with it",
                    path, version, kModelFormatVersion, m.meta.count("oess") ? m.meta["oess"] : "?"));
  const auto task = train::parse_task(meta_at(m, "task", path));
  nlohmann::json taps;
  try {
    taps = nlohmann::json::parse(meta_at(m, "taps", path));
  } catch (const nlohmann::json::exception&) {
    throw Error(fmt::format("{}: __meta__ taps is not a JSON list", path));
  }
  if (!taps.is_array() || taps.empty()) throw Error(fmt::format("{}: __meta__ taps lists no members", path));
  const auto arch = models::parse_arch(meta_at(m, "arch", path));
  for (size_t i = 0; i < taps.size(); ++i) {
    if (!taps[i].is_string()) throw Error(fmt::format("{}: __meta__ taps[{}] is not a string", path, i));
    const std::string tap = taps[i].get<std::string>();
    models::resolve_tap(arch, base_tap(tap));
    train::LinearModel lm = get_member(members, i, task, path);
    for (auto* t : {&lm.mean, &lm.std, &lm.weight, &lm.bias}) *t = t->to(torch::kFloat32);
    const bool ordinal = lm.head == train::Head::kOrdinal;
    const int64_t k = task == train::Task::kBinary || ordinal ? 1 : 4;
    if (lm.mean.dim() != 1 || lm.std.sizes() != lm.mean.sizes() || lm.weight.dim() != 2 ||
        lm.weight.size(0) != k || lm.weight.size(1) != lm.mean.size(0) || lm.bias.dim() != 1 ||
        lm.bias.size(0) != (ordinal ? 3 : k))
      throw Error(
          fmt::format("{}: member {} tensors do not fit together (mean {}, std {}, weight {}, bias {})", path,
                      i, lm.mean.sizes(), lm.std.sizes(), lm.weight.sizes(), lm.bias.sizes()));
    m.members.push_back(lm);
    m.member_taps.push_back(tap);
  }
  return m;
}

ModelCalibration model_calibration(const ModelFile& m) {
  ModelCalibration cal;
  const auto it = m.meta.find("calibration");
  if (it == m.meta.end()) return cal;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(it->second);
  } catch (const std::exception& e) {
    throw Error(fmt::format("model __meta__ calibration is not JSON: {}", e.what()));
  }
  const std::string method = j.is_object() ? j.value("method", "") : "";
  auto number = [&j](const char* k) { return j.contains(k) && j[k].is_number() ? j[k].get<double>() : NAN; };
  if (method == "none") return cal;
  if (method == "temperature" && number("temperature") > 0 && std::isfinite(number("temperature"))) {
    cal.method = ModelCalibration::Method::kTemperature;
    cal.temperature = number("temperature");
    return cal;
  }
  if (method == "platt" && std::isfinite(number("a")) && std::isfinite(number("b"))) {
    cal.method = ModelCalibration::Method::kPlatt;
    cal.a = number("a");
    cal.b = number("b");
    return cal;
  }
  throw Error(fmt::format(
      "model __meta__ calibration {}: expected method none, temperature with a temperature > 0, or platt "
      "with numbers a and b",
      it->second));
}

void apply_calibration(ensemble::Combined& c, const ModelCalibration& cal, train::Task task) {
  if (cal.method == ModelCalibration::Method::kTemperature)
    ensemble::apply_temperature(c, cal.temperature, task);
  if (cal.method == ModelCalibration::Method::kPlatt) ensemble::apply_platt(c, cal.a, cal.b, task);
}

}  // namespace oess::exporting
