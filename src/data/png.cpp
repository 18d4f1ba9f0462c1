// The common PNG decoded with libdeflate (data/png.h).
#include "oess/data/png.h"

#include <libdeflate.h>

#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <vector>

namespace oess::data {
namespace {

uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// The chunks that change nothing in the pixels OpenCV returns for IMREAD_UNCHANGED (it asks libpng for no
// gamma, colour-space or background handling): text, times, physical size, colour-space descriptions.
// Any other ancillary chunk (tRNS, sBIT, PLTE in a true-colour file, ...) sends the file to OpenCV.
bool harmless(const std::string& type) {
  static const std::set<std::string> kKnown = {"tEXt", "zTXt", "iTXt", "pHYs", "tIME",
                                               "gAMA", "cHRM", "sRGB", "iCCP"};
  return kKnown.count(type) > 0;
}

// The Paeth predictor, without branches (noisy rows mispredict them): |p - a| = |b - c|, |p - b| = |a - c|,
// |p - c| = |a + b - 2c| for p = a + b - c.
inline int paeth(int a, int b, int c) {
  const int pa = std::abs(b - c), pb = std::abs(a - c), pc = std::abs(a + b - 2 * c);
  const int bc = pb <= pc ? b : c;
  return (pa <= pb) & (pa <= pc) ? a : bc;
}

// Reverses a row's filter in place, BPP bytes per pixel (1, 3 or 4: 8-bit grey, RGB, RGBA); prev is the
// previous row, already unfiltered (zeros for the first). The left neighbours a and c stay in registers.
template <int BPP>
bool unfilter(uint8_t filter, uint8_t* row, const uint8_t* prev, size_t n) {
  uint8_t a[BPP] = {}, c[BPP] = {};
  switch (filter) {
    case 0:
      return true;
    case 1:
      for (size_t i = 0; i < n; i += BPP)
        for (int k = 0; k < BPP; ++k) a[k] = row[i + k] = static_cast<uint8_t>(row[i + k] + a[k]);
      return true;
    case 2:
      for (size_t i = 0; i < n; ++i) row[i] = static_cast<uint8_t>(row[i] + prev[i]);
      return true;
    case 3:
      for (size_t i = 0; i < n; i += BPP)
        for (int k = 0; k < BPP; ++k)
          a[k] = row[i + k] = static_cast<uint8_t>(row[i + k] + ((a[k] + prev[i + k]) >> 1));
      return true;
    case 4:
      for (size_t i = 0; i < n; i += BPP)
        for (int k = 0; k < BPP; ++k) {
          const uint8_t b = prev[i + k];
          a[k] = row[i + k] = static_cast<uint8_t>(row[i + k] + paeth(a[k], b, c[k]));
          c[k] = b;
        }
      return true;
    default:
      return false;
  }
}

bool unfilter(uint8_t filter, uint8_t* row, const uint8_t* prev, size_t n, int bpp) {
  return bpp == 1   ? unfilter<1>(filter, row, prev, n)
         : bpp == 3 ? unfilter<3>(filter, row, prev, n)
                    : unfilter<4>(filter, row, prev, n);
}

struct Decompressor {
  libdeflate_decompressor* d = libdeflate_alloc_decompressor();
  ~Decompressor() { libdeflate_free_decompressor(d); }
};

}  // namespace

std::optional<cv::Mat> decode_png_fast(const uint8_t* data, size_t size) {
  static const uint8_t kSignature[8] = {137, 80, 78, 71, 13, 10, 26, 10};
  if (size < 8 + 25 || std::memcmp(data, kSignature, 8) != 0) return std::nullopt;
  uint32_t width = 0, height = 0;
  int channels = 0;
  std::string idat;
  bool header = false, end = false;
  for (size_t at = 8; at + 12 <= size && !end;) {
    const uint32_t len = be32(data + at);
    if (len > size - at - 12) return std::nullopt;  // runs past the file
    const std::string type(reinterpret_cast<const char*>(data + at + 4), 4);
    const uint8_t* body = data + at + 8;
    if (libdeflate_crc32(0, data + at + 4, len + 4) != be32(body + len)) return std::nullopt;
    if (type == "IHDR") {
      if (header || len != 13) return std::nullopt;
      width = be32(body);
      height = be32(body + 4);
      const uint8_t depth = body[8], colour = body[9];
      // 8-bit grey, RGB or RGBA, the standard compression and filters, not interlaced; the rest: OpenCV.
      if (depth != 8 || body[10] != 0 || body[11] != 0 || body[12] != 0) return std::nullopt;
      channels = colour == 0 ? 1 : colour == 2 ? 3 : colour == 6 ? 4 : 0;
      if (channels == 0 || width == 0 || height == 0 || width > 1u << 16 || height > 1u << 16)
        return std::nullopt;
      header = true;
    } else if (!header) {
      return std::nullopt;  // IHDR comes first
    } else if (type == "IDAT") {
      idat.append(reinterpret_cast<const char*>(body), len);
    } else if (type == "IEND") {
      end = true;
    } else if (!harmless(type)) {
      return std::nullopt;
    }
    at += 12 + size_t{len};
  }
  if (!end || idat.empty()) return std::nullopt;
  // Deflate expands at most ~1032:1: a header claiming more than its stream could hold (a damaged or hostile
  // file) is left to OpenCV and its own size limits, before any buffer is allocated for it.
  const uint64_t want = (uint64_t{width} * static_cast<uint64_t>(channels) + 1) * height;
  if (want > uint64_t{idat.size()} * 1040 || uint64_t{width} * height > (uint64_t{1} << 28))
    return std::nullopt;

  const size_t stride = size_t{width} * static_cast<size_t>(channels), bytes = (stride + 1) * height;
  thread_local Decompressor inflater;
  thread_local std::vector<uint8_t> raw;  // reused: a fresh buffer per image costs its page faults
  if (!inflater.d) return std::nullopt;
  raw.resize(bytes);
  size_t got = 0;  // the stream must hold exactly the image: nothing missing, nothing after it
  if (libdeflate_zlib_decompress(inflater.d, idat.data(), idat.size(), raw.data(), bytes, &got) !=
          LIBDEFLATE_SUCCESS ||
      got != bytes)
    return std::nullopt;

  cv::Mat img(static_cast<int>(height), static_cast<int>(width), CV_8UC(channels));
  const std::vector<uint8_t> zero(stride, 0);
  const uint8_t* prev = zero.data();
  for (uint32_t y = 0; y < height; ++y) {
    uint8_t* row = raw.data() + size_t{y} * (stride + 1);
    if (!unfilter(row[0], row + 1, prev, stride, channels)) return std::nullopt;
    prev = row + 1;
    uint8_t* dst = img.ptr<uint8_t>(static_cast<int>(y));  // RGB(A) -> BGR(A), as OpenCV returns colour
    if (channels == 1) {
      std::memcpy(dst, prev, stride);
    } else {
      for (size_t x = 0; x < stride; x += static_cast<size_t>(channels)) {
        dst[x] = prev[x + 2];
        dst[x + 1] = prev[x + 1];
        dst[x + 2] = prev[x];
        if (channels == 4) dst[x + 3] = prev[x + 3];
      }
    }
  }
  return img;
}

}  // namespace oess::data
