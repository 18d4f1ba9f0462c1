#pragma once
// Internal to the cli area: what `oess score` writes beside its table — the names a model's run gave its
// scale and binary split, each score as JSON, and clips' per-frame scores (issue #33).
#include <array>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "oess/export/model_file.h"
#include "oess/export/scorer.h"

namespace oess::cli {

// report.scale and report.binary_names as the model records them; the study's for models before them.
struct ScaleNames {
  std::string scale = "OESS";
  std::array<std::string, 2> binary{"healthy", "diseased"};
};
ScaleNames scale_names(const exporting::ModelFile& m);

// One score as `--json` writes it (clips: with their frames and key frame).
nlohmann::json score_json(const exporting::ImageScore& s, bool unsure, const ScaleNames& names);
// A line per clip: its sampled frames and key frame.
void say_clips(const std::vector<exporting::ImageScore>& scores, const ScaleNames& names);
// --frames-csv FILE and --frames-plot DIR (either may be empty): every clip's sampled frames scored alone.
void write_frames(const std::vector<exporting::ImageScore>& scores, bool four, const std::string& frames_csv,
                  const std::string& frames_plot);

}  // namespace oess::cli
