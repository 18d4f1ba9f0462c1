// The threshold fit against an exhaustive search over every threshold triple (the oracle), and by hand.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "oess/baseline/baseline.h"

using namespace oess::baseline;

namespace {
double balanced_accuracy(const Thresholds& t, const std::vector<double>& x, const std::vector<int>& y) {
  double hit[4] = {}, n[4] = {};
  for (size_t i = 0; i < x.size(); ++i) {
    n[y[i]] += 1;
    hit[y[i]] += t.predict(x[i]) == y[i];
  }
  double s = 0;
  int k = 0;
  for (int c = 0; c < 4; ++c)
    if (n[c] > 0) {
      s += hit[c] / n[c];
      ++k;
    }
  return s / k;
}
}  // namespace

TEST_CASE("separable fractions: thresholds at the midpoints, every training row right", "[baseline]") {
  const std::vector<double> x = {0.0, 0.0, 0.02, 0.04, 0.10, 0.12, 0.30, 0.40};
  const std::vector<int> y = {0, 0, 1, 1, 2, 2, 3, 3};
  const Thresholds t = fit_thresholds(x, y);
  CHECK(t.t[0] == Approx(0.01));
  CHECK(t.t[1] == Approx(0.07));
  CHECK(t.t[2] == Approx(0.21));
  for (size_t i = 0; i < x.size(); ++i) CHECK(t.predict(x[i]) == y[i]);
}

TEST_CASE("the dynamic programme finds the best thresholds an exhaustive search finds", "[baseline]") {
  std::mt19937 rng(3);
  for (int trial = 0; trial < 25; ++trial) {
    std::vector<double> x;
    std::vector<int> y;
    for (int i = 0; i < 24; ++i) {
      const int g = static_cast<int>(rng() % 4);
      y.push_back(g);
      x.push_back(std::round((g * 0.1 + std::normal_distribution<double>(0, 0.08)(rng)) * 50) / 50);  // ties
    }
    const double fitted = balanced_accuracy(fit_thresholds(x, y), x, y);
    // Oracle: every non-decreasing triple of candidate cut points (midpoints, plus +/- infinity).
    std::vector<double> sorted = x;
    std::sort(sorted.begin(), sorted.end());
    std::vector<double> cuts = {-INFINITY, INFINITY};
    for (size_t i = 1; i < sorted.size(); ++i)
      if (sorted[i] != sorted[i - 1]) cuts.push_back((sorted[i] + sorted[i - 1]) / 2);
    std::sort(cuts.begin(), cuts.end());
    double best = 0;
    for (size_t a = 0; a < cuts.size(); ++a)
      for (size_t b = a; b < cuts.size(); ++b)
        for (size_t c = b; c < cuts.size(); ++c) {
          Thresholds t;
          t.t = {cuts[a], cuts[b], cuts[c]};
          best = std::max(best, balanced_accuracy(t, x, y));
        }
    INFO("trial " << trial);
    CHECK(fitted == Approx(best).epsilon(1e-12));
  }
}

TEST_CASE("colour fraction counts chromatic pixels inside the box", "[baseline]") {
  cv::Mat img(10, 10, CV_8UC3, cv::Scalar(100, 100, 100));
  img(cv::Rect(0, 0, 2, 5)).setTo(cv::Scalar(20, 20, 220));  // 10 red pixels
  CHECK(colour_fraction(img, cv::Rect()) == Approx(0.10));   // whole image: 10 / 100
  CHECK(colour_fraction(img, cv::Rect(0, 0, 5, 4)) == Approx(8.0 / 20));
}
