#pragma once
// oess/data/dataset_check.h — a look at a dataset before hours of extraction: what every image is, which
// cannot be read, and which images are the same picture twice (docs/data.md, "Checking a dataset").
//
// inspect_images(m, threads, progress)
//   Decodes every image of the manifest (threads decode and hash at once; progress(done, total) on the
//   caller's thread is not guaranteed: it is called under a lock). Per image: the SHA-256 of the file's
//   bytes, its size, its colour mode ("grey" — one channel, or three equal ones —, "colour", "16-bit"),
//   whether find_colour_box finds a Doppler box (never in a grey image: without colour there is no Doppler
//   signal, only lines a box-finder can mistake for one), and two fingerprints of the decoded picture: a
//   256-bit gradient hash (16 x 16 comparisons of neighbouring cells of a 17 x 16 grey thumbnail) and a 32 x
//   32 colour thumbnail. An image that cannot be decoded gets its error message and no fingerprints; the
//   others are still inspected (every unreadable file is listed, not just the first).
//
// find_duplicates(m, images, part)
//   Groups images that show the same picture: exact — the same file bytes — or near — gradient hashes
//   within kNearHashBits bits AND thumbnails whose mean absolute difference is at most kNearThumbDiff grey
//   levels (of 255), confirmed at full resolution: detail_correlation of the two decoded images at least
//   kNearDetailCorrelation. The fingerprints find candidates fast; the confirmation tells a copy (its speckle
//   is the same speckle) from another scan of the same layout (same text and outlines, other speckle).
//   docs/data.md gives the figures measured on BUS-BRA and synthetic sets. Groups are the connected sets of
//   such pairs, each member listed; a group is flagged across grades (a labelling conflict), across patients,
//   and across parts when `part` (one entry per sample: a split part or a fold number; empty: not checked)
//   differs inside it (leakage).
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

inline constexpr int kNearHashBits = 32;               // of 256
inline constexpr double kNearThumbDiff = 3.0;          // mean |difference| of 32 x 32 x 3 thumbnails, 0..255
inline constexpr double kNearDetailCorrelation = 0.6;  // full resolution, see detail_correlation

// The Pearson correlation of the two images' fine detail: grey, b resized (bilinear) to a's size, each minus
// its Gaussian blur (sigma 2 px). A re-encoded or resized copy keeps its speckle (BUS-BRA: 0.77 for a JPEG at
// half size, 0.94-0.98 for re-encodes and 2-3 px resizes); another scan has other speckle (BUS-BRA: at
// most 0.10; synthetic scans sharing text and outlines: at most 0.32).
double detail_correlation(const cv::Mat& a, const cv::Mat& b);

struct ImageFacts {
  std::string error;  // non-empty: could not be decoded (the message names the file)
  std::string sha256;
  int width = 0, height = 0;
  std::string mode;  // grey | colour | 16-bit
  bool colour_box = false;
  std::array<uint64_t, 4> hash{};  // 256-bit gradient hash
  std::vector<uint8_t> thumb;      // 32 x 32 x 3 BGR
  int frames = 0;                  // a clip (a video file): its frame count and rate; the facts above are of
  double fps = 0;                  // its middle frame (frames of one clip look alike: never its duplicates)
};

std::vector<ImageFacts> inspect_images(const Manifest& m, int threads,
                                       const std::function<void(int64_t, int64_t)>& progress = {});

struct DuplicateGroup {
  bool exact = true;  // every member has the same bytes
  std::vector<size_t> samples;
  double detail_correlation = 1;  // near groups: the lowest confirmed pair's
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
  int clips = 0, clip_frames_min = 0, clip_frames_max = 0;  // video files among the readable rows
  double clip_seconds_min = 0, clip_seconds_max = 0;        // (0 when a rate is unknown)
  // The lines of the summary: counts, sizes (the 6 most common and how many others), modes, colour
  // boxes, then every duplicate group with its files. `part_names` name the values of the part vector
  // given to find_duplicates (e.g. train/val/test, or fold 1..K).
  std::vector<std::string> lines(const Manifest& m, const std::vector<std::string>& part_names,
                                 const std::vector<int>& part) const;
  int groups_across(bool DuplicateGroup::*flag) const;
};

DatasetSummary summarise(const Manifest& m, const std::vector<ImageFacts>& images,
                         std::vector<DuplicateGroup> duplicates);

// For a look by eye: per group, its first two members side by side (each scaled to 360 px high, file names
// and grades written under them) as DIR/duplicate_<k>.png. Returns the files written.
std::vector<std::string> write_duplicate_pairs(const Manifest& m, const std::vector<DuplicateGroup>& groups,
                                               const std::string& dir);

// The 256-bit gradient hash and the thumbnail of a decoded 8-bit BGR image (exposed for tests).
std::array<uint64_t, 4> gradient_hash(const cv::Mat& bgr8);
int hash_distance(const std::array<uint64_t, 4>& a, const std::array<uint64_t, 4>& b);

}  // namespace oess::data
