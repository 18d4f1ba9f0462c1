// Heat-map sanity on synthetic images, where all Doppler signal lies inside the colour box, scored by a model
// trained on synthetic data (240 images, mixed2, one classifier; trained once for the cases below):
// - Grad-CAM at the tap favours the box over what a uniform map would give it;
// - the default map (gradcam-ig) puts most of its mass inside the box, and more than the same model with
//   randomised classifier weights does (so the share is owed to what the model learned, not only to the
//   image: the model-randomisation check of Adebayo et al. 2018);
// - integrated gradients are complete: the attribution sums to p(image) - p(reference) (64 steps).
// The study-size figures are in docs/scoring.md (bench/heatmap_check).
#include <unistd.h>

#include <fmt/format.h>
#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <opencv2/core.hpp>

#include "oess/config/config.h"
#include "oess/data/image.h"
#include "oess/experiment/experiment.h"
#include "oess/export/model.h"
#include "oess/io/csv.h"

namespace fs = std::filesystem;
using oess::exporting::HeatMethod;

namespace {

struct Trained {
  fs::path work;
  oess::exporting::ModelFile model;
  std::vector<std::string> flow_images;  // test images of true grade 2-3
  ~Trained() {
    std::error_code ec;
    fs::remove_all(work, ec);
  }
};

const Trained& trained() {
  static const Trained t = [] {
    Trained r;
    r.work = fs::temp_directory_path() / ("oess-heatmap-" + std::to_string(getpid()));
    fs::remove_all(r.work);
    const std::string config = fmt::format(R"(name: cam
data:
  synthetic: {{dir: {0}/synth, counts: [60, 60, 60, 60], patients: 12}}
  split: {{val_per_class: 10, test_per_class: 15}}
  allow_patient_overlap: true
features: {{layers: [mixed2], cache: none}}
ensemble: {{members: 0}}
report: {{bootstrap: 0, formats: [md]}}
output:
  dir: {0}/run
)",
                                           r.work.string());
    oess::experiment::run_experiment(oess::config::parse_config(config, (r.work / "cam.yaml").string()));
    r.model = oess::exporting::read_model((r.work / "run" / "model" / "model.pt").string());
    const auto pred = oess::io::read_csv((r.work / "run" / "predictions.csv").string());
    const int truth = pred.column("truth");
    for (const auto& row : pred.rows)
      if (std::stoi(row[static_cast<size_t>(truth)]) >= 2)
        r.flow_images.push_back((r.work / "synth" / row[0]).string());
    return r;
  }();
  return t;
}

struct Share {
  double inside = 0, area = 0;
  int n = 0;
};

Share share_inside(oess::exporting::Scorer& scorer, const std::vector<std::string>& images,
                   const oess::exporting::HeatOptions& o) {
  Share s;
  for (const auto& path : images) {
    const auto h = scorer.heatmap(path, o);
    CHECK(h.heat.size() == h.image.size());
    const cv::Rect box = oess::data::find_colour_box(h.image);
    const double f = oess::exporting::heat_fraction_inside(h.heat, box);
    if (std::isnan(f)) continue;
    s.inside += f;
    s.area += static_cast<double>(box.area()) / (h.image.rows * h.image.cols);
    ++s.n;
  }
  if (s.n) {
    s.inside /= s.n;
    s.area /= s.n;
  }
  return s;
}

}  // namespace

TEST_CASE("Grad-CAM puts more heat on the Doppler colour box than a uniform map would") {
  const auto& t = trained();
  CHECK(t.model.reference.count("mixed2"));  // the export stored the training images' mean map
  oess::exporting::Scorer scorer(t.model);
  const Share s = share_inside(scorer, t.flow_images, {HeatMethod::kGradCam});
  REQUIRE(s.n >= 20);
  INFO(fmt::format(
      "{} images: Grad-CAM heat inside the colour box {:.3f}, the box's share of the image {:.3f}", s.n,
      s.inside, s.area));
  CHECK(s.inside > 1.5 * s.area);
}

TEST_CASE("the default heat map puts most of its mass on the Doppler colour box, owed to the model") {
  const auto& t = trained();
  CHECK(t.model.reference.count("input"));  // the export stored the training images' mean input
  const std::vector<std::string> images(t.flow_images.begin(),
                                        t.flow_images.begin() + std::min<size_t>(24, t.flow_images.size()));
  oess::exporting::Scorer scorer(t.model);
  const Share real = share_inside(scorer, images, {});
  auto randomised = t.model;
  torch::manual_seed(7);
  for (auto& m : randomised.members) m.weight = torch::randn_like(m.weight) * m.weight.std();
  oess::exporting::Scorer control_scorer(randomised);
  const Share control = share_inside(control_scorer, images, {});
  REQUIRE(real.n >= 20);
  INFO(
      fmt::format("{} images: gradcam-ig heat inside the colour box {:.3f}; with random classifier weights "
                  "{:.3f}; the box's share of the image {:.3f}",
                  real.n, real.inside, control.inside, real.area));
  CHECK(real.inside > 0.5);
  CHECK(real.inside > control.inside + 0.05);
}

TEST_CASE("integrated gradients sum to the change of the probability from the reference to the image") {
  const auto& t = trained();
  oess::exporting::Scorer scorer(t.model);
  for (size_t i = 0; i < 2; ++i) {
    for (int target : {0, 3}) {
      const auto a = scorer.integrated_gradients(t.flow_images[i], target, 64);
      const double total = cv::sum(a.map)[0], change = a.p_image - a.p_reference;
      INFO(fmt::format("image {} class {}: sum {:.5f}, p(image) - p(reference) = {:.5f} - {:.5f}", i, target,
                       total, a.p_image, a.p_reference));
      CHECK(std::abs(total - change) < 0.01 + 0.02 * std::abs(change));
    }
  }
}

TEST_CASE("heat-map options are checked before any work") {
  oess::exporting::ModelFile old;  // as a model exported before reference.input existed
  old.meta["arch"] = "inception_v3";
  old.member_taps = {"mixed2"};
  old.reference["mixed2"] = torch::zeros({1, 288, 35, 35});
  CHECK_THROWS_WITH(oess::exporting::check_heat_options(old, {}), Catch::Contains("reference.input"));
  CHECK_NOTHROW(oess::exporting::check_heat_options(old, {HeatMethod::kGradCam}));
  auto current = old;
  current.reference["input"] = torch::zeros({1, 3, 299, 299});
  CHECK_NOTHROW(oess::exporting::check_heat_options(current, {}));
  CHECK_THROWS_WITH(oess::exporting::check_heat_options(current, {HeatMethod::kIntegratedGradients, 0}),
                    Catch::Contains("steps 0"));
  CHECK_THROWS_WITH(oess::exporting::check_heat_options(current, {HeatMethod::kGradCamIg, 8, 1.5}),
                    Catch::Contains("smoothing 1.5"));
  CHECK_THROWS_WITH(oess::exporting::parse_heat_method("cam"), Catch::Contains("gradcam, ig or gradcam-ig"));
  auto fc = current;  // members on fully connected taps only: no maps for Grad-CAM to weigh
  fc.meta["arch"] = "vgg16";
  fc.member_taps = {"fc1", "fc2@avg"};
  CHECK_THROWS_WITH(oess::exporting::check_heat_options(fc, {HeatMethod::kGradCam}),
                    Catch::Contains("use --heatmap-method ig"));
  CHECK_NOTHROW(oess::exporting::check_heat_options(fc, {HeatMethod::kGradCamIg}));
}

TEST_CASE("heat_fraction_inside counts the heat over the region, above a threshold") {
  cv::Mat cam = cv::Mat::zeros(4, 4, CV_32F);
  cam.at<float>(0, 0) = 1.0f;   // inside
  cam.at<float>(3, 3) = 0.5f;   // outside
  cam.at<float>(1, 1) = 0.25f;  // inside, below 0.3
  const cv::Rect region(0, 0, 2, 2);
  CHECK(oess::exporting::heat_fraction_inside(cam, region) == Approx(1.25 / 1.75));
  CHECK(oess::exporting::heat_fraction_inside(cam, region, 0.3) == Approx(1.0 / 1.5));
  CHECK(std::isnan(oess::exporting::heat_fraction_inside(cv::Mat::zeros(4, 4, CV_32F), region)));
}
