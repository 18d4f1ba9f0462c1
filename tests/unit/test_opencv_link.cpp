// OpenCV is linked and its PNG codec is lossless at 8 and 16 bits.
#include <catch2/catch.hpp>
#include <filesystem>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

namespace fs = std::filesystem;

static void round_trip(int type, const std::string& name) {
  cv::Mat img(37, 53, type);
  cv::RNG rng(1234);
  rng.fill(img, cv::RNG::UNIFORM, 0, CV_MAT_DEPTH(type) == CV_16U ? 65536 : 256);
  const fs::path file = fs::temp_directory_path() / ("oess_png_roundtrip_" + name + ".png");
  REQUIRE(cv::imwrite(file.string(), img));
  cv::Mat back = cv::imread(file.string(), cv::IMREAD_UNCHANGED);
  fs::remove(file);
  REQUIRE(back.type() == img.type());
  REQUIRE(back.size() == img.size());
  CHECK(cv::norm(img, back, cv::NORM_INF) == 0.0);
}

TEST_CASE("PNG round trip is exact for 8-bit colour", "[link][opencv]") { round_trip(CV_8UC3, "u8c3"); }
TEST_CASE("PNG round trip is exact for 16-bit grey", "[link][opencv]") { round_trip(CV_16UC1, "u16c1"); }
