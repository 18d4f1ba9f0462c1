// Structural checks of torch zip files before LibTorch reads them (io/weights.h: check_torch_pickle).
#include <caffe2/serialize/inline_container.h>
#include <fmt/format.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

#include "oess/core/error.h"
#include "oess/io/weights.h"

namespace oess::io {

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

namespace {

// What follows each pickle opcode (protocols 0-5), as far as a bounds check needs to know.
enum class Arg : uint8_t {
  kUnknown,  // an opcode this check does not know: left to the unpickler
  kStop,
  kNone,
  kFixed1,
  kFixed2,
  kFixed4,
  kFixed8,
  kLen1,  // a length of 1, 4 or 8 bytes, then that many bytes
  kLen4,
  kLen8,
  kLine,        // a newline-terminated argument
  kTwoLines,    // GLOBAL / INST: module and name lines
  kLongBinput,  // LONG_BINPUT: a 4-byte memo index
  kPut,         // PUT: a decimal memo index line
};

const std::array<Arg, 256>& opcode_table() {
  static const std::array<Arg, 256> table = [] {
    std::array<Arg, 256> t{};
    auto set = [&t](const char* ops, Arg a) {
      for (const char* o = ops; *o; ++o) t[static_cast<unsigned char>(*o)] = a;
    };
    t['.'] = Arg::kStop;
    set("Kh\x80\x82", Arg::kFixed1);
    set("M\x83", Arg::kFixed2);
    set("Jj\x84", Arg::kFixed4);
    set("G\x95", Arg::kFixed8);
    set("UC\x8c\x8a", Arg::kLen1);
    set("TXB\x8b", Arg::kLen4);
    set("\x8d\x8e\x96", Arg::kLen8);
    set("ILFSVgP", Arg::kLine);
    set("ci", Arg::kTwoLines);
    t['r'] = Arg::kLongBinput;
    t['p'] = Arg::kPut;
    set("()]}N\x88\x89tldaesu012\x85\x86\x87Rbo\x81\x92\x93\x94\x8f\x90\x91\x97\x98Q", Arg::kNone);
    return t;
  }();
  return table;
}

// Walks a pickle's opcodes, checking that every argument lies inside it.
class PickleWalk {
 public:
  PickleWalk(const std::string& pkl, const std::string& path) : pkl_(pkl), path_(path), n_(pkl.size()) {}

  void run() {
    const auto& table = opcode_table();
    while (at_ < n_) {
      const Arg a = table[static_cast<unsigned char>(pkl_[at_++])];
      if (a == Arg::kStop || a == Arg::kUnknown) return;
      step(a);
    }
  }

 private:
  void step(Arg a) {
    switch (a) {
      case Arg::kFixed1:
        le(1);
        break;
      case Arg::kFixed2:
        le(2);
        break;
      case Arg::kFixed4:
        le(4);
        break;
      case Arg::kFixed8:
        le(8);
        break;
      case Arg::kLen1:
        skip(le(1));
        break;
      case Arg::kLen4:
        skip(le(4));
        break;
      case Arg::kLen8:
        skip(le(8));
        break;
      case Arg::kLine:
        skip_line();
        break;
      case Arg::kTwoLines:
        skip_line();
        skip_line();
        break;
      case Arg::kLongBinput:
        long_binput();
        break;
      case Arg::kPut:
        put();
        break;
      default:
        break;
    }
  }
  [[noreturn]] void fail(uint64_t len, size_t where) const {
    throw Error(fmt::format(
        "{}: corrupt torch file: data.pkl declares {} bytes at offset {}, past its end ({} bytes)", path_,
        len, where, n_));
  }
  uint64_t le(size_t k) {  // little-endian unsigned of k bytes
    if (at_ + k > n_) fail(k, at_);
    uint64_t v = 0;
    for (size_t i = 0; i < k; ++i)
      v |= static_cast<uint64_t>(static_cast<unsigned char>(pkl_[at_ + i])) << (8 * i);
    at_ += k;
    return v;
  }
  void skip(uint64_t len) {
    if (len > n_ - at_) fail(len, at_);
    at_ += len;
  }
  void skip_line() {
    const size_t nl = pkl_.find('\n', at_);
    if (nl == std::string::npos) fail(1, at_);
    at_ = nl + 1;
  }
  // LibTorch sizes its memo to the index, so a huge one asks for gigabytes.
  void long_binput() {
    const size_t where = at_;
    const uint64_t index = le(4);
    if (index > n_)
      throw Error(
          fmt::format("{}: corrupt torch file: data.pkl memo index {} at offset {} (the pickle has {} bytes)",
                      path_, index, where, n_));
  }
  void put() {  // a decimal memo index, bounded as LONG_BINPUT's
    const size_t where = at_;
    skip_line();
    if (at_ - where > 12 || std::strtoull(pkl_.c_str() + where, nullptr, 10) > n_)
      throw Error(fmt::format("{}: corrupt torch file: data.pkl memo index at offset {} is out of range",
                              path_, where));
  }

  const std::string& pkl_;
  const std::string& path_;
  const size_t n_;
  size_t at_ = 0;
};

}  // namespace

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
  PickleWalk(pkl, path).run();
}

}  // namespace oess::io
