// Decoding clips against decoding the same frames as PNG files (issue #33), in one process, alternating.
//   oess_bench_clips --clips DIR --pngs DIR [--frames 8] [--rounds 3]
// DIR of clips: the video files (every file); DIR of PNGs: the frames each clip is sampled at, as PNG (what
// bench_clips.py writes). Prints JSON: per round the seconds for every clip (decode_clip, `frames` sampled)
// and for every PNG (decode_image), and the ratio clip / PNG (< 1: the clips decode faster).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <filesystem>

#include "oess/data/clip.h"
#include "oess/data/image.h"

namespace fs = std::filesystem;

namespace {

std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file()) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

template <class F>
double seconds(F&& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"clip decoding vs PNG decoding"};
  std::string clips_dir, pngs_dir;
  int frames = 8, rounds = 3;
  app.add_option("--clips", clips_dir)->required();
  app.add_option("--pngs", pngs_dir)->required();
  app.add_option("--frames", frames);
  app.add_option("--rounds", rounds);
  CLI11_PARSE(app, argc, argv);
  const auto clips = files_in(clips_dir), pngs = files_in(pngs_dir);
  oess::data::ClipSampling s;
  s.frames = frames;
  std::string json = "{\"clips\": " + std::to_string(clips.size()) +
                     ", \"pngs\": " + std::to_string(pngs.size()) + ", \"rounds\": [";
  size_t decoded = 0;
  for (int r = 0; r < rounds; ++r) {
    const double tc = seconds([&] {
      for (const auto& c : clips) decoded += oess::data::decode_clip(c, s).frames.size();
    });
    const double tp = seconds([&] {
      for (const auto& p : pngs) decoded += oess::data::decode_image(p).total() > 0 ? 1 : 0;
    });
    json += fmt::format("{}{{\"clip_s\": {:.4f}, \"png_s\": {:.4f}, \"ratio\": {:.3f}}}", r ? ", " : "", tc,
                        tp, tc / tp);
  }
  fmt::print("{}], \"frames_decoded\": {}}}\n", json, decoded);
}
