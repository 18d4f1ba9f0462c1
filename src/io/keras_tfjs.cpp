// TensorFlow.js Layers models (model.json + binary shards, or nsfwjs's UMD bundles) -> io::KerasModel.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <cstring>
#include <filesystem>
#include <set>

#include "oess/core/atomic_file.h"
#include "oess/core/error.h"
#include "oess/core/sha256.h"
#include "oess/io/js_literal.h"
#include "oess/io/keras.h"

namespace oess::io {
namespace {

namespace fs = std::filesystem;

bool ends_with(const std::string& s, const std::string& t) {
  return s.size() >= t.size() && s.compare(s.size() - t.size(), t.size(), t) == 0;
}

// IEEE 754 half -> float, exactly.
float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu;
  uint32_t mant = h & 0x3FFu;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400u) == 0);
      bits = sign | (static_cast<uint32_t>(127 - 15 - e) << 23) | ((mant & 0x3FFu) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7F800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

struct Source {
  std::string model_file;  // what was read for the topology and manifest
  nlohmann::json doc;      // {modelTopology, weightsManifest}
  bool umd = false;
};

Source open_model(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error(fmt::format("{}: no such file or folder", path));
  Source s;
  if (fs::is_directory(path, ec)) {
    for (const char* name : {"model.json", "model.min.js", "model.js"})
      if (fs::is_regular_file(fs::path(path) / name, ec)) {
        s.model_file = (fs::path(path) / name).string();
        break;
      }
    if (s.model_file.empty())
      throw Error(
          fmt::format("{}: not a TensorFlow.js model folder: no model.json or model.min.js in it", path));
  } else {
    s.model_file = path;
  }
  const std::string text = read_file(s.model_file);
  s.umd = ends_with(s.model_file, ".js");
  if (s.umd) {
    s.doc = umd_export(text, s.model_file);
  } else {
    try {
      s.doc = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
      throw Error(fmt::format("{}: not valid JSON ({})", s.model_file, e.what()));
    }
  }
  if (!s.doc.is_object() || !s.doc.contains("weightsManifest") || !s.doc.contains("modelTopology"))
    throw Error(fmt::format(
        "{}: not a TensorFlow.js Layers model: expected an object with modelTopology and weightsManifest",
        s.model_file));
  return s;
}

std::string shard_bytes(const Source& s, const std::string& shard,
                        std::vector<std::pair<std::string, std::string>>& files) {
  const fs::path dir = fs::path(s.model_file).parent_path();
  std::error_code ec;
  for (const std::string suffix : {"", ".min.js", ".js"}) {
    const fs::path p = dir / (shard + suffix);
    if (!fs::is_regular_file(p, ec)) continue;
    std::string bytes = read_file(p.string());
    files.emplace_back(p.filename().string(), sha256_hex(bytes));
    if (ends_with(p.string(), ".js")) {
      const nlohmann::json v = umd_export(bytes, p.string());
      if (!v.is_string())
        throw Error(fmt::format("{}: a shard bundle must export one base64 string, it exports a {}",
                                p.string(), v.type_name()));
      bytes = base64_decode(v.get<std::string>(), p.string());
    }
    return bytes;
  }
  throw Error(
      fmt::format("{}: the weights manifest names shard \"{}\", which is not in {} (looked for {}, "
                  "{}.min.js, {}.js)",
                  s.model_file, shard, dir.empty() ? "." : dir.string(), shard, shard, shard));
}

size_t element_size(const std::string& dtype) {
  if (dtype == "float32" || dtype == "int32") return 4;
  if (dtype == "uint16" || dtype == "float16") return 2;
  if (dtype == "uint8" || dtype == "bool") return 1;
  return 0;
}

}  // namespace

const nlohmann::json& KerasModel::layers() const {
  static const nlohmann::json empty = nlohmann::json::array();
  if (!topology.is_object() || !topology.contains("config")) return empty;
  const auto& c = topology.at("config");
  if (c.is_object() && c.contains("layers") && c.at("layers").is_array()) return c.at("layers");
  if (c.is_array()) return c;  // old Sequential configs: the config is the layer list
  return empty;
}

namespace {

// One entry of a weights group: its name, shape and how its bytes are stored.
struct WeightSpec {
  std::string name, dtype, qdtype;  // qdtype: the quantisation dtype, "" when none
  std::vector<int64_t> shape;
  uint64_t numel = 1;
  double qmin = 0, qscale = 1;
  size_t bytes() const { return numel * element_size(qdtype.empty() ? dtype : qdtype); }
};

WeightSpec weight_spec(const nlohmann::json& w, size_t group, const std::string& file) {
  if (!w.is_object() || !w.contains("name") || !w.at("name").is_string())
    throw Error(fmt::format("{}: a weight of group {} has no name", file, group));
  WeightSpec ws;
  ws.name = w.at("name").get<std::string>();
  auto bad = [&](const std::string& what) {
    return Error(fmt::format("{}: weight \"{}\": {}", file, ws.name, what));
  };
  if (!w.contains("shape") || !w.at("shape").is_array()) throw bad("no shape list");
  if (!w.contains("dtype") || !w.at("dtype").is_string()) throw bad("no dtype");
  for (const auto& d : w.at("shape")) {
    if (!d.is_number_integer() || d.get<int64_t>() < 0 || d.get<int64_t>() > (int64_t{1} << 31))
      throw bad(fmt::format("shape entry {} is not a dimension", d.dump()));
    ws.shape.push_back(d.get<int64_t>());
    ws.numel *= static_cast<uint64_t>(ws.shape.back());
    if (ws.numel > (uint64_t{1} << 34)) throw bad("more than 2^34 elements");
  }
  ws.dtype = w.at("dtype").get<std::string>();
  if (w.contains("quantization")) {
    const auto& q = w.at("quantization");
    if (!q.is_object() || !q.contains("dtype") || !q.at("dtype").is_string())
      throw bad("quantization without a dtype");
    ws.qdtype = q.at("dtype").get<std::string>();
    if (ws.qdtype == "uint8" || ws.qdtype == "uint16") {
      if (!q.contains("min") || !q.contains("scale") || !q.at("min").is_number() ||
          !q.at("scale").is_number())
        throw bad(fmt::format("{} quantization without numeric min and scale", ws.qdtype));
      ws.qmin = q.at("min").get<double>();
      ws.qscale = q.at("scale").get<double>();
    } else if (ws.qdtype != "float16") {
      throw bad(fmt::format("unknown quantization dtype \"{}\" (TensorFlow.js knows uint8, uint16, float16)",
                            ws.qdtype));
    }
    if (ws.dtype != "float32")
      throw bad(fmt::format("quantized weights of dtype {} are not network weights", ws.dtype));
  } else if (ws.dtype != "float32") {
    if (element_size(ws.dtype) == 0) throw bad(fmt::format("unknown dtype \"{}\"", ws.dtype));
  }
  return ws;
}

// The weight's values as float32, dequantised. requires: src holds ws.bytes() bytes; a float weight.
torch::Tensor decode_weight(const WeightSpec& ws, const char* src) {
  auto t = torch::empty(ws.shape, torch::kFloat32);
  float* out = t.data_ptr<float>();
  if (ws.qdtype == "uint8") {
    const auto* q = reinterpret_cast<const unsigned char*>(src);
    for (uint64_t i = 0; i < ws.numel; ++i) out[i] = static_cast<float>(q[i] * ws.qscale + ws.qmin);
  } else if (ws.qdtype == "uint16") {
    for (uint64_t i = 0; i < ws.numel; ++i) {
      uint16_t q;
      std::memcpy(&q, src + 2 * i, 2);
      out[i] = static_cast<float>(q * ws.qscale + ws.qmin);
    }
  } else if (ws.qdtype == "float16") {
    for (uint64_t i = 0; i < ws.numel; ++i) {
      uint16_t h;
      std::memcpy(&h, src + 2 * i, 2);
      out[i] = half_to_float(h);
    }
  } else if (ws.numel) {
    std::memcpy(out, src, ws.bytes());
  }
  return t;
}

// One weightsManifest group: its shards concatenated, its weights read from them in order.
void read_group(const Source& s, const nlohmann::json& group, size_t g, KerasModel& m,
                std::set<std::string>& seen, std::set<std::string>& quant) {
  if (!group.is_object() || !group.contains("paths") || !group.contains("weights") ||
      !group.at("paths").is_array() || !group.at("weights").is_array())
    throw Error(fmt::format("{}: weightsManifest group {} lacks its paths or weights list", s.model_file, g));
  std::string data;
  std::string last_shard = "(none)";
  for (const auto& p : group.at("paths")) {
    if (!p.is_string())
      throw Error(
          fmt::format("{}: weightsManifest group {} has a path that is not a string", s.model_file, g));
    data += shard_bytes(s, p.get<std::string>(), m.files);
    last_shard = p.get<std::string>();
  }
  size_t offset = 0;
  for (const auto& w : group.at("weights")) {
    const WeightSpec ws = weight_spec(w, g, s.model_file);
    const uint64_t bytes = ws.bytes();
    if (offset + bytes > data.size())
      throw Error(
          fmt::format("{}: weight \"{}\": needs bytes {}..{} of weight group {}, whose shards hold {} bytes: "
                      "shard \"{}\" is "
                      "truncated, or a shard is missing from the manifest",
                      s.model_file, ws.name, offset, offset + bytes, g, data.size(), last_shard));
    const char* src = data.data() + offset;
    offset += bytes;
    if (!seen.insert(ws.name).second)
      throw Error(fmt::format("{}: weight \"{}\": named twice in the manifest", s.model_file, ws.name));
    quant.insert(ws.qdtype.empty() ? "none" : ws.qdtype);
    if (ws.qdtype.empty() && ws.dtype != "float32") continue;  // int32 / bool weights are no network weights
    m.weights.emplace_back(ws.name, decode_weight(ws, src));
  }
}

}  // namespace

KerasModel read_tfjs(const std::string& path) {
  const Source s = open_model(path);
  KerasModel m;
  m.format = "tfjs";
  m.path = s.model_file;  // errors name the file read, not the folder given
  m.files.emplace_back(fs::path(s.model_file).filename().string(), sha256_file(s.model_file));
  const auto& topo = s.doc.at("modelTopology");
  if (topo.is_object() && (topo.contains("model_config") || topo.contains("class_name"))) {
    m.topology = topo.contains("model_config") ? topo.at("model_config") : topo;
    if (topo.contains("keras_version") && topo.at("keras_version").is_string())
      m.keras_version = topo.at("keras_version").get<std::string>();
  }
  const auto& manifest = s.doc.at("weightsManifest");
  if (!manifest.is_array()) throw Error(fmt::format("{}: weightsManifest is not a list", s.model_file));
  std::set<std::string> seen, quant;
  for (size_t g = 0; g < manifest.size(); ++g) read_group(s, manifest[g], g, m, seen, quant);
  m.quantisation = fmt::format("{}", fmt::join(quant, "+"));
  if (m.quantisation.empty()) m.quantisation = "none";
  return m;
}

}  // namespace oess::io
