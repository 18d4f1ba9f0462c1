#pragma once
// oess/io/weights.h — reading and writing files of named tensors (network weights, feature files).
//
// Formats read, detected from the first bytes (never from the file name):
//   torch zip     what `torch.save(dict_of_tensors, f)` writes (PyTorch >= 1.6) and torch::pickle_load reads:
//                 the top-level object must be a plain dict of str -> Tensor. An OrderedDict (what
//                 `state_dict()` returns), a nested checkpoint or a whole pickled model is refused with a
//                 pointer to tools/convert_weights.py.
//   safetensors   8-byte little-endian header length, a JSON header {name: {dtype, shape, data_offsets}},
//                 then raw little-endian data (timm / Hugging Face). F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL.
// The legacy (pre-1.6, non-zip) torch format — torchvision's downloads — is recognised and refused with the
// converter command to run.
//
// Contract: every failure is an oess::Error whose message starts with the file path and says what is wrong
// (missing, a folder, empty, truncated, not a checkpoint, wrong top-level object, a non-tensor entry, a
// safetensors entry whose offsets or size do not fit).
#include <ATen/core/ivalue.h>
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace oess::io {

// Tensors by name, in the file's order.
using StateDict = std::vector<std::pair<std::string, torch::Tensor>>;

enum class WeightsFormat { kTorchZip, kSafetensors };
std::string format_name(WeightsFormat format);

struct WeightsFile {
  std::string path;
  WeightsFormat format;
  std::uintmax_t bytes = 0;
  StateDict tensors;  // CPU tensors, dtypes as stored
};

WeightsFile read_weights(const std::string& path);

// Checks a torch zip file's pickle (data.pkl) before LibTorch unpickles it: every length-prefixed string or
// bytes argument must fit in the pickle. LibTorch 1.13 reserves such lengths before reading them, so a
// corrupt length asks for gigabytes (found by fuzz/fuzz_weights). Files that are not torch zips are left to
// the caller's own error. errors: oess::Error "PATH: corrupt torch file: ...".
void check_torch_pickle(const std::string& bytes, const std::string& path);

// Reads a torch zip file whose top level is a dict (feature files, exported models): the bytes are checked
// (check_torch_pickle), unpickled, and the top level must be a dict. errors: "PATH: not a readable WHAT
// (...)", "PATH: not a WHAT (top level is a ...)", and check_torch_pickle's.
c10::IValue read_torch_dict(const std::string& path, const std::string& what);

// Metadata stored beside the tensors of a weights file (`oess weights import` writes it): the UTF-8 bytes
// of a JSON object as a uint8 tensor under this key, so the file stays a plain dict of tensors for
// torch.load and every reader. Loading into a network skips it.
inline constexpr const char* kWeightsMetaKey = "__oess_meta__";
// The metadata JSON text, or "" when the file has none. errors: "PATH: ..." when the entry is not a 1-D
// uint8 tensor.
std::string weights_meta(const WeightsFile& file);
torch::Tensor meta_tensor(const std::string& json_text);

// Writes `tensors` as a torch zip holding a plain dict (Python: torch.load(path) -> dict), atomically.
// requires: unique names, defined tensors.
void write_torch_dict(const std::string& path, const StateDict& tensors);

}  // namespace oess::io
