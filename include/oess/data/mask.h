#pragma once
// oess/data/mask.h — hiding what the scanner drew on the picture (text, calipers, logos, the frame around the
// scan) before features and heat maps see it, so a model cannot learn from, and a heat map cannot land on,
// burned-in annotations (issue #32; measured on BUS-BRA in docs/scoring.md).
//
// `data.mask` lists any of:
//   outside_sector  everything outside the scan sector becomes black. The sector is the largest region of
//                   non-black pixels (max channel > 12) once thin marks are opened away (9x9 ellipse), filled
//                   to its convex hull: a linear probe's rectangle or a curved probe's fan. Text, depth
//                   scales and colour bars beside the scan go; nothing inside it changes.
//   annotations     thin, light, neutral marks inside the picture: burned-in text, caliper crosses, tick
//                   marks. Rule: a pixel is a mark when it is light (grey >= 170), neutral (max - min channel
//                   <= 24, so Doppler colour never is) and stands >= 100 grey levels above the opening of
//                   its 5x5 neighbourhood (a white top-hat: strokes up to 4 px wide; speckle and saturated
//                   tissue, wider and graded, do not pass); the marks are then grown by one pixel (their
//                   anti-aliased edges and drop shadows).
//   rect:X,Y,W,H    a fixed region (a logo, a text field) in pixels of the decoded image; a negative X or Y
//                   counts from the right or bottom edge (rect:-40,0,40,20: the top-right 40x20 corner,
//                   whatever the image's width). Clipped to the image.
// Hidden pixels inside the sector are filled from their surroundings (a normalised box average of the
// visible pixels, grown inwards until the hole is closed), so the network sees tissue-like grey, not a
// black hole with edges of its own. The mask is worked out on the decoded image, before any crop (a
// colour-box crop is found on the unmasked image: its outline is a light neutral line).
#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

namespace oess::data {

struct MaskRect {
  int x = 0, y = 0, width = 0, height = 0;  // x, y < 0: from the right / bottom edge
};

struct MaskSpec {
  bool outside_sector = false;
  bool annotations = false;
  std::vector<MaskRect> rects;
  bool empty() const { return !outside_sector && !annotations && rects.empty(); }
};

// Entries as in data.mask (an empty list or ["none"]: no mask). requires: each entry valid, else UsageError
// naming it, its message prefixed with `source` (the key or option) and ": ".
MaskSpec parse_mask(const std::vector<std::string>& entries, const std::string& source = "data.mask");
// One line, the entries in a fixed order separated by spaces ("none" when empty); parse_mask_text reads it
// back. It is what model files and feature-cache keys record.
std::string mask_text(const MaskSpec& m);
MaskSpec parse_mask_text(const std::string& text);

// CV_8U masks of the image's size. scan_sector: 255 inside the sector (the whole image when nothing is
// brighter than black); the other two: 255 where their rule hides the pixel. requires: CV_8UC3.
cv::Mat scan_sector(const cv::Mat& bgr8);
cv::Mat annotation_marks(const cv::Mat& bgr8);
cv::Mat rect_marks(const cv::Mat& bgr8, const std::vector<MaskRect>& rects);

// The image with the mask applied (a new image; the input is untouched), or bgr8 itself when m is empty.
cv::Mat apply_mask(const cv::Mat& bgr8, const MaskSpec& m);

}  // namespace oess::data
