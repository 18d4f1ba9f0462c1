#pragma once
// oess/export/scorer.h — an exported model scoring new images, and the rules applied to its scores.
//
// Scorer: the model in memory (requires: the ModelFile outlives it); score(paths) runs decode -> preprocess
//   -> backbone -> pooling -> members -> combine exactly as the run's extraction and ensemble did.
//   heatmap() and integrated_gradients(): export/heatmap.h says what they compute.
// UnsureRule: an image is unsure when its highest probability is below `below` or its members disagree at
//   least `disagreement` (0 = unanimous).
// per_patient_sums: per patient of a manifest (its patient column), the images scored and the sum of their
//   predicted grades (binary task: calls); images not in the manifest are left out.
#include <torch/types.h>

#include <opencv2/core/mat.hpp>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "oess/data/manifest.h"
#include "oess/export/model_file.h"

namespace oess::exporting {

struct ImageScore {
  std::string path;
  std::vector<double> p;  // class probabilities (4, or 2 for binary: healthy, diseased)
  int pred = 0;
  double p_diseased = 0, disagreement = 0;
  int binary_vote = 0;
  // A clip (issue #33): its sampled frames, each scored alone (the model on that frame's features, as a
  // one-frame clip), and the key frame: the sampled frame with the highest P(diseased) (-1: not a clip).
  std::vector<int> frame_index;
  std::vector<std::vector<double>> frame_p;
  std::vector<double> frame_p_diseased;
  int key_frame = -1;
};

enum class HeatMethod { kGradCam, kIntegratedGradients, kGradCamIg };  // config::heat_methods() order

struct HeatOptions {
  HeatMethod method = HeatMethod::kGradCamIg;
  int steps = 8;         // integrated gradients: points on the path (one forward + backward each)
  double smooth = 0.02;  // integrated gradients: Gaussian sigma as a fraction of the input side
};

struct Heatmap {
  ImageScore score;  // a clip: its key frame's score alone
  cv::Mat image;     // the decoded, cropped image (BGR 8-bit); a clip: its key frame
  cv::Mat heat;      // CV_32F, image size, [0, 1]
  int frame = -1;    // a clip: which frame (its key frame, ImageScore::key_frame)
};

class Scorer {
 public:
  Scorer(const ModelFile& m, const std::string& device = "cpu", int threads = 2, int batch = 16);
  ~Scorer();
  // Optional: plans the backbone now for scoring `images` images (batches of min(batch, images)), as ONNX
  // Runtime prepares its session, so that score()'s first batch does not pay for it. Without it, the first
  // batch plans.
  void prepare(int64_t images);
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

  struct Impl;  // src/export/scorer_impl.h
  // A clip's sampled frames scored one by one (per_frame: "tap@pooling" -> [frames, C]).
  ImageScore frame_scores(const std::vector<int>& index,
                          const std::map<std::string, torch::Tensor>& per_frame) const;

 private:
  std::unique_ptr<Impl> impl_;
  train::Task task_;
};

struct UnsureRule {
  double below = 0.5, disagreement = 0.5;
  bool operator()(const ImageScore& s) const;
};

struct PatientSum {
  std::string patient;
  int images = 0, sum = 0;
};
// requires: manifest.has_patient (else Error naming manifest.file). Sorted by patient.
std::vector<PatientSum> per_patient_sums(const std::vector<ImageScore>& scores,
                                         const data::Manifest& manifest);

}  // namespace oess::exporting
