// gradcam_check RUN [--threshold T] [--min-grade G]: how much of the Grad-CAM heat of a run's exported model
// lies inside the Doppler colour box, over the run's test images of grade >= G (default 2: images with
// flow). Prints the mean and median share, and the box's mean share of the image area (what a uniform map
// would score). For synthetic runs, where all Doppler signal is inside the box (docs/synthetic.md).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include "oess/config/config.h"
#include "oess/core/error.h"
#include "oess/data/image.h"
#include "oess/data/manifest.h"
#include "oess/experiment/chain.h"
#include "oess/export/model.h"
#include "oess/io/csv.h"

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  CLI::App app("Grad-CAM heat inside the colour box, over a run's test images");
  std::string run;
  double threshold = 0;
  int min_grade = 2;
  app.add_option("RUN", run, "run folder of `oess run` (model/model.pt, predictions.csv)")->required();
  app.add_option("--threshold", threshold, "count heat >= this fraction of each map's maximum")
      ->capture_default_str();
  app.add_option("--min-grade", min_grade, "test images of at least this grade")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    const auto settings = oess::experiment::settings_from(
        oess::config::load_config((fs::path(run) / "config.resolved.yaml").string()));
    const std::string manifest = oess::experiment::manifest_file(settings);
    std::map<std::string, std::string> file_of;
    for (const auto& s : oess::data::read_manifest(manifest, false).samples) file_of[s.rel_path] = s.path;
    const auto model = oess::exporting::read_model((fs::path(run) / "model" / "model.pt").string());
    oess::exporting::Scorer scorer(model);
    const auto pred = oess::io::read_csv((fs::path(run) / "predictions.csv").string());
    std::vector<double> inside;
    double area = 0;
    for (const auto& row : pred.rows) {
      if (std::stoi(row[1]) < min_grade) continue;
      const auto g = scorer.gradcam(file_of.at(row[0]));
      const cv::Rect box = oess::data::find_colour_box(g.image);
      const double f = oess::exporting::heat_fraction_inside(g.cam, box, threshold);
      if (std::isnan(f)) continue;
      inside.push_back(f);
      area += static_cast<double>(box.area()) / (g.image.rows * g.image.cols);
    }
    if (inside.empty()) throw oess::Error("no test images with heat");
    std::vector<double> sorted = inside;
    std::sort(sorted.begin(), sorted.end());
    double mean = 0;
    for (double f : inside) mean += f / inside.size();
    const size_t most =
        static_cast<size_t>(std::count_if(inside.begin(), inside.end(), [](double f) { return f > 0.5; }));
    fmt::print(
        "{} test images of grade >= {}, heat >= {:.2f} of max: share inside the colour box mean {:.3f}, "
        "median {:.3f}; > 0.5 in {} of {}; box area share {:.3f}\n",
        inside.size(), min_grade, threshold, mean, sorted[sorted.size() / 2], most, inside.size(),
        area / inside.size());
  } catch (const std::exception& e) {
    fmt::print(stderr, "gradcam_check: error: {}\n", e.what());
    return 1;
  }
  return 0;
}
