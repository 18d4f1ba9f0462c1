#pragma once
// oess/export/model.h — exported models: one file that scores new images without the run that made it.
//
// The file is a torch zip holding a plain dict (Python: torch.load(path) -> dict), docs/formats.md:
//   "__meta__"            dict of str: format ("oess-model"), format_version, oess, task, classes (JSON
//   list),
//                         arch, weights (identity of the backbone weights), transform_input, preprocessing,
//                         crop, dicom_frame, taps (JSON list, the member taps: "mixed7" or "mixed7@max"),
//                         members (JSON: tap and training settings per member), config (the run's resolved
//                         YAML), metrics (the run's metrics.json)
//   "backbone.<key>"      the backbone's parameters and buffers up to the deepest tap the members use (the
//                         layers after it are left out: never run)
//   "member<i>.mean|std|weight|bias"   member i's standardisation and linear classifier
//   "reference.<tap>"     the mean activation map [1, C, h, w] of the tap over (up to 64 of) the run's
//                         training images: Grad-CAM's reference (below)
//   "reference.input"     their mean preprocessed image [1, 3, H, W]: integrated gradients' baseline (below;
//                         optional: models written before it can still make Grad-CAM maps)
// export_run(run_dir, out): builds the file from a run folder (config.resolved.yaml, model/classifiers.pt,
//   model/model.json, metrics.json); the backbone is rebuilt from the run's weights (file or seeded init).
// read_model(path): errors (oess::Error naming the file): unreadable or truncated, not an oess model, a
//   format_version newer than this oess reads (kModelFormatVersion), missing or mis-shaped tensors.
// Scorer: the model in memory (requires: the ModelFile outlives it); score(paths) runs decode -> preprocess
//   -> backbone -> pooling -> members -> combine exactly as the run's extraction and ensemble did.
// Scorer::heatmap(path, options): which pixels drove the score (docs/scoring.md, "Heat maps"). The target is
//   the ensemble's mean probability of the predicted class. Methods:
//   gradcam     Grad-CAM at the tap(s) the members use: the activation A of each tap is a leaf, the target
//               is differentiated with respect to it, channel weights are the spatial means of that
//               gradient, map = ReLU(sum_c weight_c (A_c - R_c)) with R the model's reference map (the
//               training images' mean activation; zero when the model has none), so that what every image
//               shows alike (colour bar, scale, text, common anatomy) cancels. Coarse: the tap's grid.
//   ig          integrated gradients from the reference input (the training images' mean preprocessed
//               image, "reference.input") to the image: (x - x0) * mean_k grad(x0 + a_k (x - x0)),
//               a_k = (k + 1/2) / steps, summed over colour channels; its positive part, smoothed by a
//               Gaussian of sigma = smooth x the input side. Pixel resolution; needs reference.input.
//   gradcam-ig  (default) the product of the two: the regions Grad-CAM finds at the model's tap, refined to
//               pixels by integrated gradients (the construction of Guided Grad-CAM, with integrated
//               gradients in place of guided backpropagation, which does not depend on the model's weights).
//   The map is resized to the decoded (and cropped) image and scaled to [0, 1] (all zeros when nothing is
//   positive), returned with that image and the score.
#include <torch/types.h>

#include <opencv2/core/mat.hpp>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "oess/ensemble/ensemble.h"
#include "oess/io/weights.h"
#include "oess/models/backbone.h"
#include "oess/train/classifier.h"

namespace oess::exporting {

inline constexpr int kModelFormatVersion = 1;

struct ModelFile {
  std::map<std::string, std::string> meta;
  io::StateDict backbone;                // keys without the "backbone." prefix
  std::vector<std::string> member_taps;  // per member
  std::vector<train::LinearModel> members;
  std::map<std::string, torch::Tensor> reference;  // canonical tap -> [1, C, h, w]; "input" -> [1, 3, H, W]
};

void export_run(const std::string& run_dir, const std::string& out_file);
void write_model(const std::string& path, const ModelFile& m);
ModelFile read_model(const std::string& path);

struct ImageScore {
  std::string path;
  std::vector<double> p;  // class probabilities (4, or 2 for binary: healthy, diseased)
  int pred = 0;
  double p_diseased = 0, disagreement = 0;
  int binary_vote = 0;
};

enum class HeatMethod { kGradCam, kIntegratedGradients, kGradCamIg };
// requires: name one of gradcam | ig | gradcam-ig, else UsageError listing them.
HeatMethod parse_heat_method(const std::string& name);
std::string heat_method_name(HeatMethod m);

struct HeatOptions {
  HeatMethod method = HeatMethod::kGradCamIg;
  int steps = 8;         // integrated gradients: points on the path (one forward + backward each)
  double smooth = 0.02;  // integrated gradients: Gaussian sigma as a fraction of the input side
};

// Throws (naming what is wrong) when the model or the options cannot make this kind of map: ig and
// gradcam-ig need the model's reference.input; steps >= 1; smooth in [0, 1).
void check_heat_options(const ModelFile& m, const HeatOptions& o);

struct Heatmap {
  ImageScore score;
  cv::Mat image;  // the decoded, cropped image (BGR 8-bit)
  cv::Mat heat;   // CV_32F, image size, [0, 1]
};

// The share of the map's mass inside `region`, counting only heat > `threshold` (0: all of it); NaN when
// no heat is above the threshold.
double heat_fraction_inside(const cv::Mat& cam, const cv::Rect& region, double threshold = 0);

// The overlay a clinician looks at: the image with the map in a blue-to-red colour scale, alpha-blended.
cv::Mat heatmap_overlay(const Heatmap& h, double alpha = 0.45);

class Scorer {
 public:
  Scorer(const ModelFile& m, const std::string& device = "cpu", int threads = 2, int batch = 16);
  ~Scorer();
  std::vector<ImageScore> score(const std::vector<std::string>& paths,
                                const std::function<void(int64_t, int64_t)>& progress = {});
  Heatmap heatmap(const std::string& path, const HeatOptions& options = {});
  // Integrated gradients of the ensemble's mean probability of class `target` for an image, from the model's
  // reference input: the signed attribution summed over colour channels [H, W] at the network's input size,
  // unsmoothed. Completeness: its sum approaches p_image - p_reference as steps grow.
  struct Attribution {
    cv::Mat map;  // CV_32F
    double p_image = 0, p_reference = 0;
  };
  Attribution integrated_gradients(const std::string& path, int target, int steps);
  // The mean activation map of each tap over `paths`, and under "input" their mean preprocessed image (the
  // references exported models carry).
  std::map<std::string, torch::Tensor> mean_maps(const std::vector<std::string>& paths);
  train::Task task() const { return task_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  train::Task task_;
};

}  // namespace oess::exporting
