#pragma once
// oess/data/image.h — decoding image files into the 8-bit BGR images preprocessing expects.
//
// decode_image(path, notes)
//   Reads PNG, JPEG, BMP, TIFF and DICOM (OpenCV; DICOM through GDCM), chosen by content, not file name.
//   ensures: a non-empty CV_8UC3 BGR image. Conversions, each counted in `notes` (reported once per run by
//   the caller, not per image): grey -> 3 equal channels; alpha dropped; 16-bit -> 8-bit by v * 255 / 65535
//   (rounded; the full 16-bit range maps to the full 8-bit range); a multi-page TIFF -> its first page; a
//   multi-frame DICOM -> frame `frame` (default 0, the first). DICOM is read with GDCM (dicom.h).
//   errors (oess::Error naming the file): missing, unreadable, not a supported image, an unsupported sample
//   type (e.g. 32-bit float).
//
// find_colour_box(bgr8) — the Doppler colour box, found by its outline, never by the flow inside it (so
//   the crop does not depend on the grade). Rule: a pixel is "outline" when it is light and neutral
//   (min channel >= 160, max - min <= 24). A row is a horizontal edge when its longest run of outline pixels
//   spans >= 20% of the width; a column likewise for the height. The box is the widest pair of edge rows
//   and pair of edge columns whose runs overlap into a closed rectangle at least 16 px on each side; the
//   crop is the inside of the outline. Returns an empty rectangle when there is none.
#include <atomic>
#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

#include "oess/data/mask.h"

namespace oess::data {

struct DecodeNotes {
  std::atomic<int> grey{0}, alpha{0}, sixteen_bit{0}, multi_frame{0}, no_colour_box{0};
  // One line naming each conversion made and how often, or "" when none.
  std::string summary() const;
};

// `frame` picks the frame of a multi-frame DICOM (default: the first); other formats use their first page.
cv::Mat decode_image(const std::string& path, DecodeNotes* notes = nullptr, int frame = 0);
// Encodes `image` in the format its extension names (.png, .tiff, ...; OpenCV's `params`, e.g.
// IMWRITE_PNG_COMPRESSION) and writes it whole or not at all (write_file_atomic). errors: Error naming the
// file when OpenCV cannot encode it.
void write_image_atomic(const std::string& path, const cv::Mat& image, const std::vector<int>& params = {});
// The conversions above on an already decoded image (e.g. a clip's frame); `path` names it in errors.
cv::Mat to_bgr8(cv::Mat img, const std::string& path, DecodeNotes* notes = nullptr);

cv::Rect find_colour_box(const cv::Mat& bgr8);

// How to crop a decoded image before preprocessing.
struct CropSpec {
  enum class Kind { kNone, kRect, kColourBox } kind = Kind::kNone;
  cv::Rect rect;  // kRect: x, y, width, height in pixels (clipped to the image)
};
// Parses "none", "colour_box" (or "color_box"), or "rect:X,Y,W,H". requires: valid, else UsageError.
CropSpec parse_crop(const std::string& spec);
// The rectangle the crop keeps; kColourBox falls back to the whole image (counted in notes) when no box is
// found. errors: a kRect wholly outside the image (Error naming both sizes).
cv::Rect crop_rect(const cv::Mat& bgr8, const CropSpec& crop, DecodeNotes* notes = nullptr);
// Applies the crop (a view of bgr8, no copy).
cv::Mat apply_crop(const cv::Mat& bgr8, const CropSpec& crop, DecodeNotes* notes = nullptr);

// What is done to a decoded image before preprocessing: the mask (mask.h), then the crop. The crop's
// rectangle is found on the unmasked image (a colour box's outline is itself a light neutral line).
struct Framing {
  MaskSpec mask;
  CropSpec crop;
};
cv::Mat apply_framing(const cv::Mat& bgr8, const Framing& f, DecodeNotes* notes = nullptr);

}  // namespace oess::data
