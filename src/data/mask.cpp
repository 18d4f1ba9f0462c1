// Hiding burned-in annotations before features and heat maps (data/mask.h has the rules).
#include "oess/data/mask.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <opencv2/imgproc.hpp>
#include <sstream>

#include "oess/core/error.h"

namespace oess::data {

namespace {

constexpr int kBlack = 12;        // sector: max channel above this is picture
constexpr int kSectorOpen = 9;    // opening that removes text and thin bars beside the scan
constexpr int kMarkGrey = 170;    // annotation: light ...
constexpr int kMarkChroma = 24;   // ... neutral ...
constexpr int kMarkTopHat = 100;  // ... and this far above its 5x5 opening
constexpr int kMarkWindow = 5;
constexpr int kMarkGrow = 2;          // marks grown by this many pixels: anti-aliased edges, drop shadows
constexpr int kFillWindow = 9;        // fill: box average of visible pixels, grown inwards
constexpr int kMaxFillRounds = 4096;  // safety net; each round closes at least a ring of the hole

std::string rect_text(const MaskRect& r) {
  return fmt::format("rect:{},{},{},{}", r.x, r.y, r.width, r.height);
}

MaskRect parse_rect(const std::string& entry) {
  int x, y, w, h;
  char tail;
  if (std::sscanf(entry.c_str() + 5, "%d,%d,%d,%d%c", &x, &y, &w, &h, &tail) != 4 || w <= 0 || h <= 0)
    throw UsageError(
        fmt::format("entry \"{}\": expected rect:X,Y,W,H (pixels, W and H > 0; a negative X or Y "
                    "counts from the right or bottom edge)",
                    entry));
  return {x, y, w, h};
}

// Fills the pixels where `hole` is set from the `visible` ones around them: each round replaces the hole
// pixels that have visible neighbours within the window by the mean of those neighbours, and makes them
// visible. Pixels with no visible pixel anywhere stay as they are.
void fill_holes(cv::Mat& bgr8, cv::Mat hole, cv::Mat visible) {
  cv::Mat image;
  bgr8.convertTo(image, CV_32FC3);
  for (int round = 0; round < kMaxFillRounds && cv::countNonZero(hole) > 0; ++round) {
    cv::Mat weight, sum, seen;
    visible.convertTo(weight, CV_32F, 1.0 / 255.0);
    cv::Mat weighted;
    cv::Mat w3;
    cv::merge(std::vector<cv::Mat>{weight, weight, weight}, w3);
    cv::multiply(image, w3, weighted);
    const cv::Size win(kFillWindow, kFillWindow);
    cv::boxFilter(weighted, sum, -1, win, cv::Point(-1, -1), /*normalize=*/false, cv::BORDER_CONSTANT);
    cv::boxFilter(weight, seen, -1, win, cv::Point(-1, -1), false, cv::BORDER_CONSTANT);
    const cv::Mat reached = (seen > 0.5f) & hole;
    if (cv::countNonZero(reached) == 0) break;  // nothing visible near what is left
    for (int y = 0; y < image.rows; ++y) {
      const uchar* r = reached.ptr<uchar>(y);
      const float* s = seen.ptr<float>(y);
      const auto* num = sum.ptr<cv::Vec3f>(y);
      auto* out = image.ptr<cv::Vec3f>(y);
      for (int x = 0; x < image.cols; ++x)
        if (r[x]) out[x] = num[x] / s[x];
    }
    hole.setTo(0, reached);
    visible.setTo(255, reached);
  }
  image.convertTo(bgr8, CV_8UC3);  // rounds to nearest, saturating
}

MaskSpec parse_entries(const std::vector<std::string>& entries) {
  MaskSpec m;
  for (const auto& e : entries) {
    if (e == "none") {
      if (entries.size() > 1) throw UsageError("\"none\" cannot be listed with other entries");
    } else if (e == "outside_sector") {
      m.outside_sector = true;
    } else if (e == "annotations") {
      m.annotations = true;
    } else if (e.rfind("rect:", 0) == 0) {
      m.rects.push_back(parse_rect(e));
    } else {
      throw UsageError(
          fmt::format("entry \"{}\": expected none, outside_sector, annotations or rect:X,Y,W,H", e));
    }
  }
  return m;
}

}  // namespace

MaskSpec parse_mask(const std::vector<std::string>& entries, const std::string& source) {
  try {
    return parse_entries(entries);
  } catch (const UsageError& e) {
    throw UsageError(source + ": " + e.what());
  }
}

std::string mask_text(const MaskSpec& m) {
  if (m.empty()) return "none";
  std::string s;
  auto add = [&s](const std::string& e) { s += (s.empty() ? "" : " ") + e; };
  if (m.outside_sector) add("outside_sector");
  if (m.annotations) add("annotations");
  for (const auto& r : m.rects) add(rect_text(r));
  return s;
}

MaskSpec parse_mask_text(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> entries;
  for (std::string e; in >> e;) entries.push_back(e);
  return parse_mask(entries);
}

cv::Mat scan_sector(const cv::Mat& bgr8) {
  CV_Assert(bgr8.type() == CV_8UC3);
  std::vector<cv::Mat> ch;
  cv::split(bgr8, ch);
  cv::Mat brightest = cv::max(cv::max(ch[0], ch[1]), ch[2]);
  cv::Mat picture = brightest > kBlack, opened;
  cv::morphologyEx(picture, opened, cv::MORPH_OPEN,
                   cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(kSectorOpen, kSectorOpen)));
  cv::Mat labels, stats, centroids;
  const int n = cv::connectedComponentsWithStats(opened, labels, stats, centroids, 8, CV_32S);
  cv::Mat sector(bgr8.size(), CV_8U, cv::Scalar(0));
  int best = 0;
  for (int i = 1; i < n; ++i)
    if (best == 0 || stats.at<int>(i, cv::CC_STAT_AREA) > stats.at<int>(best, cv::CC_STAT_AREA)) best = i;
  if (best == 0) return cv::Mat(bgr8.size(), CV_8U, cv::Scalar(255));  // all black: nothing to tell apart
  std::vector<cv::Point> points;
  cv::findNonZero(labels == best, points);
  std::vector<cv::Point> hull;
  cv::convexHull(points, hull);
  cv::fillConvexPoly(sector, hull, cv::Scalar(255));
  return sector;
}

cv::Mat annotation_marks(const cv::Mat& bgr8) {
  CV_Assert(bgr8.type() == CV_8UC3);
  cv::Mat grey, tophat;
  cv::cvtColor(bgr8, grey, cv::COLOR_BGR2GRAY);
  cv::morphologyEx(grey, tophat, cv::MORPH_TOPHAT,
                   cv::getStructuringElement(cv::MORPH_RECT, cv::Size(kMarkWindow, kMarkWindow)));
  cv::Mat marks(bgr8.size(), CV_8U, cv::Scalar(0));
  for (int y = 0; y < bgr8.rows; ++y) {
    const auto* p = bgr8.ptr<cv::Vec3b>(y);
    const uchar* g = grey.ptr<uchar>(y);
    const uchar* t = tophat.ptr<uchar>(y);
    uchar* m = marks.ptr<uchar>(y);
    for (int x = 0; x < bgr8.cols; ++x) {
      const int lo = std::min({p[x][0], p[x][1], p[x][2]}), hi = std::max({p[x][0], p[x][1], p[x][2]});
      m[x] = (g[x] >= kMarkGrey && hi - lo <= kMarkChroma && t[x] >= kMarkTopHat) ? 255 : 0;
    }
  }
  cv::dilate(marks, marks,
             cv::getStructuringElement(cv::MORPH_RECT, cv::Size(2 * kMarkGrow + 1, 2 * kMarkGrow + 1)));
  return marks;
}

cv::Mat rect_marks(const cv::Mat& bgr8, const std::vector<MaskRect>& rects) {
  cv::Mat marks(bgr8.size(), CV_8U, cv::Scalar(0));
  const cv::Rect image(0, 0, bgr8.cols, bgr8.rows);
  for (const auto& r : rects) {
    const int x = r.x < 0 ? bgr8.cols + r.x : r.x, y = r.y < 0 ? bgr8.rows + r.y : r.y;
    marks(cv::Rect(x, y, r.width, r.height) & image).setTo(255);
  }
  return marks;
}

cv::Mat apply_mask(const cv::Mat& bgr8, const MaskSpec& m) {
  if (m.empty()) return bgr8;
  CV_Assert(bgr8.type() == CV_8UC3);
  cv::Mat out = bgr8.clone();
  cv::Mat hole = rect_marks(bgr8, m.rects);
  if (m.annotations) hole |= annotation_marks(bgr8);
  cv::Mat visible = hole == 0;
  if (m.outside_sector) {
    const cv::Mat sector = scan_sector(bgr8);
    out.setTo(cv::Scalar::all(0), sector == 0);
    hole &= sector;     // outside is black, not filled,
    visible &= sector;  // and never a source: a hole on the sector's edge fills from the scan
  }
  if (cv::countNonZero(hole) > 0) fill_holes(out, hole, visible);
  return out;
}

}  // namespace oess::data
