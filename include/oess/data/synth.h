#pragma once
// oess/data/synth.h — synthetic colour-Doppler joint images with OESS Doppler ground truth.
//
// The image model (docs/synthetic.md has pictures and the full story):
//   B-mode  a linear-probe field on black: log-compressed, depth-attenuated, spatially correlated speckle
//           (Rayleigh-like) over an echogenicity map — skin line, subcutaneous layers, a bright bone surface
//           with a dip at the joint and an acoustic shadow beneath it, a hypoechoic synovial recess over the
//           joint (the synovium), the joint space.
//   Colour  a colour box (light-grey 1-px outline) around the recess, a colour bar right of the field, flow
//           in red/blue shades inside the box. Vessels outside the synovium (subcutaneous) are drawn too and
//           must NOT count.
//   Grades  (OESS Doppler; "spot" = one connected flow region inside the synovium):
//           0  no flow in the synovium;
//           1  up to 3 single spots, or 1 confluent + up to 2 single, or 2 confluent;
//           2  more than grade 1, but flow over < 50% of the synovium;
//           3  flow over >= 50% of the synovium.
//           single spot: area <= kSingleSpotArea px; confluent: <= kConfluentSpotArea px (at 384x288; both
//           scale with image area). Every rendered image is measured and re-drawn until its measured flow
//           pattern has the intended grade, so the label is right by construction and checkable.
//   People  patients differ in gain, dynamic range, depth, recess size and disease activity (active patients
//           have more high-grade images); joints: wrist_rc (radiocarpal-intercarpal), wrist_ru (radioulnar),
//           mcp, pip — each its own bone geometry.
//   Noise   optional label noise: with probability p the recorded score is moved one grade (observer
//           disagreement); the true grade is kept in the `true_score` column.
#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

namespace oess::data {

constexpr int kSynthWidth = 384, kSynthHeight = 288;
constexpr double kSingleSpotArea = 30, kConfluentSpotArea = 150;  // px at 384x288

struct PatientStyle {
  double gain = 1.0;          // overall brightness
  double dynamic_range = 40;  // log compression strength
  double depth = 0.5;         // bone depth, fraction of the field height
  double recess = 1.0;        // synovial recess size factor
  double activity = 0.5;      // disease activity 0..1
};

PatientStyle patient_style(uint64_t seed);

struct SynthImage {
  cv::Mat bgr;          // CV_8UC3
  cv::Mat synovium;     // CV_8U, 255 inside the synovium
  cv::Rect colour_box;  // inside of the outline
  int grade = 0;
  double doppler_fraction = 0;  // flow pixels in the synovium / synovium pixels
};

// requires: grade 0..3, joint one of wrist_rc | wrist_ru | mcp | pip, width >= 192, height >= 144.
// flow_seed != 0: the flow is drawn from it instead of from `seed`, the anatomy and B-mode staying the ones
// `seed` makes (the frames of one clip: the probe holds still while the flow changes).
SynthImage render_synthetic(int grade, const std::string& joint, const PatientStyle& style, uint64_t seed,
                            int width = kSynthWidth, int height = kSynthHeight, uint64_t flow_seed = 0);

// Synthetic cine loops (issue #33): `frames` frames of one joint under a still probe whose synovial flow
// pulses: in each period of kPulsePeriod frames, kPulsePeak frames (from a seeded phase) show flow of the
// clip's grade, the others none (grade 0: vessels outside the synovium only). So the clip's grade is in
// about a quarter of its frames, and its middle frame may show none of it. Returns the frames and which
// show the grade.
constexpr int kPulsePeriod = 8, kPulsePeak = 2;
struct SynthClip {
  std::vector<cv::Mat> frames;
  std::vector<bool> peak;
  double doppler_fraction = 0;  // the largest of its frames'
};
SynthClip render_clip(int grade, const std::string& joint, const PatientStyle& style, uint64_t seed,
                      int frames, int width = kSynthWidth, int height = kSynthHeight);

// What the OESS definitions see in an image: flow pixels (chromatic: max - min channel >= 60) inside the
// synovium, their fraction of it, and their connected regions (8-connectivity) by size.
struct DopplerEvidence {
  double fraction = 0;
  int flow_pixels = 0, synovium_pixels = 0;
  int singles = 0, confluents = 0, larger = 0;  // regions by area class
};
DopplerEvidence measure_doppler(const cv::Mat& bgr8, const cv::Mat& synovium, int width = kSynthWidth,
                                int height = kSynthHeight);
// The grade those observations mean (the definitions above, as code).
int grade_of(const DopplerEvidence& e);

// A synthetic reader (issue #34): grade = the true grade + bias + noise * N(0, 1), rounded to the nearest
// grade and kept in 0..3; with probability `missing` no grade (an empty cell). Seeded per reader and image.
struct SynthReader {
  std::string name;
  double bias = 0, noise = 0, missing = 0;
};
// NAME:BIAS:NOISE[:MISSING], e.g. strict:0.6:0.4 (UsageError naming the text).
SynthReader parse_synth_reader(const std::string& text);
int synth_reader_grade(const SynthReader& r, int truth, uint64_t seed);  // -1: not graded

struct SynthOptions {
  std::string out_dir;
  std::array<int, 4> counts{742, 425, 307, 220};  // the study's Table 1
  uint64_t seed = 0;
  double label_noise = 0;
  int width = kSynthWidth, height = kSynthHeight;
  int patients = 40;
  int threads = 1;
  bool force = false;  // overwrite an existing dataset in out_dir
  int clip_frames =
      0;  // > 0: each row a clip (render_clip) of this many frames, images/NAME.avi (FFV1, lossless)
  std::vector<SynthReader> readers;  // one labels.csv column each, after the others
};

struct SynthSummary {
  int images = 0;
  double seconds = 0;
  std::array<int, 4> recorded{}, truth{};
  int relabelled = 0;
};

// Writes out_dir/images/*.png and out_dir/labels.csv (manifest format + true_score, doppler_fraction), the
// CSV last and atomically. requires: out_dir without a labels.csv unless force. progress(done, total) is
// called from worker threads, serialised.
SynthSummary generate_dataset(const SynthOptions& o, const std::function<void(int, int)>& progress = {});

// One row per grade, `per_grade` images each, for documentation.
cv::Mat synth_montage(int per_grade, uint64_t seed, int tile_width = 192);

}  // namespace oess::data
