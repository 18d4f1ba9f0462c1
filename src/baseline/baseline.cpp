#include "oess/baseline/baseline.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <numeric>

#include "oess/core/error.h"

namespace oess::baseline {

double colour_fraction(const cv::Mat& bgr, const cv::Rect& box_in) {
  CV_Assert(bgr.type() == CV_8UC3);
  const cv::Rect box =
      box_in.area() > 0 ? (box_in & cv::Rect(0, 0, bgr.cols, bgr.rows)) : cv::Rect(0, 0, bgr.cols, bgr.rows);
  long colour = 0;
  for (int y = box.y; y < box.y + box.height; ++y) {
    const auto* p = bgr.ptr<cv::Vec3b>(y);
    for (int x = box.x; x < box.x + box.width; ++x) {
      const int lo = std::min({p[x][0], p[x][1], p[x][2]}), hi = std::max({p[x][0], p[x][1], p[x][2]});
      colour += hi - lo >= 60;
    }
  }
  return box.area() ? static_cast<double>(colour) / box.area() : 0.0;
}

int Thresholds::predict(double f) const {
  int g = 0;
  for (double x : t) g += f >= x;
  return g;
}

Thresholds fit_thresholds(const std::vector<double>& x, const std::vector<int>& y, bool balanced) {
  if (x.empty() || x.size() != y.size())
    throw Error("fit_thresholds: need equal, non-empty fractions and grades");
  std::array<double, 4> count{};
  for (int g : y) {
    if (g < 0 || g > 3) throw Error(fmt::format("fit_thresholds: grade {} outside 0..3", g));
    count[static_cast<size_t>(g)] += 1;
  }
  std::vector<size_t> order(x.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return x[a] < x[b]; });
  // Blocks of equal fractions must share a grade.
  std::vector<double> value;
  std::vector<std::array<double, 4>> gain;
  for (size_t k = 0; k < order.size(); ++k) {
    const size_t i = order[k];
    if (value.empty() || x[i] != value.back()) {
      value.push_back(x[i]);
      gain.push_back({});
    }
    gain.back()[static_cast<size_t>(y[i])] += balanced ? 1.0 / count[static_cast<size_t>(y[i])] : 1.0;
  }
  const size_t nb = value.size();
  // best[b][c]: best total for blocks 0..b with block b given grade c (grades non-decreasing).
  std::vector<std::array<double, 4>> best(nb);
  std::vector<std::array<int, 4>> from(nb);
  for (size_t b = 0; b < nb; ++b)
    for (int c = 0; c < 4; ++c) {
      double prev = 0;
      int arg = c;
      if (b > 0) {
        prev = -std::numeric_limits<double>::infinity();
        for (int p = 0; p <= c; ++p)
          if (best[b - 1][static_cast<size_t>(p)] > prev) {
            prev = best[b - 1][static_cast<size_t>(p)];
            arg = p;
          }
      }
      best[b][static_cast<size_t>(c)] = prev + gain[b][static_cast<size_t>(c)];
      from[b][static_cast<size_t>(c)] = arg;
    }
  std::vector<int> grade(nb);
  grade[nb - 1] =
      static_cast<int>(std::max_element(best[nb - 1].begin(), best[nb - 1].end()) - best[nb - 1].begin());
  for (size_t b = nb - 1; b > 0; --b) grade[b - 1] = from[b][static_cast<size_t>(grade[b])];
  Thresholds th;
  const double inf = std::numeric_limits<double>::infinity();
  for (int j = 1; j <= 3; ++j) {
    // First block predicted >= j; the threshold lies midway from the block before it.
    size_t b = 0;
    while (b < nb && grade[b] < j) ++b;
    th.t[static_cast<size_t>(j - 1)] = b == nb ? inf : b == 0 ? -inf : (value[b - 1] + value[b]) / 2;
  }
  return th;
}

}  // namespace oess::baseline
