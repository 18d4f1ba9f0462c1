// heatmap_check RUN [--method M] [--threshold T] [--min-grade G] [--control]: how much of the heat of a run's
// exported model lies inside the Doppler colour box, over the run's test images of grade >= G (default 2:
// images with flow). Prints the mean and median share, how many images have more than half of their heat
// inside, and the box's mean share of the image area (what a uniform map would score). For synthetic runs,
// where all Doppler signal is inside the box (docs/synthetic.md).
// --control: the same with every member's classifier weights replaced by seeded Gaussian ones of the same
// spread (the model-randomisation check of Adebayo et al. 2018): a map that still favours the box then owes
// that to the image, not to what the model learned.
#include <fmt/format.h>
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
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
  CLI::App app("Heat-map mass inside the colour box, over a run's test images");
  std::string run, method = "gradcam-ig";
  double threshold = 0;
  int min_grade = 2, steps = 8;
  bool control = false;
  app.add_option("RUN", run, "run folder of `oess run` (model/model.pt, predictions.csv)")->required();
  app.add_option("--method", method, "gradcam | ig | gradcam-ig")->capture_default_str();
  app.add_option("--steps", steps, "integrated gradients: points on the path")->capture_default_str();
  app.add_option("--threshold", threshold, "count heat > this fraction of each map's maximum")
      ->capture_default_str();
  app.add_option("--min-grade", min_grade, "test images of at least this true grade")->capture_default_str();
  app.add_flag("--control", control, "randomise the members' classifier weights first");
  CLI11_PARSE(app, argc, argv);
  try {
    oess::exporting::HeatOptions heat;
    heat.method = oess::exporting::parse_heat_method(method);
    heat.steps = steps;
    const auto settings = oess::settings::settings_from(
        oess::config::load_config((fs::path(run) / "config.resolved.yaml").string()));
    const std::string manifest = oess::settings::manifest_file(settings);
    std::map<std::string, std::string> file_of;
    for (const auto& s : oess::data::read_manifest(manifest, false).samples) file_of[s.rel_path] = s.path;
    auto model = oess::exporting::read_model((fs::path(run) / "model" / "model.pt").string());
    if (control) {
      torch::manual_seed(12345);
      for (auto& m : model.members) m.weight = torch::randn_like(m.weight) * m.weight.std();
    }
    oess::exporting::Scorer scorer(model);
    const auto pred = oess::io::read_csv((fs::path(run) / "predictions.csv").string());
    const int truth = pred.column("truth");
    if (truth < 0) throw oess::Error(fmt::format("{}: no truth column", pred.path));
    std::vector<double> inside;
    double area = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (const auto& row : pred.rows) {
      if (std::stoi(row[static_cast<size_t>(truth)]) < min_grade) continue;
      const auto h = scorer.heatmap(file_of.at(row[0]), heat);
      const cv::Rect box = oess::data::find_colour_box(h.image);
      const double f = oess::exporting::heat_fraction_inside(h.heat, box, threshold);
      if (std::isnan(f)) continue;
      inside.push_back(f);
      area += static_cast<double>(box.area()) / (h.image.rows * h.image.cols);
    }
    if (inside.empty()) throw oess::Error("no test images with heat");
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::vector<double> sorted = inside;
    std::sort(sorted.begin(), sorted.end());
    double mean = 0;
    for (double f : inside) mean += f / inside.size();
    const size_t most =
        static_cast<size_t>(std::count_if(inside.begin(), inside.end(), [](double f) { return f > 0.5; }));
    fmt::print(
        "{}{}: {} test images of grade >= {}, heat > {:.2f} of max: share inside the colour box mean "
        "{:.3f}, "
        "median {:.3f}; > 0.5 in {} of {}; box area share {:.3f}; {:.2f} s per image\n",
        method, control ? " (control: random classifier weights)" : "", inside.size(), min_grade, threshold,
        mean, sorted[sorted.size() / 2], most, inside.size(), area / inside.size(), seconds / inside.size());
  } catch (const std::exception& e) {
    fmt::print(stderr, "heatmap_check: error: {}\n", e.what());
    return 1;
  }
  return 0;
}
