// `oess data frames`: the frames a clip is read as (data.clip sampling), as PNG files to look at.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <memory>

#include "commands.h"
#include "oess/core/error.h"
#include "oess/data/clip.h"
#include "oess/data/image.h"

namespace oess::cli {
namespace {

namespace fs = std::filesystem;

struct FramesArgs {
  std::vector<std::string> clips;
  std::string out;
  data::ClipSampling sampling;
};

void run_frames(const FramesArgs& a) {
  if (a.sampling.frames < 1) throw UsageError("--frames must be >= 1");
  if (a.sampling.every < 0 || a.sampling.max_frames < 1)
    throw UsageError("--every must be >= 0 and --max-frames >= 1");
  if (!a.out.empty()) {
    std::error_code ec;
    fs::create_directories(a.out, ec);
    if (!fs::is_directory(a.out)) throw Error(fmt::format("{}: cannot create the folder", a.out));
  }
  for (const auto& path : a.clips) {
    const auto c = data::decode_clip(path, a.sampling);
    const double seconds = c.info.fps > 0 ? c.info.frames / c.info.fps : 0;
    fmt::print("{}: {} {} frame(s), {}x{}{}; sampled {}: frames {}\n", path, c.info.dicom ? "DICOM" : "video",
               c.info.frames, c.info.width, c.info.height,
               c.info.fps > 0 ? fmt::format(", {:.2f} fps, {:.2f} s", c.info.fps, seconds) : "",
               c.index.size(), fmt::join(c.index, " "));
    if (a.out.empty()) continue;
    const std::string stem = fs::path(path).stem().string();
    for (size_t i = 0; i < c.frames.size(); ++i)
      data::write_image_atomic((fs::path(a.out) / fmt::format("{}_f{:05d}.png", stem, c.index[i])).string(),
                               c.frames[i]);
  }
}

}  // namespace

void add_data_frames_command(CLI::App& data) {
  auto a = std::make_shared<FramesArgs>();
  auto* sub = data.add_subcommand(
      "frames", "Say what a clip holds (frames, size, rate) and write the frames data.clip samples from it");
  sub->add_option("clips", a->clips, "video files (MP4, AVI, MOV, MKV) or multi-frame DICOM")->required();
  sub->add_option("--frames", a->sampling.frames, "N evenly spaced frames (as data.clip.frames)")
      ->capture_default_str();
  sub->add_option("--every", a->sampling.every, "every K-th frame instead (as data.clip.every; 0: off)")
      ->capture_default_str();
  sub->add_option("--max-frames", a->sampling.max_frames, "cap for --every")->capture_default_str();
  sub->add_option("--out", a->out,
                  "folder for NAME_fINDEX.png, one per sampled frame (8-bit BGR as decoded)");
  sub->callback([a] { run_frames(*a); });
}

}  // namespace oess::cli
