// Metrics on the study's own tables, worked out by hand.
#include <catch2/catch.hpp>

#include "oess/metrics/metrics.h"

using namespace oess::metrics;

namespace {
// Build truth/pred vectors from a confusion matrix given as rows = truth.
Confusion from_table(const std::vector<std::vector<int>>& t) {
  std::vector<int> truth, pred;
  for (size_t i = 0; i < t.size(); ++i)
    for (size_t j = 0; j < t.size(); ++j)
      for (int n = 0; n < t[i][j]; ++n) {
        truth.push_back(static_cast<int>(i));
        pred.push_back(static_cast<int>(j));
      }
  return confusion(truth, pred, static_cast<int>(t.size()));
}
}  // namespace

TEST_CASE("the study's Table 4: accuracies and kappas recomputed", "[metrics]") {
  const Confusion c = from_table({{39, 4, 1, 0}, {5, 28, 11, 0}, {0, 11, 29, 4}, {0, 0, 8, 36}});
  CHECK(c.n() == 176);
  CHECK(accuracy(c) == Approx(132.0 / 176));  // 75.0%
  const auto pc = per_class_accuracy(c);
  CHECK(pc[0] == Approx(39.0 / 44));  // 88.6%
  CHECK(pc[1] == Approx(28.0 / 44));  // 63.6%
  CHECK(pc[2] == Approx(29.0 / 44));  // 65.9%
  CHECK(pc[3] == Approx(36.0 / 44));  // 81.8%
  // Unweighted: po = 132/176 = 0.75; every column total x 44 / 176: columns 44, 43, 49, 40 -> pe = 0.25;
  // kappa = (0.75 - 0.25) / 0.75 = 0.6667 (the paper's text says 0.61).
  CHECK(kappa(c, KappaWeights::kUnweighted) == Approx(2.0 / 3));
  CHECK(kappa(c, KappaWeights::kLinear) == Approx(0.794).margin(0.0005));     // paper: 0.74
  CHECK(kappa(c, KappaWeights::kQuadratic) == Approx(0.891).margin(0.0005));  // paper: 0.84
}

TEST_CASE("binary metrics on the study's Table 3", "[metrics]") {
  const Confusion c = from_table({{76, 12}, {12, 76}});
  CHECK(accuracy(c) == Approx(152.0 / 176));  // 86.4%
  CHECK(sensitivity(c) == Approx(76.0 / 88));
  CHECK(specificity(c) == Approx(76.0 / 88));
  // po = 0.8636, pe = 0.5 -> kappa = 0.7273
  CHECK(kappa(c, KappaWeights::kUnweighted) == Approx((152.0 / 176 - 0.5) / 0.5));
  CHECK(to_binary({0, 1, 2, 3}) == std::vector<int>{0, 0, 1, 1});
}

TEST_CASE("degenerate confusions give NaN where the statistic is undefined", "[metrics]") {
  const Confusion all_one = confusion({1, 1, 1}, {1, 1, 1}, 4);
  CHECK(std::isnan(kappa(all_one, KappaWeights::kUnweighted)));
  CHECK(std::isnan(per_class_accuracy(all_one)[0]));
  CHECK(mean_per_class_accuracy(all_one) == Approx(1.0));
  REQUIRE_THROWS(confusion({0, 4}, {0, 1}, 4));
}
