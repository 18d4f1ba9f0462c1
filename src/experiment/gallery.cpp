// The error gallery of a run (export_stage.h, write_error_gallery): which images, and their heat maps.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <map>
#include <opencv2/imgcodecs.hpp>
#include <unordered_map>

#include "export_stage.h"
#include "oess/export/heatmap.h"
#include "oess/export/scorer.h"
#include "oess/report/report.h"

namespace oess::experiment {

void write_error_gallery(const Chain& c, const std::string& dir, const exporting::ModelFile& model) {
  const auto& pr = c.predictions;
  if (c.s.gallery <= 0 || pr.path.empty()) return;
  const auto n = static_cast<size_t>(c.s.gallery);
  report::GalleryInputs in;
  in.title = "oess: the test images most wrong" + (c.s.name.empty() ? std::string() : " - " + c.s.name);
  in.class_names = !pr.binary                     ? std::vector<std::string>{"0", "1", "2", "3"}
                   : c.s.binary_names.size() == 2 ? c.s.binary_names
                                                  : std::vector<std::string>{"healthy", "diseased"};
  std::vector<std::pair<std::string, std::vector<size_t>>> chosen = {
      {fmt::format("All test images: the {} most wrong", n), metrics::worst_errors(pr, n)}};
  for (const auto& col : c.s.evaluate_by) {
    const auto* column = pr.column(col);
    if (!column) continue;
    const auto& values = *column;
    std::map<std::string, std::vector<size_t>> groups;
    for (size_t i = 0; i < values.size(); ++i) groups[values[i]].push_back(i);
    for (const auto& [g, rows] : groups)
      chosen.emplace_back(fmt::format("{} {}: the {} most wrong", col, g, std::max<size_t>(1, n / 2)),
                          metrics::worst_errors(pr, std::max<size_t>(1, n / 2), rows));
  }
  std::unordered_map<std::string, std::string> file_of;
  for (const auto& s : c.manifest.samples) file_of[s.rel_path] = s.path;
  const bool heat = c.cross_validation.folds == 0;
  in.notes.push_back(
      "Wrong calls only: the largest grade error first (a 0 called 3 before a 2 called 3), then the most "
      "confident; the probabilities are the ones predictions.csv holds.");
  in.notes.push_back(
      heat ? "Heat maps: Grad-CAM of the called grade from the exported model (model/model.pt); "
             "`oess score --heatmap DIR --heatmap-method gradcam-ig` gives the other methods."
           : "No heat maps after cross-validation: each image was predicted by its fold's model, "
             "and the exported model (refit on every image) trained on it, so its heat map would "
             "not show why the fold's model erred.");
  std::optional<exporting::Scorer> scorer;
  if (heat) scorer.emplace(model, c.s.extract.device, c.s.extract.threads, 1);
  std::map<std::string, std::string> heat_of;  // path -> overlay PNG
  for (const auto& [title, rows] : chosen) {
    report::GallerySection sec{title, {}};
    for (size_t r : rows) {
      report::GalleryItem it;
      it.path = pr.path[r];
      it.file = file_of.count(it.path) ? file_of.at(it.path) : it.path;
      it.truth = pr.truth[r];
      it.pred = pr.pred[r];
      it.p.assign(pr.p[r].begin(), pr.p[r].begin() + (pr.binary ? 2 : 4));
      if (scorer && !heat_of.count(it.path)) {  // a clip: its key frame's map (exporting::Scorer::heatmap)
        exporting::HeatOptions o;
        o.method = exporting::HeatMethod::kGradCam;
        std::vector<uchar> png;
        cv::imencode(".png", exporting::heatmap_overlay(scorer->heatmap(it.file, o)), png);
        heat_of[it.path] = std::string(png.begin(), png.end());
      }
      if (scorer && heat_of.count(it.path)) it.heat_png = heat_of.at(it.path);
      sec.items.push_back(std::move(it));
    }
    in.sections.push_back(std::move(sec));
  }
  report::write_gallery(dir, in);
  spdlog::info("export: gallery.html ({} images{})",
               heat_of.size() ? heat_of.size() : chosen[0].second.size(), heat ? ", with heat maps" : "");
}

}  // namespace oess::experiment
