// DICOM decoding against files written by pydicom from known pixels (tests/oracles/make_dicom_fixtures.py).
#include <catch2/catch.hpp>
#include <opencv2/imgcodecs.hpp>

#include "oess/data/dicom.h"
#include "oess/data/image.h"

using namespace oess::data;
using Catch::Matchers::Contains;

namespace {
std::string fx(const std::string& f) { return std::string(OESS_DICOM_DIR) + "/" + f; }
}  // namespace

TEST_CASE("RGB DICOM decodes to the same pixels as its PNG", "[dicom]") {
  const cv::Mat png = cv::imread(fx("rgb.png"), cv::IMREAD_COLOR);
  const cv::Mat dcm = decode_image(fx("rgb.dcm"));
  REQUIRE(dcm.type() == CV_8UC3);
  REQUIRE(dcm.size() == png.size());
  CHECK(cv::norm(dcm, png, cv::NORM_INF) == 0);
  CHECK(dcm.at<cv::Vec3b>(0, 0) == cv::Vec3b(50, 100, 200));  // written as RGB (200, 100, 50)
}

TEST_CASE("grey DICOM decodes to three equal channels of its PNG's pixels", "[dicom]") {
  const cv::Mat png = cv::imread(fx("grey.png"), cv::IMREAD_COLOR);
  DecodeNotes notes;
  const cv::Mat dcm = decode_image(fx("grey.dcm"), &notes);
  CHECK(cv::norm(dcm, png, cv::NORM_INF) == 0);
  CHECK(notes.grey == 1);
}

TEST_CASE("16-bit DICOM is scaled like any 16-bit image", "[dicom]") {
  DecodeNotes notes;
  const cv::Mat img = decode_image(fx("grey16.dcm"), &notes);
  CHECK(img.at<cv::Vec3b>(0, 0)[0] == 0);
  CHECK(img.at<cv::Vec3b>(0, 1)[0] == 1);
  CHECK(img.at<cv::Vec3b>(0, 2)[0] == 128);
  CHECK(img.at<cv::Vec3b>(0, 3)[0] == 255);
  CHECK(notes.sixteen_bit == 1);
}

TEST_CASE("multi-frame DICOM: first frame by default, any frame on request", "[dicom]") {
  DecodeNotes notes;
  CHECK(decode_image(fx("multiframe.dcm"), &notes).at<cv::Vec3b>(5, 5)[0] == 10);
  CHECK(notes.multi_frame == 1);
  CHECK(decode_image(fx("multiframe.dcm"), nullptr, 2).at<cv::Vec3b>(5, 5)[0] == 30);
  int frames = 0;
  read_dicom_frame(fx("multiframe.dcm"), 1, &frames);
  CHECK(frames == 3);
  REQUIRE_THROWS_WITH(decode_image(fx("multiframe.dcm"), nullptr, 3),
                      Contains("frame 3 requested, the file has 3"));
}
