#include "oess/data/image.h"

#include <fmt/format.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <optional>
#include <vector>

#include "oess/core/atomic_file.h"
#include "oess/core/error.h"
#include "oess/data/dicom.h"
#include "oess/data/png.h"

namespace oess::data {

namespace fs = std::filesystem;

std::string DecodeNotes::summary() const {
  std::vector<std::string> parts;
  if (grey) parts.push_back(fmt::format("{} grey image(s) converted to 3 channels", grey.load()));
  if (alpha) parts.push_back(fmt::format("{} image(s) with alpha: alpha dropped", alpha.load()));
  if (sixteen_bit)
    parts.push_back(fmt::format("{} 16-bit image(s) scaled to 8 bits (v*255/65535)", sixteen_bit.load()));
  if (multi_frame)
    parts.push_back(fmt::format("{} multi-frame file(s): first frame used", multi_frame.load()));
  if (no_colour_box)
    parts.push_back(
        fmt::format("{} image(s) without a detectable colour box: whole image used", no_colour_box.load()));
  std::string s;
  for (const auto& p : parts) s += (s.empty() ? "" : "; ") + p;
  return s;
}

namespace {
// TIFF ("II*\0" / "MM\0*"), by content: the one non-DICOM container that holds several pages.
bool is_tiff_file(const std::string& path) {
  const std::string head = read_file_head(path, 4);
  return head == std::string("II*\0", 4) || head == std::string("MM\0*", 4);
}

// A PNG of the common kind through data/png.h; nullopt for every other file (OpenCV reads those).
std::optional<cv::Mat> read_png_fast(const std::string& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  std::FILE* f = ec || size < 8 ? nullptr : std::fopen(path.c_str(), "rb");
  if (!f) return std::nullopt;
  // The signature first, so that other formats are not read whole here only to go to OpenCV.
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  const bool png =
      std::fread(bytes.data(), 1, 8, f) == 8 && std::memcmp(bytes.data(), "\x89PNG\r\n\x1a\n", 8) == 0;
  const bool whole = png && std::fread(bytes.data() + 8, 1, bytes.size() - 8, f) == bytes.size() - 8;
  std::fclose(f);
  return whole ? decode_png_fast(bytes.data(), bytes.size()) : std::nullopt;
}
}  // namespace

cv::Mat decode_image(const std::string& path, DecodeNotes* notes, int frame) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error(fmt::format("{}: image file does not exist", path));
  if (!fs::is_regular_file(path, ec)) throw Error(fmt::format("{}: not a regular file", path));
  cv::Mat img;
  try {
    if (is_dicom_file(path)) {
      int frames = 1;
      img = read_dicom_frame(path, frame, &frames);
      if (frames > 1 && notes) ++notes->multi_frame;
    } else {
      if (const auto png = read_png_fast(path)) img = *png;
      if (img.empty()) img = cv::imread(path, cv::IMREAD_UNCHANGED);
      // imread returns the first page/frame; only containers that can hold several are asked how many.
      if (!img.empty() && notes && is_tiff_file(path) && cv::imcount(path, cv::IMREAD_UNCHANGED) > 1)
        ++notes->multi_frame;
    }
  } catch (const cv::Exception& e) {
    throw Error(fmt::format("{}: cannot decode image ({})", path, e.err));
  }
  if (img.empty())
    throw Error(fmt::format("{}: cannot decode image (not PNG, JPEG, BMP, TIFF or DICOM, or corrupt)", path));
  return to_bgr8(img, path, notes);
}

void write_image_atomic(const std::string& path, const cv::Mat& image, const std::vector<int>& params) {
  std::vector<uchar> bytes;
  if (!cv::imencode(fs::path(path).extension().string(), image, bytes, params))
    throw Error(
        fmt::format("{}: OpenCV could not encode a {}x{} image for it", path, image.cols, image.rows));
  write_file_atomic(path, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

cv::Mat to_bgr8(cv::Mat img, const std::string& path, DecodeNotes* notes) {
  if (img.depth() == CV_16U) {
    cv::Mat eight;
    img.convertTo(eight, CV_8U, 255.0 / 65535.0);  // convertTo rounds to nearest
    img = eight;
    if (notes) ++notes->sixteen_bit;
  } else if (img.depth() != CV_8U) {
    throw Error(fmt::format("{}: unsupported sample type (OpenCV depth {}); expected 8- or 16-bit integers",
                            path, img.depth()));
  }
  switch (img.channels()) {
    case 3:
      return img;
    case 1: {
      cv::Mat bgr;
      cv::cvtColor(img, bgr, cv::COLOR_GRAY2BGR);
      if (notes) ++notes->grey;
      return bgr;
    }
    case 4: {
      cv::Mat bgr;
      cv::cvtColor(img, bgr, cv::COLOR_BGRA2BGR);
      if (notes) ++notes->alpha;
      return bgr;
    }
    case 2: {  // grey + alpha
      std::vector<cv::Mat> ch;
      cv::split(img, ch);
      cv::Mat bgr;
      cv::cvtColor(ch[0], bgr, cv::COLOR_GRAY2BGR);
      if (notes) {
        ++notes->grey;
        ++notes->alpha;
      }
      return bgr;
    }
    default:
      throw Error(fmt::format("{}: unsupported number of channels ({})", path, img.channels()));
  }
}

namespace {

constexpr int kOutlineMin = 160;    // light
constexpr int kOutlineChroma = 24;  // and neutral
constexpr double kEdgeSpan = 0.20;  // longest run >= 20% of the side
constexpr int kMinBoxSide = 16;

struct Run {
  int begin = 0, end = 0;  // [begin, end)
  int length() const { return end - begin; }
};

}  // namespace

cv::Rect find_colour_box(const cv::Mat& bgr) {
  CV_Assert(bgr.type() == CV_8UC3);
  cv::Mat outline(bgr.size(), CV_8U);
  for (int y = 0; y < bgr.rows; ++y) {
    const auto* p = bgr.ptr<cv::Vec3b>(y);
    auto* o = outline.ptr<uchar>(y);
    for (int x = 0; x < bgr.cols; ++x) {
      const int lo = std::min({p[x][0], p[x][1], p[x][2]}), hi = std::max({p[x][0], p[x][1], p[x][2]});
      o[x] = lo >= kOutlineMin && hi - lo <= kOutlineChroma;
    }
  }
  auto longest = [](auto get, int n) {
    Run best, cur;
    for (int i = 0; i <= n; ++i) {
      if (i < n && get(i)) {
        if (cur.length() == 0) cur.begin = i;
        cur.end = i + 1;
      } else {
        if (cur.length() > best.length()) best = cur;
        cur = Run{};
      }
    }
    return best;
  };
  std::vector<std::pair<int, Run>> rows, cols;
  for (int y = 0; y < bgr.rows; ++y) {
    const uchar* o = outline.ptr<uchar>(y);
    const Run r = longest([o](int x) { return o[x] != 0; }, bgr.cols);
    if (r.length() >= kEdgeSpan * bgr.cols) rows.emplace_back(y, r);
  }
  for (int x = 0; x < bgr.cols; ++x) {
    const Run r = longest([&outline, x](int y) { return outline.at<uchar>(y, x) != 0; }, bgr.rows);
    if (r.length() >= kEdgeSpan * bgr.rows) cols.emplace_back(x, r);
  }
  // Widest closed rectangle: top/bottom rows and left/right columns whose runs reach each other's ends.
  cv::Rect best;
  for (size_t a = 0; a < rows.size(); ++a) {
    for (size_t b = rows.size(); b-- > a + 1;) {
      const int top = rows[a].first, bottom = rows[b].first;
      if (bottom - top < kMinBoxSide) break;
      const int left = std::max(rows[a].second.begin, rows[b].second.begin);
      const int right = std::min(rows[a].second.end, rows[b].second.end) - 1;
      bool has_left = false, has_right = false;
      for (const auto& [x, r] : cols) {
        const bool spans = r.begin <= top + 1 && r.end >= bottom;
        if (!spans) continue;
        if (std::abs(x - left) <= 1) has_left = true;
        if (std::abs(x - right) <= 1) has_right = true;
      }
      if (has_left && has_right && right - left >= kMinBoxSide) {
        const cv::Rect inside(left + 1, top + 1, right - left - 1, bottom - top - 1);
        if (inside.area() > best.area()) best = inside;
      }
    }
  }
  return best;
}

CropSpec parse_crop(const std::string& spec) {
  CropSpec c;
  if (spec.empty() || spec == "none") return c;
  if (spec == "colour_box" || spec == "color_box") {
    c.kind = CropSpec::Kind::kColourBox;
    return c;
  }
  if (spec.rfind("rect:", 0) == 0) {
    int x, y, w, h;
    char tail;
    if (std::sscanf(spec.c_str() + 5, "%d,%d,%d,%d%c", &x, &y, &w, &h, &tail) == 4 && x >= 0 && y >= 0 &&
        w > 0 && h > 0) {
      c.kind = CropSpec::Kind::kRect;
      c.rect = cv::Rect(x, y, w, h);
      return c;
    }
  }
  throw UsageError(
      fmt::format("crop \"{}\": expected none, colour_box or rect:X,Y,W,H (pixels, W and H > 0)", spec));
}

cv::Rect crop_rect(const cv::Mat& bgr8, const CropSpec& crop, DecodeNotes* notes) {
  const cv::Rect whole(0, 0, bgr8.cols, bgr8.rows);
  switch (crop.kind) {
    case CropSpec::Kind::kNone:
      return whole;
    case CropSpec::Kind::kRect: {
      const cv::Rect r = crop.rect & whole;
      if (r.area() == 0)
        throw Error(fmt::format("crop rectangle {}x{}+{}+{} lies outside a {}x{} image", crop.rect.width,
                                crop.rect.height, crop.rect.x, crop.rect.y, bgr8.cols, bgr8.rows));
      return r;
    }
    case CropSpec::Kind::kColourBox: {
      const cv::Rect r = find_colour_box(bgr8);
      if (r.area() == 0) {
        if (notes) ++notes->no_colour_box;
        return whole;
      }
      return r;
    }
  }
  return whole;
}

cv::Mat apply_crop(const cv::Mat& bgr8, const CropSpec& crop, DecodeNotes* notes) {
  return bgr8(crop_rect(bgr8, crop, notes));
}

cv::Mat apply_framing(const cv::Mat& bgr8, const Framing& f, DecodeNotes* notes) {
  const cv::Rect keep = crop_rect(bgr8, f.crop, notes);
  return apply_mask(bgr8, f.mask)(keep);
}

}  // namespace oess::data
