// Keras HDF5 files (save_weights, Keras Applications downloads, whole saved models) -> io::KerasModel.
#include <fmt/format.h>
#include <hdf5.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <set>

#include "oess/core/error.h"
#include "oess/core/sha256.h"
#include "oess/io/keras.h"

namespace oess::io {
namespace {

namespace fs = std::filesystem;

// One HDF5 handle, closed with its own function.
class Handle {
 public:
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Handle() {
    if (id_ >= 0) close_(id_);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

struct H5Reader {
  std::string path;
  uint64_t file_bytes = 0;

  [[noreturn]] void fail(const std::string& what) const { throw Error(fmt::format("{}: {}", path, what)); }

  bool has_attribute(hid_t obj, const char* name) const { return H5Aexists(obj, name) > 0; }

  // A string attribute, or a list of them (fixed-length or variable-length strings).
  std::vector<std::string> strings(hid_t obj, const char* name, const std::string& owner) const {
    Handle attr(H5Aopen(obj, name, H5P_DEFAULT), H5Aclose);
    if (!attr.ok()) fail(fmt::format("{}: cannot open attribute {}", owner, name));
    Handle type(H5Aget_type(attr.get()), H5Tclose);
    Handle space(H5Aget_space(attr.get()), H5Sclose);
    if (!type.ok() || !space.ok() || H5Tget_class(type.get()) != H5T_STRING)
      fail(fmt::format("{}: attribute {} is not text", owner, name));
    const hssize_t n = H5Sget_simple_extent_npoints(space.get());
    // Keras writes a few hundred layer names at most; a damaged file can declare any count.
    if (n < 0 || n > 65536)
      fail(fmt::format("{}: attribute {} holds {} strings (a Keras file has at most a few thousand)", owner,
                       name, n));
    std::vector<std::string> out;
    if (H5Tis_variable_str(type.get()) > 0) {
      std::vector<char*> ptrs(static_cast<size_t>(n), nullptr);
      Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
      H5Tset_size(mem.get(), H5T_VARIABLE);
      H5Tset_cset(mem.get(), H5Tget_cset(type.get()));
      if (H5Aread(attr.get(), mem.get(), ptrs.data()) < 0)
        fail(fmt::format("{}: cannot read attribute {}", owner, name));
      for (char* p : ptrs) out.emplace_back(p ? p : "");
      H5Dvlen_reclaim(mem.get(), space.get(), H5P_DEFAULT, ptrs.data());
    } else {
      const size_t size = H5Tget_size(type.get());
      if (size == 0 || size > (1 << 20) || size * static_cast<size_t>(n) > (size_t{64} << 20))
        fail(fmt::format("{}: attribute {} has a bad string size", owner, name));
      std::vector<char> buf(size * static_cast<size_t>(n) + 1, '\0');
      if (H5Aread(attr.get(), type.get(), buf.data()) < 0)
        fail(fmt::format("{}: cannot read attribute {}", owner, name));
      for (hssize_t i = 0; i < n; ++i) {
        const char* s = buf.data() + static_cast<size_t>(i) * size;
        out.emplace_back(s, strnlen(s, size));
      }
    }
    return out;
  }

  torch::Tensor dataset(hid_t group, const std::string& name, const std::string& owner) const {
    if (H5Lexists(group, name.c_str(), H5P_DEFAULT) <= 0)
      fail(fmt::format("layer {}: weight {} is listed in weight_names but not stored", owner, name));
    Handle ds(H5Dopen2(group, name.c_str(), H5P_DEFAULT), H5Dclose);
    if (!ds.ok()) fail(fmt::format("layer {}: weight {} is not a dataset", owner, name));
    Handle type(H5Dget_type(ds.get()), H5Tclose);
    Handle space(H5Dget_space(ds.get()), H5Sclose);
    if (!type.ok() || !space.ok()) fail(fmt::format("layer {}: weight {} is unreadable", owner, name));
    const H5T_class_t cls = H5Tget_class(type.get());
    if (cls != H5T_FLOAT && cls != H5T_INTEGER)
      fail(fmt::format("layer {}: weight {} is not numeric", owner, name));
    const int rank = H5Sget_simple_extent_ndims(space.get());
    if (rank < 0 || rank > 8) fail(fmt::format("layer {}: weight {} has rank {}", owner, name, rank));
    std::vector<hsize_t> dims(static_cast<size_t>(rank));
    H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
    std::vector<int64_t> shape;
    uint64_t numel = 1;
    // Bounded before any allocation: 2^28 values (1 GiB; VGG-16's fc1, the largest weight, has 1.03e8) and
    // no more than 64 x the file's size, since a damaged header can declare any extent (compressed zeros
    // are the only honest way past that, and Keras does not compress).
    const uint64_t limit = std::min<uint64_t>(uint64_t{1} << 28, 16 * file_bytes + (1 << 20));
    for (hsize_t d : dims) {
      shape.push_back(static_cast<int64_t>(d));
      if (d > 0 && numel > limit / d)
        fail(fmt::format("layer {}: weight {} declares more values than the file can hold", owner, name));
      numel *= d;
    }
    auto t = torch::empty(shape, torch::kFloat32);
    if (numel > 0 &&
        H5Dread(ds.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.data_ptr<float>()) < 0)
      fail(fmt::format("layer {}: weight {} cannot be read (damaged or truncated file?)", owner, name));
    return t;
  }
};

}  // namespace

KerasModel read_keras_h5(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error(fmt::format("{}: no such file", path));
  if (fs::is_directory(path, ec))
    throw Error(fmt::format("{}: is a folder, expected a Keras .h5 file", path));
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // errors are ours to report
#if H5_VERSION_GE(1, 12, 0)
  const htri_t is_hdf5 = H5Fis_accessible(path.c_str(), H5P_DEFAULT);
#else
  const htri_t is_hdf5 = H5Fis_hdf5(path.c_str());
#endif
  if (is_hdf5 <= 0) throw Error(fmt::format("{}: not an HDF5 file (or a damaged one)", path));
  Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!file.ok()) throw Error(fmt::format("{}: cannot open as HDF5 (damaged or truncated?)", path));
  H5Reader r{path, static_cast<uint64_t>(fs::file_size(path, ec))};
  KerasModel m;
  m.format = "keras-h5";
  m.path = path;
  m.files.emplace_back(fs::path(path).filename().string(), sha256_file(path));
  if (r.has_attribute(file.get(), "model_config")) {
    const auto text = r.strings(file.get(), "model_config", "/");
    try {
      m.topology = nlohmann::json::parse(text.empty() ? std::string("null") : text.front());
    } catch (const nlohmann::json::exception& e) {
      r.fail(fmt::format("attribute model_config is not JSON ({})", e.what()));
    }
  }
  // Whole models keep their weights under model_weights/; save_weights files at the root.
  std::unique_ptr<Handle> owned;
  hid_t root = file.get();
  if (H5Lexists(file.get(), "model_weights", H5P_DEFAULT) > 0) {
    owned = std::make_unique<Handle>(H5Gopen2(file.get(), "model_weights", H5P_DEFAULT), H5Gclose);
    if (!owned->ok()) r.fail("model_weights is not a group");
    root = owned->get();
  }
  if (!r.has_attribute(root, "layer_names"))
    r.fail("not a Keras weights file: no layer_names attribute (Keras writes one in every .h5 it saves)");
  for (const char* key : {"keras_version"})
    if (r.has_attribute(root, key)) {
      const auto v = r.strings(root, key, "/");
      if (!v.empty()) m.keras_version = v.front();
    }
  std::set<std::string> seen;
  for (const auto& layer : r.strings(root, "layer_names", "/")) {
    if (H5Lexists(root, layer.c_str(), H5P_DEFAULT) <= 0)
      r.fail(fmt::format("layer {} is listed in layer_names but has no group", layer));
    Handle g(H5Gopen2(root, layer.c_str(), H5P_DEFAULT), H5Gclose);
    if (!g.ok()) r.fail(fmt::format("layer {} is not a group", layer));
    if (!r.has_attribute(g.get(), "weight_names")) continue;
    for (const auto& wn : r.strings(g.get(), "weight_names", layer)) {
      std::string last = wn.substr(wn.rfind('/') == std::string::npos ? 0 : wn.rfind('/') + 1);
      if (last.size() > 2 && last.compare(last.size() - 2, 2, ":0") == 0) last.resize(last.size() - 2);
      const std::string name = layer + "/" + last;
      if (!seen.insert(name).second) r.fail(fmt::format("weight {} appears twice", name));
      m.weights.emplace_back(name, r.dataset(g.get(), wn, layer));
    }
  }
  return m;
}

}  // namespace oess::io
