#pragma once
// src/export/scorer_impl.h — the Scorer's state, shared by scorer.cpp (scoring) and heatmap.cpp (heat maps);
// private to the export area.
#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "oess/data/clip.h"
#include "oess/data/image.h"
#include "oess/ensemble/ensemble.h"
#include "oess/export/scorer.h"
#include "oess/models/backbone.h"
#include "oess/models/preprocessing.h"

namespace oess::exporting {

struct Scorer::Impl {
  std::unique_ptr<models::Backbone> backbone;
  models::Preprocessing pre;
  data::Framing framing;   // the model's mask and crop
  data::ClipOptions clip;  // how the run read clips (meta "clip"; before clips existed: the defaults)
  int frame = 0, batch = 16;
  torch::Device device{torch::kCPU};
  std::vector<std::string> taps;  // base taps to run
  std::string pooling;
  const ModelFile* model;
  ModelCalibration calibration;  // as the run calibrated (model_calibration)
  std::vector<torch::Tensor> member_probabilities(const std::map<std::string, torch::Tensor>& acts) const;
  // The decoded, cropped image (as it was, to draw heat on) and its masked, preprocessed batch of one on the
  // device.
  torch::Tensor input(const std::string& path, cv::Mat& image) const;
  // The same for an already decoded picture (a clip's frame).
  torch::Tensor input_of(const cv::Mat& decoded, cv::Mat& image) const;
  cv::Mat integrated_gradients(const torch::Tensor& x, int target, int steps,
                               std::pair<double, double>* p_ends);
};

// The score of row k of an ensemble's combined output.
ImageScore image_score(const std::string& path, const ensemble::Combined& c, size_t k);

// Whether any member's tap has spatial maps (a convolutional tap, not fc1/fc2/logits): Grad-CAM needs one.
bool has_spatial_tap(const ModelFile& m);

}  // namespace oess::exporting
