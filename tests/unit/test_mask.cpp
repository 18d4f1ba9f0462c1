// data.mask on hand-made pictures whose marks the test drew itself, so it knows where each one is: burned-in
// text and calipers on speckle, a scan sector with text and a colour bar beside it (data/mask.h).
#include <catch2/catch.hpp>
#include <opencv2/imgproc.hpp>
#include <random>

#include "oess/core/error.h"
#include "oess/data/image.h"
#include "oess/data/mask.h"

using namespace oess::data;

namespace {

// Ultrasound-like texture: blurred exponential speckle around `level`, with a broad saturated reflector
// (a bright band, graded at its edges) that must not be taken for a mark.
cv::Mat speckle(int w, int h, double level, uint32_t seed) {
  std::mt19937 rng(seed);
  std::exponential_distribution<float> e(1.0f);
  cv::Mat f(h, w, CV_32F);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) f.at<float>(y, x) = e(rng);
  cv::GaussianBlur(f, f, cv::Size(0, 0), 1.2);
  cv::Mat grey;
  f.convertTo(grey, CV_8U, level);
  cv::Mat band(h, w, CV_32F, cv::Scalar(0));
  cv::rectangle(band, cv::Rect(w / 8, h * 3 / 4, w / 2, 6), cv::Scalar(1.0), cv::FILLED);
  cv::GaussianBlur(band, band, cv::Size(0, 0), 2.0);
  cv::Mat g32;
  grey.convertTo(g32, CV_32F);
  g32 += band * 400.0;
  g32.convertTo(grey, CV_8U);  // saturates to 255 in the band's middle
  cv::Mat bgr;
  cv::cvtColor(grey, bgr, cv::COLOR_GRAY2BGR);
  return bgr;
}

double share(const cv::Mat& hit, const cv::Mat& where) {
  const int n = cv::countNonZero(where);
  REQUIRE(n > 0);
  return cv::countNonZero(hit & where) / static_cast<double>(n);
}

}  // namespace

TEST_CASE("data.mask entries: parsing and the recorded text", "[mask]") {
  CHECK(parse_mask({}).empty());
  CHECK(parse_mask({"none"}).empty());
  CHECK(mask_text(parse_mask({})) == "none");
  const auto m = parse_mask({"rect:-40,0,40,20", "annotations", "outside_sector", "rect:3,4,5,6"});
  CHECK(m.annotations);
  CHECK(m.outside_sector);
  REQUIRE(m.rects.size() == 2);
  CHECK(m.rects[0].x == -40);
  CHECK(m.rects[1].height == 6);
  CHECK(mask_text(m) == "outside_sector annotations rect:-40,0,40,20 rect:3,4,5,6");
  CHECK(mask_text(parse_mask_text(mask_text(m))) == mask_text(m));
  CHECK(parse_mask_text("none").empty());
  for (const std::vector<std::string>& bad : {std::vector<std::string>{"text"},
                                              {"rect:1,2,0,4"},
                                              {"rect:1,2,3"},
                                              {"rect:1,2,3,4x"},
                                              {"none", "annotations"}})
    CHECK_THROWS_AS(parse_mask(bad), oess::UsageError);
  CHECK_THROWS_WITH(parse_mask({"rect:1,2,3"}), Catch::Contains("rect:1,2,3"));
}

TEST_CASE("data.mask rect: pixels, negative offsets from the far edges, clipping", "[mask]") {
  const cv::Mat img(80, 100, CV_8UC3, cv::Scalar(50, 50, 50));
  const cv::Mat corner = rect_marks(img, {{-10, 0, 10, 5}});
  CHECK(cv::countNonZero(corner) == 50);
  CHECK(cv::countNonZero(corner(cv::Rect(90, 0, 10, 5))) == 50);
  CHECK(cv::countNonZero(rect_marks(img, {{95, 75, 20, 20}})) == 25);
  CHECK(cv::countNonZero(rect_marks(img, {{-5, -4, 5, 4}})(cv::Rect(95, 76, 5, 4))) == 20);
  CHECK(cv::countNonZero(rect_marks(img, {{200, 0, 5, 5}})) == 0);  // outside: nothing
}

TEST_CASE("data.mask annotations: text and calipers found, speckle, bright tissue and colour left",
          "[mask]") {
  cv::Mat img = speckle(320, 240, 95.0, 7);
  // Burned-in text: white with a black drop shadow, as scanners draw it; and plain white text.
  cv::Mat drawn(img.size(), CV_8U, cv::Scalar(0));
  auto text = [&](const std::string& s, cv::Point at, bool shadow) {
    if (shadow) cv::putText(img, s, at + cv::Point(1, 1), cv::FONT_HERSHEY_PLAIN, 1.0, cv::Scalar(0, 0, 0));
    cv::putText(img, s, at, cv::FONT_HERSHEY_PLAIN, 1.0, cv::Scalar(255, 255, 255));
    cv::putText(drawn, s, at, cv::FONT_HERSHEY_PLAIN, 1.0, cv::Scalar(255));
  };
  text("MAMA DIREITA QSE", {120, 40}, true);
  text("GE 72", {10, 220}, false);
  // Caliper crosses: light grey, 1 px strokes, 9 px across.
  for (const cv::Point c : {cv::Point(80, 100), cv::Point(200, 130), cv::Point(260, 90)})
    for (int d = -4; d <= 4; ++d) {
      for (const cv::Point p : {c + cv::Point(d, 0), c + cv::Point(0, d)}) {
        img.at<cv::Vec3b>(p) = cv::Vec3b(215, 215, 215);
        drawn.at<uchar>(p) = 255;
      }
    }
  // Doppler colour: saturated red and blue flow, never a mark.
  cv::Mat flow(img.size(), CV_8U, cv::Scalar(0));
  cv::circle(flow, {240, 170}, 9, cv::Scalar(255), cv::FILLED);
  img.setTo(cv::Scalar(20, 30, 250), flow);
  cv::line(img, {150, 150}, {190, 160}, cv::Scalar(250, 40, 20), 1);

  const cv::Mat marks = annotation_marks(img);
  CHECK(share(marks, drawn) >= 0.95);  // recall of the marks' own pixels
  cv::Mat near;
  cv::dilate(drawn, near, cv::getStructuringElement(cv::MORPH_RECT, cv::Size(9, 9)));
  const cv::Mat tissue = (near == 0) & (flow == 0);
  CHECK(share(marks, tissue) <= 0.01);  // false marks on bright speckle (each grown to 5x5)
  const cv::Mat band = tissue(cv::Rect(40, 176, 160, 8));
  CHECK(cv::countNonZero(marks(cv::Rect(40, 176, 160, 8)) & band) == 0);
  CHECK(cv::countNonZero(marks & flow) == 0);

  // Masked: no pixel of the text keeps its white; the fill is speckle-grey, and nothing else moved.
  const cv::Mat out = apply_mask(img, parse_mask({"annotations"}));
  REQUIRE(out.size() == img.size());
  cv::Mat grey_out, grey_in;
  cv::cvtColor(out, grey_out, cv::COLOR_BGR2GRAY);
  cv::cvtColor(img, grey_in, cv::COLOR_BGR2GRAY);
  double lo, hi;
  cv::minMaxLoc(grey_out, &lo, &hi, nullptr, nullptr, drawn);
  CHECK(hi < 200);
  const double fill_mean = cv::mean(grey_out, drawn)[0], tissue_mean = cv::mean(grey_in, tissue)[0];
  CHECK(std::abs(fill_mean - tissue_mean) < 25);
  cv::Mat diff;
  cv::absdiff(out, img, diff);
  cv::cvtColor(diff, diff, cv::COLOR_BGR2GRAY);
  CHECK(cv::countNonZero((diff > 0) & (marks == 0)) == 0);
  CHECK(apply_mask(img, {}).data == img.data);  // no mask: the image itself
}

TEST_CASE("data.mask outside_sector: a fan kept as it is, the text and colour bar beside it gone", "[mask]") {
  cv::Mat img(240, 320, CV_8UC3, cv::Scalar(0, 0, 0));
  cv::Mat fan(img.size(), CV_8U, cv::Scalar(0));
  cv::ellipse(fan, {160, -20}, {230, 230}, 0, 55, 125, cv::Scalar(255), cv::FILLED);  // a curved probe's fan
  cv::Mat inner;
  cv::erode(fan, inner, cv::getStructuringElement(cv::MORPH_RECT, cv::Size(5, 5)));
  speckle(320, 240, 70.0, 11).copyTo(img, fan);
  cv::Mat beside(img.size(), CV_8U, cv::Scalar(0));
  cv::putText(img, "L12 CFM 7.5MHz", {4, 14}, cv::FONT_HERSHEY_PLAIN, 0.9, cv::Scalar(200, 200, 200));
  cv::putText(beside, "L12 CFM 7.5MHz", {4, 14}, cv::FONT_HERSHEY_PLAIN, 0.9, cv::Scalar(255));
  for (int y = 60; y < 160; ++y)  // colour bar: red over blue, 6 px wide
    for (int x = 300; x < 306; ++x) {
      img.at<cv::Vec3b>(y, x) = y < 110 ? cv::Vec3b(30, 40, 230) : cv::Vec3b(230, 60, 30);
      beside.at<uchar>(y, x) = 255;
    }
  for (int y = 30; y < 200; y += 14) cv::rectangle(img, cv::Rect(8, y, 3, 2), cv::Scalar(150, 150, 150));

  const cv::Mat sector = scan_sector(img);
  const double area = cv::countNonZero(sector), truth = cv::countNonZero(fan);
  CHECK(std::abs(area - truth) / truth < 0.03);
  CHECK(cv::countNonZero(sector & beside) == 0);
  const cv::Mat out = apply_mask(img, parse_mask({"outside_sector"}));
  cv::Mat out_grey;
  cv::cvtColor(out, out_grey, cv::COLOR_BGR2GRAY);
  CHECK(cv::countNonZero(out_grey & (fan == 0)) == 0);  // black outside the fan
  cv::Mat diff;
  cv::absdiff(out, img, diff);
  cv::cvtColor(diff, diff, cv::COLOR_BGR2GRAY);
  CHECK(cv::countNonZero(diff & inner) == 0);  // the scan itself untouched

  // Nothing but black: the whole image is the sector (nothing to tell apart).
  CHECK(cv::countNonZero(scan_sector(cv::Mat(20, 30, CV_8UC3, cv::Scalar(0, 0, 0)))) == 600);
}

TEST_CASE("framing: the colour box is found on the unmasked image, then masked and cropped", "[mask]") {
  cv::Mat img = speckle(200, 160, 60.0, 3);
  cv::rectangle(img, cv::Rect(40, 30, 100, 80), cv::Scalar(220, 220, 220), 1);    // the box's outline
  CHECK(cv::countNonZero(annotation_marks(img)(cv::Rect(40, 30, 100, 1))) > 80);  // which the mask hides
  Framing f;
  f.mask = parse_mask({"annotations"});
  f.crop = parse_crop("colour_box");
  const cv::Mat out = apply_framing(img, f);
  CHECK(out.cols == 98);
  CHECK(out.rows == 78);
}
