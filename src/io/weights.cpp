#include "oess/io/weights.h"

#include <caffe2/serialize/inline_container.h>
#include <sstream>

#include <fmt/format.h>
#include <torch/serialize.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "oess/core/atomic_file.h"
#include "oess/core/error.h"

namespace oess::io {
namespace {

namespace fs = std::filesystem;

constexpr char kConvertHint[] = "convert it with: python3 tools/convert_weights.py INPUT OUTPUT.pt";

bool starts_with(const std::string& s, const char* prefix, size_t n) {
  return s.size() >= n && std::memcmp(s.data(), prefix, n) == 0;
}

StateDict read_torch_zip(const std::string& path, const std::string& bytes) {
  torch::IValue value;
  check_torch_pickle(bytes, path);
  try {
    value = torch::pickle_load(std::vector<char>(bytes.begin(), bytes.end()));
  } catch (const std::exception& e) {
    const std::string msg = e.what();
    const std::string first_line = msg.substr(0, msg.find('\n'));
    if (msg.find("central directory") != std::string::npos || msg.find("zip archive") != std::string::npos)
      throw Error(fmt::format("{}: truncated or corrupt torch zip file ({})", path, first_line));
    throw Error(fmt::format(
        "{}: cannot read this torch file as a plain dict of tensors ({}). It may hold an OrderedDict "
        "(model.state_dict()), a nested checkpoint, a whole pickled model, or a dict of a single entry "
        "(which "
        "LibTorch 1.13 cannot unpickle); {}",
        path, first_line, kConvertHint));
  }
  if (!value.isGenericDict())
    throw Error(fmt::format("{}: top-level object is a {}, expected a dict of tensors; {}", path,
                            value.tagKind(), kConvertHint));
  StateDict out;
  for (const auto& item : value.toGenericDict()) {
    if (!item.key().isString())
      throw Error(fmt::format("{}: a dict key is a {}, expected a string", path, item.key().tagKind()));
    const std::string name = item.key().toStringRef();
    if (!item.value().isTensor())
      throw Error(fmt::format("{}: entry \"{}\" is a {}, expected a tensor (nested checkpoint?); {}", path,
                              name, item.value().tagKind(), kConvertHint));
    out.emplace_back(name, item.value().toTensor());
  }
  return out;
}

struct DtypeInfo {
  torch::ScalarType type;
  size_t size;
};

DtypeInfo safetensors_dtype(const std::string& path, const std::string& name, const std::string& dtype) {
  if (dtype == "F32") return {torch::kFloat32, 4};
  if (dtype == "F64") return {torch::kFloat64, 8};
  if (dtype == "F16") return {torch::kFloat16, 2};
  if (dtype == "BF16") return {torch::kBFloat16, 2};
  if (dtype == "I64") return {torch::kInt64, 8};
  if (dtype == "I32") return {torch::kInt32, 4};
  if (dtype == "I16") return {torch::kInt16, 2};
  if (dtype == "I8") return {torch::kInt8, 1};
  if (dtype == "U8") return {torch::kUInt8, 1};
  if (dtype == "BOOL") return {torch::kBool, 1};
  throw Error(fmt::format("{}: tensor \"{}\" has unsupported safetensors dtype {}", path, name, dtype));
}

StateDict read_safetensors(const std::string& path, const std::string& bytes) {
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes.data(), 8);  // little-endian on every platform LibTorch supports
  if (header_len > bytes.size() - 8)
    throw Error(
        fmt::format("{}: safetensors header claims {} bytes but the file has {} after the length "
                    "field (truncated?)",
                    path, header_len, bytes.size() - 8));
  nlohmann::ordered_json header;
  try {
    header =
        nlohmann::ordered_json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<long>(header_len));
  } catch (const std::exception& e) {
    throw Error(fmt::format("{}: safetensors header is not valid JSON ({})", path, e.what()));
  }
  if (!header.is_object()) throw Error(fmt::format("{}: safetensors header is not a JSON object", path));
  const uint64_t data_start = 8 + header_len;
  const uint64_t data_size = bytes.size() - data_start;
  StateDict out;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") continue;
    try {
      const auto dtype = safetensors_dtype(path, name, entry.at("dtype").get<std::string>());
      // Integers only: nlohmann's conversion of a float such as 1e300 to an integer is undefined behaviour
      // (found by fuzz/fuzz_weights), so every element is checked first.
      const auto& e = entry;  // structured bindings cannot be captured (C++17)
      const std::string& tensor = name;
      auto integers = [&e, &tensor, &path](const char* key) {
        const auto& v = e.at(key);
        if (!v.is_array()) throw Error(fmt::format("{}: tensor \"{}\" {} is not a list", path, tensor, key));
        for (const auto& x : v)
          if (!x.is_number_integer())
            throw Error(
                fmt::format("{}: tensor \"{}\" {} holds {}, not an integer", path, tensor, key, x.dump()));
        return v;
      };
      const auto shape = integers("shape").get<std::vector<int64_t>>();
      const auto offsets_json = integers("data_offsets");
      for (const auto& x : offsets_json)
        if (x.is_number_integer() && !x.is_number_unsigned())
          throw Error(fmt::format("{}: tensor \"{}\" has a negative data offset", path, name));
      const auto offsets = offsets_json.get<std::vector<uint64_t>>();
      if (offsets.size() != 2 || offsets[0] > offsets[1] || offsets[1] > data_size)
        throw Error(
            fmt::format("{}: tensor \"{}\" data_offsets [{}] lie outside the {}-byte data section "
                        "(truncated?)",
                        path, name, fmt::join(offsets, ", "), data_size));
      uint64_t numel = 1;
      for (int64_t d : shape) {
        if (d < 0) throw Error(fmt::format("{}: tensor \"{}\" has a negative dimension", path, name));
        if (d > 0 && numel > data_size / static_cast<uint64_t>(d))  // more elements than bytes: cannot fit
          throw Error(fmt::format("{}: tensor \"{}\" of shape [{}] cannot fit in the {}-byte data section",
                                  path, name, fmt::join(shape, ", "), data_size));
        numel *= static_cast<uint64_t>(d);
      }
      if (numel * dtype.size != offsets[1] - offsets[0])
        throw Error(fmt::format("{}: tensor \"{}\" of shape [{}] needs {} bytes but its offsets span {}",
                                path, name, fmt::join(shape, ", "), numel * dtype.size,
                                offsets[1] - offsets[0]));
      auto t = torch::empty(shape, torch::TensorOptions().dtype(dtype.type));
      if (numel > 0) std::memcpy(t.data_ptr(), bytes.data() + data_start + offsets[0], numel * dtype.size);
      out.emplace_back(name, std::move(t));
    } catch (const nlohmann::json::exception& e) {
      throw Error(fmt::format("{}: safetensors entry \"{}\" is malformed ({})", path, name, e.what()));
    }
  }
  return out;
}

}  // namespace

std::string format_name(WeightsFormat format) {
  return format == WeightsFormat::kTorchZip ? "torch zip (plain dict)" : "safetensors";
}

WeightsFile read_weights(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error(fmt::format("{}: no such file", path));
  if (fs::is_directory(path, ec)) throw Error(fmt::format("{}: is a folder, expected a weights file", path));
  WeightsFile file;
  file.path = path;
  const std::string bytes = read_file(path);
  file.bytes = bytes.size();
  if (bytes.empty()) throw Error(fmt::format("{}: file is empty", path));
  if (starts_with(bytes, "PK\x03\x04", 4)) {
    file.format = WeightsFormat::kTorchZip;
    file.tensors = read_torch_zip(path, bytes);
  } else if (static_cast<unsigned char>(bytes[0]) == 0x80) {
    throw Error(fmt::format("{}: legacy (non-zip) torch.save file, as torchvision's downloads are; {}", path,
                            kConvertHint));
  } else if (bytes.size() > 8 && bytes[8] == '{') {
    file.format = WeightsFormat::kSafetensors;
    file.tensors = read_safetensors(path, bytes);
  } else {
    throw Error(
        fmt::format("{}: not a checkpoint: expected a torch zip file, a safetensors file or a legacy "
                    "torch file",
                    path));
  }
  std::set<std::string> seen;
  for (const auto& [name, t] : file.tensors)
    if (!seen.insert(name).second) throw Error(fmt::format("{}: tensor \"{}\" appears twice", path, name));
  return file;
}

std::string weights_meta(const WeightsFile& file) {
  for (const auto& [name, t] : file.tensors) {
    if (name != kWeightsMetaKey) continue;
    if (t.dim() != 1 || t.scalar_type() != torch::kUInt8)
      throw Error(
          fmt::format("{}: entry {} must be a 1-D uint8 tensor (JSON text), found {} of {} dimensions",
                      file.path, kWeightsMetaKey, c10::toString(t.scalar_type()), t.dim()));
    const auto c = t.contiguous();
    return std::string(reinterpret_cast<const char*>(c.data_ptr<uint8_t>()), static_cast<size_t>(c.numel()));
  }
  return "";
}

torch::Tensor meta_tensor(const std::string& json_text) {
  auto t = torch::empty({static_cast<int64_t>(json_text.size())}, torch::kUInt8);
  if (!json_text.empty()) std::memcpy(t.data_ptr<uint8_t>(), json_text.data(), json_text.size());
  return t;
}

void write_torch_dict(const std::string& path, const StateDict& tensors) {
  c10::Dict<std::string, at::Tensor> dict;
  for (const auto& [name, t] : tensors) {
    if (!t.defined()) throw Error(fmt::format("{}: tensor \"{}\" is undefined", path, name));
    if (dict.contains(name)) throw Error(fmt::format("{}: tensor \"{}\" given twice", path, name));
    dict.insert(name, t.cpu().contiguous());
  }
  const std::vector<char> bytes = torch::pickle_save(torch::IValue(dict));
  write_file_atomic(path, std::string_view(bytes.data(), bytes.size()));
}

c10::IValue read_torch_dict(const std::string& path, const std::string& what) {
  const std::string bytes = read_file(path);
  check_torch_pickle(bytes, path);
  c10::IValue v;
  try {
    v = torch::pickle_load(std::vector<char>(bytes.begin(), bytes.end()));
  } catch (const std::exception& e) {
    const std::string msg = e.what();
    throw Error(fmt::format("{}: not a readable {} ({})", path, what, msg.substr(0, msg.find('\n'))));
  }
  if (!v.isGenericDict())
    throw Error(fmt::format("{}: not a {} (top level is a {})", path, what, v.tagKind()));
  return v;
}

}  // namespace oess::io
