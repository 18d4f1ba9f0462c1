// Cine loops: video and multi-frame DICOM read as sampled frames (data/clip.h).
#include "oess/data/clip.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/videoio.hpp>

#include "oess/core/error.h"
#include "oess/data/dicom.h"
#include "oess/data/image.h"

namespace oess::data {

namespace fs = std::filesystem;

namespace {

// Opens `path` with OpenCV's FFmpeg backend, OpenCV's own log lines silenced: it logs its own ("Could not
// find decoder for codec_id=0") before failing, and oess's error says it once, naming the file. `error`:
// the text of OpenCV's exception, when it threw one.
bool open_video(cv::VideoCapture& cap, const std::string& path, std::string* error = nullptr) {
  const auto before = cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
  try {
    cap.open(path, cv::CAP_FFMPEG);
  } catch (const cv::Exception& e) {
    if (error) *error = e.err;
  }
  cv::utils::logging::setLogLevel(before);
  return cap.isOpened();
}

// A DICOM's frame count, from its header alone.
int dicom_frame_count(const std::string& path) {
  int frames = 1;
  read_dicom_frames(
      path, [](int) { return std::vector<int>{}; }, &frames);
  return frames;
}

// Decodes `path` front to back, keeping the frames at pick(the container's frame count) (ascending), in
// `want` and `kept`; returns the number of frames decoded.
int read_video(const std::string& path, const std::function<std::vector<int>(int)>& pick,
               std::vector<int>& want, std::vector<cv::Mat>& kept, double* fps) {
  cv::VideoCapture cap;
  std::string error;
  if (!open_video(cap, path, &error) && !error.empty())
    throw Error(fmt::format("{}: cannot open the video ({})", path, error));
  if (!cap.isOpened())
    throw Error(fmt::format(
        "{}: cannot open the video (not MP4, AVI, MOV or MKV, truncated, or a codec this FFmpeg lacks)",
        path));
  if (fps) *fps = cap.get(cv::CAP_PROP_FPS);
  want = pick(std::max(0, static_cast<int>(cap.get(cv::CAP_PROP_FRAME_COUNT))));
  kept.clear();
  size_t next = 0;
  int n = 0;
  cv::Mat frame;
  try {
    // grab() decodes; only the kept frames pay for retrieve()'s colour conversion.
    while (cap.grab()) {
      if (next < want.size() && want[next] == n) {
        if (!cap.retrieve(frame) || frame.empty())
          throw Error(fmt::format("{}: frame {} decoded but could not be converted", path, n));
        kept.push_back(frame.clone());
        ++next;
      }
      ++n;
    }
  } catch (const cv::Exception& e) {
    throw Error(fmt::format("{}: decoding frame {} failed ({})", path, n, e.err));
  }
  return n;
}

}  // namespace

bool is_video_file(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".mp4" || ext == ".m4v" || ext == ".avi" || ext == ".mov" || ext == ".mkv";
}

bool is_clip_file(const std::string& path) {
  if (is_video_file(path)) return true;
  return is_dicom_file(path) && dicom_frame_count(path) > 1;
}

int clip_frame_count_hint(const std::string& path) {
  if (!is_video_file(path)) return dicom_frame_count(path);
  cv::VideoCapture cap;
  return open_video(cap, path) ? std::max(0, static_cast<int>(cap.get(cv::CAP_PROP_FRAME_COUNT))) : -1;
}

std::string ClipOptions::text() const {
  // aggregate only when set: the text (and so the cache keys) of pooled runs stays as it was.
  return fmt::format("frames={} every={} max_frames={} pooling={} dicom={}{}", sampling.frames,
                     sampling.every, sampling.max_frames, pooling, dicom ? 1 : 0,
                     aggregated() ? " aggregate=" + aggregate : std::string());
}

std::string ClipOptions::feature_text() const {
  ClipOptions o = *this;
  if (aggregated()) o.aggregate = "frames";
  return o.text();
}

int ClipOptions::slots() const { return sampling.every > 0 ? sampling.max_frames : sampling.frames; }

bool is_aggregate_rule(const std::string& s) { return s == "max_grade" || s == "mean_probability"; }

ClipOptions parse_clip_text(const std::string& text) {
  ClipOptions o;
  char pooling[16] = {0}, aggregate[24] = {0};
  int dicom = 0;
  const int got =
      std::sscanf(text.c_str(), "frames=%d every=%d max_frames=%d pooling=%15s dicom=%d aggregate=%23s",
                  &o.sampling.frames, &o.sampling.every, &o.sampling.max_frames, pooling, &dicom, aggregate);
  if (got < 5 || (std::string(pooling) != "mean" && std::string(pooling) != "max") ||
      (got == 6 && !is_aggregate_rule(aggregate)))
    throw UsageError(
        fmt::format("clip options \"{}\": expected frames=N every=K max_frames=M "
                    "pooling=mean|max dicom=0|1 [aggregate=max_grade|mean_probability]",
                    text));
  o.pooling = pooling;
  o.dicom = dicom != 0;
  if (got == 6) o.aggregate = aggregate;
  return o;
}

bool is_clip(const std::string& path, const ClipOptions& o) {
  if (is_video_file(path)) return true;
  return o.dicom && is_clip_file(path);
}

std::vector<int> sample_indices(int n, const ClipSampling& s) {
  std::vector<int> idx;
  if (n <= 0) return idx;
  if (s.every > 0) {
    for (int i = 0; i < n && static_cast<int>(idx.size()) < std::max(1, s.max_frames); i += s.every)
      idx.push_back(i);
    return idx;
  }
  const int want = std::max(1, s.frames);
  if (n <= want) {
    for (int i = 0; i < n; ++i) idx.push_back(i);
    return idx;
  }
  for (int i = 0; i < want; ++i)
    idx.push_back(static_cast<int>((2 * static_cast<int64_t>(i) + 1) * n / (2 * static_cast<int64_t>(want))));
  return idx;
}

cv::Mat decode_clip_frame(const std::string& path, int index) {
  std::vector<cv::Mat> raw;
  std::vector<int> got;
  int n = 0;
  if (is_dicom_file(path)) {
    raw = read_dicom_frames(
        path, [index](int) { return std::vector<int>{index}; }, &n);
  } else {
    n = read_video(
        path, [index](int) { return std::vector<int>{index}; }, got, raw, nullptr);
    if (raw.empty())
      throw Error(fmt::format("{}: frame {} requested, the clip has {} frame(s)", path, index, n));
  }
  return to_bgr8(raw.front(), fmt::format("{} (frame {})", path, index));
}

cv::Mat decode_picture(const std::string& path, DecodeNotes* notes, int frame) {
  if (!is_video_file(path)) return decode_image(path, notes, frame);
  ClipSampling middle;
  middle.frames = 1;
  return decode_clip(path, middle, notes).frames.front();
}

Clip decode_clip(const std::string& path, const ClipSampling& s, DecodeNotes* notes) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error(fmt::format("{}: clip file does not exist", path));
  Clip c;
  std::vector<cv::Mat> raw;
  if (is_dicom_file(path)) {
    c.info.dicom = true;
    raw = read_dicom_frames(
        path,
        [&](int n) {
          c.index = sample_indices(n, s);
          return c.index;
        },
        &c.info.frames);
  } else {
    const int n = read_video(
        path, [&](int hint) { return sample_indices(hint, s); }, c.index, raw, &c.info.fps);
    if (n == 0) throw Error(fmt::format("{}: no decodable frame", path));
    const auto exact = sample_indices(n, s);
    if (exact != c.index || raw.size() != exact.size())  // the container's count was off: decode again
      read_video(
          path, [&](int) { return exact; }, c.index, raw, nullptr);
    c.info.frames = n;
  }
  if (raw.empty()) throw Error(fmt::format("{}: no decodable frame", path));
  for (size_t i = 0; i < raw.size(); ++i) {
    c.frames.push_back(to_bgr8(raw[i], fmt::format("{} (frame {})", path, c.index[i]), notes));
    if (c.frames.back().size() != c.frames.front().size())
      throw Error(fmt::format("{}: frame {} is {}x{}, frame {} {}x{}", path, c.index[i], c.frames.back().cols,
                              c.frames.back().rows, c.index[0], c.frames.front().cols,
                              c.frames.front().rows));
  }
  c.info.width = c.frames.front().cols;
  c.info.height = c.frames.front().rows;
  return c;
}

}  // namespace oess::data
