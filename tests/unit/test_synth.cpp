// The synthetic generator checked against the OESS Doppler definitions, measured independently here.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <sstream>

#include "oess/core/error.h"
#include "oess/data/image.h"
#include "oess/data/manifest.h"
#include "oess/data/synth.h"

namespace fs = std::filesystem;
using namespace oess::data;

namespace {

// Independent reading of an image: flow = strongly coloured pixels (max - min channel >= 60); B-mode, the
// outline and text are grey. Spots = 8-connected flow regions inside the synovium, by area: single <= 30 px,
// confluent <= 150 px (at 384x288). Grades per OESS: 0 none; 1 <= 3 single, or 1 confluent + <= 2 single,
// or 2 confluent; 3 >= 50% of the synovium; 2 anything else.
struct Reading {
  double fraction;
  int grade, outside_flow;
};

Reading read_grade(const cv::Mat& bgr, const cv::Mat& synovium) {
  cv::Mat ch[3], hi, lo, chroma;
  cv::split(bgr, ch);
  cv::max(ch[0], ch[1], hi);
  cv::max(hi, ch[2], hi);
  cv::min(ch[0], ch[1], lo);
  cv::min(lo, ch[2], lo);
  cv::subtract(hi, lo, chroma);
  const cv::Mat flow_all = chroma >= 60;
  const cv::Mat flow = flow_all & synovium;
  cv::Mat field_mask = cv::Mat::zeros(bgr.size(), CV_8U);
  field_mask(cv::Rect(32, 16, bgr.cols - 80, bgr.rows - 32)).setTo(255);  // the colour bar is outside it
  Reading r{};
  r.outside_flow = cv::countNonZero(flow_all & ~synovium & field_mask);
  const int syn = cv::countNonZero(synovium);
  r.fraction = static_cast<double>(cv::countNonZero(flow)) / syn;
  cv::Mat labels, stats, centroids;
  const int n = cv::connectedComponentsWithStats(flow, labels, stats, centroids, 8);
  int single = 0, confluent = 0, big = 0;
  for (int i = 1; i < n; ++i) {
    const int a = stats.at<int>(i, cv::CC_STAT_AREA);
    (a <= 30 ? single : a <= 150 ? confluent : big)++;
  }
  if (n == 1)
    r.grade = 0;
  else if (r.fraction >= 0.5)
    r.grade = 3;
  else if (big == 0 && ((confluent == 0 && single <= 3) || (confluent == 1 && single <= 2) ||
                        (confluent == 2 && single == 0)))
    r.grade = 1;
  else
    r.grade = 2;
  return r;
}

}  // namespace

TEST_CASE("every synthetic image's grade follows the OESS Doppler definitions", "[synth]") {
  int with_outside_vessels = 0, total = 0;
  double min3 = 1, max2 = 0;
  for (int grade = 0; grade < 4; ++grade)
    for (const char* joint : {"wrist_rc", "wrist_ru", "mcp", "pip"})
      for (uint64_t seed = 0; seed < 6; ++seed) {
        const auto style = patient_style(seed * 31 + 7);
        const SynthImage s =
            render_synthetic(grade, joint, style, seed * 1000 + static_cast<uint64_t>(grade));
        const Reading r = read_grade(s.bgr, s.synovium);
        INFO("grade " << grade << " " << joint << " seed " << seed << " fraction " << r.fraction);
        CHECK(r.grade == grade);
        CHECK(s.doppler_fraction == Approx(r.fraction));
        if (grade == 2) max2 = std::max(max2, r.fraction);
        if (grade == 3) min3 = std::min(min3, r.fraction);
        with_outside_vessels += r.outside_flow > 0;
        ++total;
        // The colour box is found from its outline, whatever the grade.
        CHECK(find_colour_box(s.bgr) == s.colour_box);
      }
  CHECK(max2 < 0.5);
  CHECK(min3 >= 0.5);
  // Vessels outside the synovium appear in a good share of images and never changed a grade above.
  CHECK(with_outside_vessels > total / 4);
}

TEST_CASE("Doppler evidence on a hand-made image", "[synth]") {
  // Synovium: a 10x10 square (100 px). Flow: three isolated red pixels (singles) and a 5x8 block (40 px,
  // confluent) -> 43 px = 0.43 of the synovium; 1 confluent + 3 singles is more than grade 1 allows -> 2.
  cv::Mat img(288, 384, CV_8UC3, cv::Scalar(90, 90, 90));
  cv::Mat syn = cv::Mat::zeros(288, 384, CV_8U);
  syn(cv::Rect(100, 100, 10, 10)).setTo(255);
  for (cv::Point p : {cv::Point(100, 100), cv::Point(102, 100), cv::Point(104, 100)})
    img.at<cv::Vec3b>(p) = {30, 30, 220};
  img(cv::Rect(100, 102, 8, 5)).setTo(cv::Scalar(220, 90, 30));
  img(cv::Rect(150, 150, 20, 20)).setTo(cv::Scalar(30, 30, 220));  // outside the synovium: ignored
  const DopplerEvidence e = measure_doppler(img, syn);
  CHECK(e.synovium_pixels == 100);
  CHECK(e.flow_pixels == 43);
  CHECK(e.fraction == Approx(0.43));
  CHECK(e.singles == 3);
  CHECK(e.confluents == 1);
  CHECK(grade_of(e) == 2);
  img.at<cv::Vec3b>(cv::Point(104, 100)) = {90, 90, 90};  // now 1 confluent + 2 singles: grade 1
  CHECK(grade_of(measure_doppler(img, syn)) == 1);
}

TEST_CASE("synthetic dataset: manifest, counts, determinism across thread counts, label noise", "[synth]") {
  const fs::path root = fs::temp_directory_path() / "oess_test_synth";
  fs::remove_all(root);
  SynthOptions o;
  o.counts = {4, 3, 3, 2};
  o.seed = 11;
  o.patients = 5;
  o.out_dir = (root / "a").string();
  o.threads = 1;
  const auto s = generate_dataset(o);
  CHECK(s.images == 12);
  const Manifest m = read_manifest((root / "a" / "labels.csv").string());
  CHECK(m.counts() == std::vector<int>{4, 3, 3, 2});
  CHECK(m.has_patient);
  CHECK(m.has_joint);
  CHECK(m.extra_columns == std::vector<std::string>{"true_score", "doppler_fraction"});
  // Same seed, more threads: identical labels and identical pixels.
  o.out_dir = (root / "b").string();
  o.threads = 3;
  generate_dataset(o);
  auto slurp = [](const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  CHECK(slurp(root / "a" / "labels.csv") == slurp(root / "b" / "labels.csv"));
  for (const auto& x : m.samples) {
    const cv::Mat a = cv::imread(x.path), b = cv::imread((root / "b" / x.rel_path).string());
    CHECK(cv::norm(a, b, cv::NORM_INF) == 0);
  }
  // An existing dataset is not overwritten without force.
  REQUIRE_THROWS_WITH(generate_dataset(o), Catch::Matchers::Contains("already holds a dataset"));
  // Label noise 1: every recorded score is one grade away from the truth.
  o.out_dir = (root / "c").string();
  o.label_noise = 1.0;
  generate_dataset(o);
  const Manifest noisy = read_manifest((root / "c" / "labels.csv").string());
  for (const auto& x : noisy.samples) {
    const int truth = std::stoi(x.extra[0].second);
    CHECK(std::abs(x.score - truth) == 1);
  }
}
