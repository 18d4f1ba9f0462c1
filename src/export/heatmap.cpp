// Heat maps: Grad-CAM, integrated gradients, their product, overlays (export/heatmap.h).
#include "oess/export/heatmap.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <cmath>
#include <opencv2/imgproc.hpp>

#include "oess/config/choices.h"
#include "oess/core/error.h"
#include "oess/models/taps.h"
#include "scorer_impl.h"

namespace oess::exporting {

HeatMethod parse_heat_method(const std::string& name) {
  return config::parse<HeatMethod>(config::heat_methods(), name);  // HeatMethod follows heat_methods()
}

std::string heat_method_name(HeatMethod m) {
  switch (m) {
    case HeatMethod::kGradCam:
      return "gradcam";
    case HeatMethod::kIntegratedGradients:
      return "ig";
    default:
      return "gradcam-ig";
  }
}

bool has_spatial_tap(const ModelFile& m) {
  const auto arch = models::parse_arch(m.meta.at("arch"));
  for (const auto& t : m.member_taps)
    if (!models::resolve_tap(arch, base_tap(t)).classifier) return true;
  return false;
}

void check_heat_options(const ModelFile& m, const HeatOptions& o) {
  if (o.method == HeatMethod::kGradCam) {
    if (!has_spatial_tap(m))
      throw Error(fmt::format(
          "Grad-CAM needs a convolutional tap, and this model's members use only fully connected ones ({}): "
          "use --heatmap-method ig",
          m.meta.count("taps") ? m.meta.at("taps") : "?"));
    return;
  }
  if (!m.reference.count("input"))
    throw Error(
        "this model holds no reference input (reference.input), which the ig and gradcam-ig heat maps start "
        "from: its export found none of the run's training images (`oess export --run RUN` warns when the "
        "run's split.csv or manifest is not where the run left it). Re-export it from a run folder whose "
        "manifest and images are in place, or use --heatmap-method gradcam");
  if (o.steps < 1) throw UsageError(fmt::format("integrated gradients: steps {} must be >= 1", o.steps));
  if (!(o.smooth >= 0 && o.smooth < 1))
    throw UsageError(fmt::format("heat-map smoothing {} is outside [0, 1)", o.smooth));
}

// Integrated gradients (see heatmap.h) for a preprocessed input x [1, 3, H, W]; p_ends (optional) receives
// the target's probability at the reference and at the image. requires: check_heat_options passed.
cv::Mat Scorer::Impl::integrated_gradients(const torch::Tensor& x, int target, int steps,
                                           std::pair<double, double>* p_ends) {
  const auto x0 = model->reference.at("input").to(device, torch::kFloat32);
  if (x0.sizes() != x.sizes())
    throw Error(fmt::format("the model's reference input is {} but its preprocessing makes {}", x0.sizes(),
                            x.sizes()));
  const auto delta = (x - x0).to(torch::kFloat32);
  torch::Tensor grad_sum = torch::zeros_like(delta);
  for (int first = 0; first < steps; first += batch) {  // the path's points, a batch at a time
    const int n = std::min(batch, steps - first);
    const auto alpha =
        ((torch::arange(first, first + n, torch::kFloat32) + 0.5) / steps).view({n, 1, 1, 1}).to(device);
    auto xs = (x0 + alpha * delta).detach().requires_grad_(true);
    const auto p = torch::stack(member_probabilities(backbone->forward(xs, taps))).mean(0);
    p.select(1, target).sum().backward();
    grad_sum += xs.grad().sum(0, /*keepdim=*/true);
  }
  if (p_ends) {
    torch::NoGradGuard no_grad;
    const auto ends =
        torch::stack(member_probabilities(backbone->forward(torch::cat({x0, x}), taps))).mean(0);
    *p_ends = {ends[0][target].item<double>(), ends[1][target].item<double>()};
  }
  const auto ig = (grad_sum / steps * delta).sum(1)[0].to(torch::kCPU, torch::kFloat32).contiguous();
  return cv::Mat(static_cast<int>(ig.size(0)), static_cast<int>(ig.size(1)), CV_32F, ig.data_ptr<float>())
      .clone();
}

Scorer::Attribution Scorer::integrated_gradients(const std::string& path, int target, int steps) {
  auto& im = *impl_;
  check_heat_options(*im.model, {HeatMethod::kIntegratedGradients, steps});
  cv::Mat image;
  const auto x = im.input(path, image);
  Attribution a;
  std::pair<double, double> ends;
  a.map = im.integrated_gradients(x, target, steps, &ends);
  a.p_reference = ends.first;
  a.p_image = ends.second;
  return a;
}

Heatmap Scorer::heatmap(const std::string& path, const HeatOptions& o) {
  auto& im = *impl_;
  check_heat_options(*im.model, o);
  Heatmap h;
  torch::Tensor x;
  if (data::is_clip(path, im.clip)) {  // a clip: the map of its key frame, scored alone
    h.frame = score({path}).front().key_frame;
    x = im.input_of(data::decode_clip_frame(path, h.frame), h.image);
  } else {
    x = im.input(path, h.image);
  }
  std::map<std::string, torch::Tensor> acts;
  {
    torch::NoGradGuard no_grad;  // the backbone's own parameters need no gradient
    acts = im.backbone->forward(x, im.taps);
  }
  std::map<std::string, torch::Tensor> leaf;  // canonical tap -> activation as a leaf with gradient
  for (auto& [tap, a] : acts) leaf[tap] = a.detach().to(torch::kFloat32).contiguous().requires_grad_(true);
  const auto probs = im.member_probabilities(leaf);
  std::vector<torch::Tensor> detached;
  for (const auto& p : probs) detached.push_back(p.detach());
  auto combined = ensemble::combine(detached, task_);
  apply_calibration(combined, im.calibration, task_);  // the score as `oess score` gives it
  h.score = image_score(path, combined, 0);
  const int64_t in_h = x.size(2), in_w = x.size(3);

  // gradcam-ig on a model with only fully connected taps: integrated gradients alone (docs/scoring.md).
  const bool cam = o.method != HeatMethod::kIntegratedGradients && has_spatial_tap(*im.model);
  cv::Mat heat(static_cast<int>(in_h), static_cast<int>(in_w), CV_32F, cv::Scalar(cam ? 0.0 : 1.0));
  if (cam) {
    torch::stack(probs).mean(0)[0][h.score.pred].backward();  // the target: the mean probability
    for (auto& [tap, a] : leaf) {
      if (!a.grad().defined() || a.dim() != 4) continue;  // not used by any member, or an fc tap
      const auto weights = a.grad().mean({2, 3}, /*keepdim=*/true);
      const auto& ref = im.model->reference;
      const auto centred = ref.count(tap) ? a.detach() - ref.at(tap).to(a.device()) : a.detach();
      const auto map =
          torch::relu((weights * centred).sum(1))[0].to(torch::kCPU, torch::kFloat32).contiguous();
      cv::Mat small(static_cast<int>(map.size(0)), static_cast<int>(map.size(1)), CV_32F,
                    map.data_ptr<float>());
      cv::Mat up;
      cv::resize(small, up, heat.size(), 0, 0, cv::INTER_LINEAR);
      heat += up;
    }
  }
  if (o.method != HeatMethod::kGradCam) {
    cv::Mat smooth;
    const cv::Mat ig = im.integrated_gradients(x, h.score.pred, o.steps, nullptr);
    const double sigma = o.smooth * static_cast<double>(std::max(in_h, in_w));
    if (sigma > 0)
      cv::GaussianBlur(ig, smooth, cv::Size(0, 0), sigma, sigma, cv::BORDER_REFLECT);
    else
      smooth = ig;
    cv::max(smooth, 0.0, smooth);
    heat = heat.mul(smooth);
  }

  // The preprocessed input covers the centre crop_fraction of the image: the map goes there.
  const int cw = static_cast<int>(std::lround(h.image.cols * im.pre.crop_fraction));
  const int ch = static_cast<int>(std::lround(h.image.rows * im.pre.crop_fraction));
  const cv::Rect roi((h.image.cols - cw) / 2, (h.image.rows - ch) / 2, cw, ch);
  h.heat = cv::Mat::zeros(h.image.rows, h.image.cols, CV_32F);
  cv::Mat target = h.heat(roi);
  cv::resize(heat, target, roi.size(), 0, 0, cv::INTER_LINEAR);
  double lo = 0, hi = 0;
  cv::minMaxLoc(h.heat, &lo, &hi);
  if (hi > 0) h.heat /= hi;
  return h;
}

double heat_fraction_inside(const cv::Mat& cam, const cv::Rect& region, double threshold) {
  cv::Mat hot;
  cv::threshold(cam, hot, threshold, 0, cv::THRESH_TOZERO);  // keeps values > threshold
  if (threshold <= 0) hot = cam;
  const double total = cv::sum(hot)[0];
  if (total <= 0) return NAN;
  return cv::sum(hot(region & cv::Rect(0, 0, cam.cols, cam.rows)))[0] / total;
}

cv::Mat heatmap_overlay(const Heatmap& h, double alpha) {
  cv::Mat heat8, colour, out;
  h.heat.convertTo(heat8, CV_8U, 255.0);
  cv::applyColorMap(heat8, colour, cv::COLORMAP_JET);
  cv::addWeighted(h.image, 1.0 - alpha, colour, alpha, 0.0, out);
  return out;
}

}  // namespace oess::exporting
