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

namespace {

// The zip structure LibTorch's bundled miniz will walk: end of central directory (zip64 too), every central
// directory entry and the data it points to, all inside the file. miniz reads freed memory on some
// malformed directories (found by fuzz/fuzz_weights and fuzz/fuzz_model), so such files never reach it.
void check_zip_structure(const std::string& b, const std::string& path) {
  const size_t n = b.size();
  auto fail = [&](const std::string& what) {
    throw Error(fmt::format("{}: truncated or corrupt torch zip file ({})", path, what));
  };
  auto u = [&](size_t at, int bytes) {
    if (at > n || static_cast<size_t>(bytes) > n - at)
      fail(fmt::format("a field at byte {} lies past the end", at));
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i)
      v |= static_cast<uint64_t>(static_cast<unsigned char>(b[at + i])) << (8 * i);
    return v;
  };
  if (n < 22) fail("too short for a zip file");
  size_t eocd = std::string::npos;
  for (size_t i = n - 22 + 1; i-- > (n - 22 > 65535 ? n - 22 - 65535 : 0);)
    if (u(i, 4) == 0x06054b50) {
      eocd = i;
      break;
    }
  if (eocd == std::string::npos) fail("no end of central directory");
  if (eocd + 22 + u(eocd + 20, 2) != n) fail("bytes after the end of central directory");
  if (u(eocd + 4, 2) != 0 || u(eocd + 6, 2) != 0 || u(eocd + 8, 2) != u(eocd + 10, 2))
    fail("a multi-disk archive");
  uint64_t entries = u(eocd + 10, 2), cd_size = u(eocd + 12, 4), cd_off = u(eocd + 16, 4);
  size_t cd_limit = eocd;
  // miniz takes the zip64 record whenever its locator is there, whatever the 32-bit fields say: so do we.
  const bool zip64 = eocd >= 20 && u(eocd - 20, 4) == 0x07064b50;
  if (zip64 || entries == 0xFFFF || cd_size == 0xFFFFFFFF || cd_off == 0xFFFFFFFF) {
    if (!zip64) fail("no zip64 locator");
    if (u(eocd - 16, 4) != 0 || u(eocd - 4, 4) > 1) fail("a multi-disk zip64 archive");
    const uint64_t z64 = u(eocd - 12, 8);
    if (z64 + 56 > eocd - 20 || u(z64, 4) != 0x06064b50) fail("no zip64 end of central directory");
    if (u(z64 + 4, 8) < 44) fail("a zip64 end of central directory that is too short");
    if (u(z64 + 16, 4) != 0 || u(z64 + 20, 4) != 0 || u(z64 + 24, 8) != u(z64 + 32, 8))
      fail("a multi-disk archive");
    const uint64_t entries64 = u(z64 + 32, 8), size64 = u(z64 + 40, 8), off64 = u(z64 + 48, 8);
    if ((entries != 0xFFFF && entries != entries64) || (cd_size != 0xFFFFFFFF && cd_size != size64) ||
        (cd_off != 0xFFFFFFFF && cd_off != off64))
      fail("zip64 and 32-bit directory records disagree");
    entries = entries64;
    cd_size = size64;
    cd_off = off64;
    cd_limit = z64;
  }
  if (cd_off > cd_limit || cd_size > cd_limit - cd_off) fail("the central directory lies outside the file");
  if (entries > cd_size / 46) fail("more entries than the central directory can hold");
  size_t at = cd_off;
  const size_t cd_end = cd_off + cd_size;
  for (uint64_t k = 0; k < entries; ++k) {
    if (at + 46 > cd_end || u(at, 4) != 0x02014b50)
      fail(fmt::format("central directory entry {} is damaged", k));
    const uint64_t name = u(at + 28, 2), extra = u(at + 30, 2), comment = u(at + 32, 2);
    if (at + 46 + name + extra + comment > cd_end)
      fail(fmt::format("central directory entry {} overruns it", k));
    if (u(at + 34, 2) != 0) fail("a multi-disk archive");
    uint64_t comp = u(at + 20, 4), uncomp = u(at + 24, 4), local = u(at + 42, 4);
    // zip64 extended information (id 1): the 0xFFFFFFFF fields, in the order uncompressed, compressed, offset
    for (size_t e = at + 46 + name; e + 4 <= at + 46 + name + extra;) {
      const uint64_t id = u(e, 2), len = u(e + 2, 2);
      if (e + 4 + len > at + 46 + name + extra) fail(fmt::format("entry {}: an extra field overruns it", k));
      if (id == 1) {
        size_t f = e + 4;
        for (uint64_t* field : {&uncomp, &comp, &local})
          if (*field == 0xFFFFFFFF) {
            if (f + 8 > e + 4 + len) fail(fmt::format("entry {}: a short zip64 field", k));
            *field = u(f, 8);
            f += 8;
          }
      }
      e += 4 + len;
    }
    const uint64_t method = u(at + 10, 2);
    if (method != 0 && method != 8) fail(fmt::format("entry {}: compression method {}", k, method));
    if (method == 0 && comp != uncomp) fail(fmt::format("entry {}: stored sizes differ", k));
    if (local > cd_off || cd_off - local < 30 || u(local, 4) != 0x04034b50)
      fail(fmt::format("entry {}: no local header at byte {}", k, local));
    const uint64_t data_at = local + 30 + u(local + 26, 2) + u(local + 28, 2);
    if (data_at > cd_off || comp > cd_off - data_at)
      fail(fmt::format("entry {}: its data lies outside the file", k));
    at += 46 + name + extra + comment;
  }
  if (at != cd_end) fail("the central directory size does not match its entries");
}

}  // namespace

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

void check_torch_pickle(const std::string& bytes, const std::string& path) {
  if (bytes.compare(0, 4, std::string("PK\x03\x04", 4)) == 0) check_zip_structure(bytes, path);
  std::string pkl;
  try {
    std::istringstream in(bytes);
    caffe2::serialize::PyTorchStreamReader reader(&in);
    if (!reader.hasRecord("data.pkl")) return;
    auto [data, size] = reader.getRecord("data.pkl");
    pkl.assign(static_cast<const char*>(data.get()), size);
  } catch (const std::exception&) {
    return;  // not a readable zip: the unpickler's own error says so
  }
  const size_t n = pkl.size();
  size_t at = 0;
  auto fail = [&](uint64_t len, size_t where) {
    throw Error(fmt::format(
        "{}: corrupt torch file: data.pkl declares {} bytes at offset {}, past its end ({} bytes)", path, len,
        where, n));
  };
  auto need = [&](size_t k) {
    if (at + k > n) fail(k, at);
  };
  auto le = [&](size_t k) {  // little-endian unsigned of k bytes at `at`
    need(k);
    uint64_t v = 0;
    for (size_t i = 0; i < k; ++i)
      v |= static_cast<uint64_t>(static_cast<unsigned char>(pkl[at + i])) << (8 * i);
    at += k;
    return v;
  };
  auto skip_line = [&] {
    const size_t nl = pkl.find('\n', at);
    if (nl == std::string::npos) fail(1, at);
    at = nl + 1;
  };
  while (at < n) {
    const auto op = static_cast<unsigned char>(pkl[at++]);
    switch (op) {
      case '.':  // STOP
        return;
      // one-byte argument
      case 'K':
      case 'h':
      case 'q':
      case 0x80:
      case 0x82:
        le(1);
        break;
      case 'M':
      case 0x83:
        le(2);
        break;
      case 'J':
      case 'j':
      case 0x84:
        le(4);
        break;
      case 'r': {  // LONG_BINPUT: LibTorch sizes its memo to the index, so a huge one asks for gigabytes
        const size_t where = at;
        const uint64_t index = le(4);
        if (index > n)
          throw Error(
              fmt::format("{}: corrupt torch file: data.pkl memo index {} at offset {} (the pickle has {} "
                          "bytes)",
                          path, index, where, n));
        break;
      }
      case 'G':
      case 0x95:
        le(8);
        break;
      // length-prefixed data
      case 'U':
      case 'C':
      case 0x8c:
      case 0x8a: {
        const uint64_t len = le(1);
        if (len > n - at) fail(len, at);
        at += len;
        break;
      }
      case 'T':
      case 'X':
      case 'B':
      case 0x8b: {
        const uint64_t len = le(4);
        if (len > n - at) fail(len, at);
        at += len;
        break;
      }
      case 0x8d:
      case 0x8e:
      case 0x96: {
        const uint64_t len = le(8);
        if (len > n - at) fail(len, at);
        at += len;
        break;
      }
      // newline-terminated arguments
      case 'I':
      case 'L':
      case 'F':
      case 'S':
      case 'V':
      case 'g':
      case 'P':
        skip_line();
        break;
      case 'p': {  // PUT: a decimal memo index, bounded as LONG_BINPUT's
        const size_t where = at;
        skip_line();
        if (at - where > 12 || std::strtoull(pkl.c_str() + where, nullptr, 10) > n)
          throw Error(fmt::format("{}: corrupt torch file: data.pkl memo index at offset {} is out of range",
                                  path, where));
        break;
      }
      case 'c':
      case 'i':
        skip_line();
        skip_line();
        break;
      // no argument
      case '(':
      case ')':
      case ']':
      case '}':
      case 'N':
      case 0x88:
      case 0x89:
      case 't':
      case 'l':
      case 'd':
      case 'a':
      case 'e':
      case 's':
      case 'u':
      case '0':
      case '1':
      case '2':
      case 0x85:
      case 0x86:
      case 0x87:
      case 'R':
      case 'b':
      case 'o':
      case 0x81:
      case 0x92:
      case 0x93:
      case 0x94:
      case 0x8f:
      case 0x90:
      case 0x91:
      case 0x97:
      case 0x98:
      case 'Q':
        break;
      default:
        return;  // an opcode this check does not know: left to the unpickler
    }
  }
}

}  // namespace oess::io
