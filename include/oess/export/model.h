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
// export_run(run_dir, out): builds the file from a run folder (config.resolved.yaml, model/classifiers.pt,
//   model/model.json, metrics.json); the backbone is rebuilt from the run's weights (file or seeded init).
// read_model(path): errors (oess::Error naming the file): unreadable or truncated, not an oess model, a
//   format_version newer than this oess reads (kModelFormatVersion), missing or mis-shaped tensors.
// Scorer: the model in memory (requires: the ModelFile outlives it); score(paths) runs decode -> preprocess
//   -> backbone -> pooling -> members -> combine exactly as the run's extraction and ensemble did.
// Scorer::gradcam(path): Grad-CAM at the tap(s) the members use: the activation A of each tap is taken as a
//   leaf, the ensemble's mean probability of the predicted class is differentiated with respect to it,
//   channel weights are the spatial means of that gradient, cam = ReLU(sum_c weight_c (A_c - R_c)) where R is
//   the model's reference map (the training images' mean activation; zero when the model has none), so that
//   what every image shows alike (colour bar, scale, text, common anatomy) cancels and the map shows what
//   makes this image's score differ from the average training image. Maps of several taps are resized to
//   the image and summed. Returned resized to the decoded (and cropped) image, scaled to
//   [0, 1] (all zeros when the ReLU leaves nothing), with that image and the score.
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
  std::map<std::string, torch::Tensor> reference;  // canonical tap -> [1, C, h, w]
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

struct GradCam {
  ImageScore score;
  cv::Mat image;  // the decoded, cropped image (BGR 8-bit)
  cv::Mat cam;    // CV_32F, image size, [0, 1]
};

// The share of the map's mass inside `region`, counting only heat >= `threshold` (0: all of it); NaN when
// no heat reaches the threshold.
double heat_fraction_inside(const cv::Mat& cam, const cv::Rect& region, double threshold = 0);

// The overlay a clinician looks at: the image with the map in a blue-to-red colour scale, alpha-blended.
cv::Mat gradcam_overlay(const GradCam& g, double alpha = 0.45);

class Scorer {
 public:
  Scorer(const ModelFile& m, const std::string& device = "cpu", int threads = 2, int batch = 16);
  ~Scorer();
  std::vector<ImageScore> score(const std::vector<std::string>& paths,
                                const std::function<void(int64_t, int64_t)>& progress = {});
  GradCam gradcam(const std::string& path);
  // The mean activation map of each tap over `paths` (the reference exported models carry).
  std::map<std::string, torch::Tensor> mean_maps(const std::vector<std::string>& paths);
  train::Task task() const { return task_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  train::Task task_;
};

}  // namespace oess::exporting
