#pragma once
// oess/data/clip.h — cine loops (issue #33): video files (MP4, AVI, MOV, MKV through OpenCV's FFmpeg
// backend) and multi-frame DICOM, one clip = one grade, read as a few sampled frames.
//
// is_video_file(path)   by extension (.mp4 .m4v .avi .mov .mkv, any case): what OpenCV's imread cannot read.
// is_clip_file(path)    a video file, or a DICOM file with more than one frame (reads its header).
// sample_indices(n, s)  which of n frames a clip is read as:
//                         frames N (every = 0): N evenly spaced, the middle frame of each of N equal runs,
//                           index floor((2i + 1) n / 2N), i = 0..N-1; all n when n <= N (the caller warns);
//                         every K: frames 0, K, 2K, ..., at most max_frames of them.
// decode_clip(path, s)  the sampled frames as 8-bit BGR (image.h's conversions), with the clip's frame
//                       count, frame rate and size. A video is decoded once, front to back, keeping the
//                       sampled frames (the container's frame count is only a hint: when the decoded count
//                       differs, the indices are recomputed from the true count, decoding again if needed);
//                       a DICOM is read once (dicom.h).
//   errors (oess::Error naming the file): a file OpenCV cannot open as video (missing, not a video, a codec
//   its FFmpeg lacks), no decodable frame, frames of different sizes, and DICOM's own (dicom.h).
#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

namespace oess::data {

struct DecodeNotes;

struct ClipSampling {
  int frames = 8;       // N evenly spaced (used when every = 0)
  int every = 0;        // > 0: every K-th frame instead
  int max_frames = 64;  // cap for `every`
};

// data.clip: how a run reads clips. Videos are always clips; a multi-frame DICOM is one when `dicom` is set
// (else data.dicom_frame picks one frame of it, as before clips existed).
struct ClipOptions {
  ClipSampling sampling;
  std::string pooling = "max";  // over the sampled frames' pooled features: mean | max
  bool dicom = false;
  // none: one feature row per clip (pooling above). max_grade | mean_probability: a frame-level classifier
  // (trained with the clip's grade on every sampled frame) whose per-frame probabilities give the clip's by
  // this rule (train/classifier.h); the clip's row is then its frames' rows, [slots(), C].
  std::string aggregate = "none";
  bool aggregated() const { return aggregate != "none"; }
  // Rows a clip's feature row holds with `aggregate`: frames, or max_frames with `every`.
  int slots() const;
  // One line for cache keys and model files, e.g. "frames=8 every=0 max_frames=64 pooling=max dicom=0"
  // (then " aggregate=max_grade" when set).
  std::string text() const;
  // What a clip's feature row depends on, for cache keys: text() with the rule itself left out (both rules
  // read the same frame rows), " aggregate=frames" instead.
  std::string feature_text() const;
};
bool is_aggregate_rule(const std::string& s);  // max_grade | mean_probability
// Whether `path` is read as a clip under `o` (a DICOM's header is read to count its frames).
bool is_clip(const std::string& path, const ClipOptions& o);
// The text() form back. errors: UsageError naming what does not parse.
ClipOptions parse_clip_text(const std::string& text);

struct ClipInfo {
  int frames = 0;  // decoded frame count
  double fps = 0;  // the container's frame rate (0: unknown, and for DICOM)
  int width = 0, height = 0;
  bool dicom = false;
};

struct Clip {
  ClipInfo info;
  std::vector<int> index;       // which frames, ascending
  std::vector<cv::Mat> frames;  // CV_8UC3, one per index
};

bool is_video_file(const std::string& path);
// A clip's frame count without decoding it: a DICOM's header, a video container's count (only a hint: what
// decode_clip decodes is the truth); -1 for a video that does not open. errors: DICOM's (dicom.h).
int clip_frame_count_hint(const std::string& path);
bool is_clip_file(const std::string& path);
std::vector<int> sample_indices(int n, const ClipSampling& s);
Clip decode_clip(const std::string& path, const ClipSampling& s, DecodeNotes* notes = nullptr);
// Frame `index` of a clip (BGR 8-bit). errors: as decode_clip, and an index beyond the clip (naming both).
cv::Mat decode_clip_frame(const std::string& path, int index);
// A picture for a manifest row: a video's middle frame, else decode_image(path, notes, frame).
cv::Mat decode_picture(const std::string& path, DecodeNotes* notes = nullptr, int frame = 0);

}  // namespace oess::data
