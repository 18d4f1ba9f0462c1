#pragma once
// oess/data/dataset_check.h — a look at a dataset before hours of extraction: what every image is, which
// cannot be read, and which images are the same picture twice (docs/data.md, "Checking a dataset").
//
// inspect_images(m, threads, progress)
//   Decodes every image of the manifest (threads decode and hash at once; progress(done, total) on the
//   caller's thread is not guaranteed: it is called under a lock). Per image: the SHA-256 of the file's
//   bytes, its size, its colour mode ("grey" — one channel, or three equal ones —, "colour", "16-bit"),
//   whether find_colour_box finds a Doppler box, and two fingerprints of the decoded picture: a 256-bit
//   gradient hash (16 x 16 comparisons of neighbouring cells of a 17 x 16 grey thumbnail) and a 32 x 32
//   colour thumbnail. An image that cannot be decoded gets its error message and no fingerprints; the
//   others are still inspected (every unreadable file is listed, not just the first).
//
// find_duplicates(m, images, part)
//   Groups images that show the same picture: exact — the same file bytes — or near — gradient hashes
//   within kNearHashBits bits AND thumbnails whose mean absolute difference is at most kNearThumbDiff grey
//   levels (of 255). Both thresholds were set on the synthetic set (docs/data.md gives the distances
//   measured): a JPEG re-encode at quality 80 resized by 2 px stays within them, different images of one
//   patient do not. Groups are the connected sets of such pairs, each member listed; a group is flagged
//   across grades (a labelling conflict), across patients, and across parts when `part` (one entry per
//   sample: a split part or a fold number; empty: not checked) differs inside it (leakage).
//
// summarise(...) -> the lines `oess data check` prints and the report's dataset section shows.
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

#include "oess/data/manifest.h"

namespace oess::data {

inline constexpr int kNearHashBits = 32;       // of 256
inline constexpr double kNearThumbDiff = 3.0;  // mean |difference| of 32 x 32 x 3 thumbnails, 0..255

struct ImageFacts {
  std::string error;  // non-empty: could not be decoded (the message names the file)
  std::string sha256;
  int width = 0, height = 0;
  std::string mode;  // grey | colour | 16-bit
  bool colour_box = false;
  std::array<uint64_t, 4> hash{};  // 256-bit gradient hash
  std::vector<uint8_t> thumb;      // 32 x 32 x 3 BGR
};

std::vector<ImageFacts> inspect_images(const Manifest& m, int threads,
                                       const std::function<void(int64_t, int64_t)>& progress = {});

struct DuplicateGroup {
  bool exact = true;  // every member has the same bytes
  std::vector<size_t> samples;
  bool across_grades = false, across_patients = false, across_parts = false;
};

std::vector<DuplicateGroup> find_duplicates(const Manifest& m, const std::vector<ImageFacts>& images,
                                            const std::vector<int>& part = {});

struct DatasetSummary {
  int images = 0, unreadable = 0, colour_boxes = 0;
  std::array<int, kNumGrades> per_grade{}, patients_per_grade{};
  std::map<std::string, int> sizes, modes;  // "W x H" -> images; mode -> images
  std::vector<std::string> errors;          // every unreadable file
  std::vector<DuplicateGroup> duplicates;
  // The lines of the summary: counts, sizes (the 6 most common and how many others), modes, colour
  // boxes, then every duplicate group with its files. `part_names` name the values of the part vector
  // given to find_duplicates (e.g. train/val/test, or fold 1..K).
  std::vector<std::string> lines(const Manifest& m, const std::vector<std::string>& part_names,
                                 const std::vector<int>& part) const;
  int groups_across(bool DuplicateGroup::*flag) const;
};

DatasetSummary summarise(const Manifest& m, const std::vector<ImageFacts>& images,
                         std::vector<DuplicateGroup> duplicates);

// The 256-bit gradient hash and the thumbnail of a decoded 8-bit BGR image (exposed for tests).
std::array<uint64_t, 4> gradient_hash(const cv::Mat& bgr8);
int hash_distance(const std::array<uint64_t, 4>& a, const std::array<uint64_t, 4>& b);

}  // namespace oess::data
