// `oess score`'s output beyond the table (score_output.h).
#include "score_output.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

#include "oess/data/image.h"
#include "oess/io/csv.h"
#include "oess/report/report.h"

namespace oess::cli {

namespace fs = std::filesystem;

// The names a model's run gave its scale and its binary split (report.scale, report.binary_names); models
// exported before they were recorded: the study's.
ScaleNames scale_names(const exporting::ModelFile& m) {
  ScaleNames n;
  if (auto s = m.meta.find("scale"); s != m.meta.end() && !s->second.empty()) n.scale = s->second;
  if (auto b = m.meta.find("binary_names"); b != m.meta.end()) {
    const auto j = nlohmann::json::parse(b->second, nullptr, /*allow_exceptions=*/false);
    if (j.is_array() && j.size() == 2 && j[0].is_string() && j[1].is_string())
      n.binary = {j[0].get<std::string>(), j[1].get<std::string>()};
  }
  return n;
}

// Clips: every sampled frame's scores (--frames-csv), and a plot of them over the clip per clip
// (--frames-plot).
void write_frames(const std::vector<exporting::ImageScore>& scores, bool four, const std::string& frames_csv,
                  const std::string& frames_plot) {
  std::vector<std::string> header = {"path", "frame"};
  if (four)
    for (const char* c : {"p0", "p1", "p2", "p3"}) header.push_back(c);
  else
    header.push_back("p1");
  for (const char* c : {"p_diseased", "key"}) header.push_back(c);
  io::CsvWriter csv(header);
  int clips = 0;
  for (const auto& s : scores) {
    if (s.key_frame < 0) continue;
    ++clips;
    for (size_t f = 0; f < s.frame_index.size(); ++f) {
      std::vector<std::string> row = {s.path, std::to_string(s.frame_index[f])};
      if (four)
        for (double p : s.frame_p[f]) row.push_back(fmt::format("{:.6f}", p));
      else
        row.push_back(fmt::format("{:.6f}", s.frame_p[f][1]));
      row.push_back(fmt::format("{:.6f}", s.frame_p_diseased[f]));
      row.push_back(s.frame_index[f] == s.key_frame ? "1" : "0");
      csv.row(row);
    }
    if (!frames_plot.empty()) {
      std::error_code ec;
      fs::create_directories(frames_plot, ec);
      data::write_image_atomic(
          (fs::path(frames_plot) / (fs::path(s.path).stem().string() + "_frames.png")).string(),
          report::clip_plot(s.frame_index, s.frame_p, s.key_frame, s.path));
    }
  }
  if (clips == 0) spdlog::warn("--frames-csv/--frames-plot: none of the inputs is a clip");
  if (!frames_csv.empty()) csv.write(frames_csv);
}

nlohmann::json score_json(const exporting::ImageScore& s, bool unsure, const ScaleNames& names) {
  nlohmann::json j = {{"path", s.path},
                      {"pred", s.pred},
                      {"p", s.p},
                      {"p_diseased", s.p_diseased},
                      {"healthy_diseased", s.binary_vote ? "diseased" : "healthy"},
                      {"binary_name", names.binary[s.binary_vote ? 1 : 0]},
                      {"scale", names.scale},
                      {"disagreement", s.disagreement},
                      {"unsure", unsure}};
  if (s.key_frame >= 0) {
    nlohmann::json frames = nlohmann::json::array();
    for (size_t f = 0; f < s.frame_index.size(); ++f)
      frames.push_back(
          {{"frame", s.frame_index[f]}, {"p", s.frame_p[f]}, {"p_diseased", s.frame_p_diseased[f]}});
    j["frames"] = frames;
    j["key_frame"] = s.key_frame;
  }
  return j;
}

void say_clips(const std::vector<exporting::ImageScore>& scores, const ScaleNames& names) {
  for (const auto& s : scores)
    if (s.key_frame >= 0)
      fmt::print("{}: clip, {} frames sampled ({}); key frame {} (highest P({}) of a frame alone: {:.3f})\n",
                 s.path, s.frame_index.size(), fmt::join(s.frame_index, " "), s.key_frame, names.binary[1],
                 *std::max_element(s.frame_p_diseased.begin(), s.frame_p_diseased.end()));
}

}  // namespace oess::cli
