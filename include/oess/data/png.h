#pragma once
// oess/data/png.h — the common PNG, decoded faster than OpenCV's libpng path (issue #30).
//
// decode_png_fast(bytes, size)
//   A PNG file's bytes -> what cv::imdecode(bytes, IMREAD_UNCHANGED) returns, for the kind of PNG that
//   ultrasound exports and datasets hold: 8-bit grey (CV_8UC1), RGB (CV_8UC3, BGR order) or RGBA (CV_8UC4,
//   BGRA), not interlaced, with no chunk that changes pixels (tRNS, sBIT, ...). The zlib stream is inflated
//   by libdeflate (about 0.6 ms against zlib's 1.0 for a 384x288 RGB image here), the rows unfiltered as the
//   PNG specification says. Every chunk's CRC and the stream's Adler-32 are checked. ensures: the same pixels
//   as OpenCV (tested against cv::imread), or nullopt for anything else — another kind of PNG, a damaged
//   file, not a PNG — which the caller then gives to OpenCV, so that its errors and conversions stay
//   OpenCV's.
#include <cstddef>
#include <cstdint>
#include <optional>

#include <opencv2/core/mat.hpp>

namespace oess::data {

std::optional<cv::Mat> decode_png_fast(const uint8_t* data, size_t size);

}  // namespace oess::data
