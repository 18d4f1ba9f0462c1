#pragma once
// oess/export/heatmap.h — which pixels drove a score (docs/scoring.md, "Heat maps"): Scorer::heatmap and
// Scorer::integrated_gradients (declared in export/scorer.h, made in src/export/heatmap.cpp) and the helpers
// below. The target is the ensemble's mean probability of the predicted class. Methods:
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
#include <opencv2/core/mat.hpp>

#include <string>

#include "oess/export/scorer.h"

namespace oess::exporting {

// requires: name one of gradcam | ig | gradcam-ig, else UsageError listing them.
HeatMethod parse_heat_method(const std::string& name);
std::string heat_method_name(HeatMethod m);

// Throws (naming what is wrong) when the model or the options cannot make this kind of map: ig and
// gradcam-ig need the model's reference.input; steps >= 1; smooth in [0, 1).
void check_heat_options(const ModelFile& m, const HeatOptions& o);

// The share of the map's mass inside `region`, counting only heat > `threshold` (0: all of it); NaN when
// no heat is above the threshold.
double heat_fraction_inside(const cv::Mat& cam, const cv::Rect& region, double threshold = 0);

// The overlay a clinician looks at: the image with the map in a blue-to-red colour scale, alpha-blended.
cv::Mat heatmap_overlay(const Heatmap& h, double alpha = 0.45);

}  // namespace oess::exporting
