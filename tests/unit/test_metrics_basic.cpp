// Metrics on the study's own tables, worked out by hand.
#include <catch2/catch.hpp>

#include "oess/metrics/metrics.h"
#include "oess/metrics/paired.h"

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

TEST_CASE("paired: McNemar exact and Holm on hand-computed cases") {
  using oess::metrics::holm;
  using oess::metrics::mcnemar_exact;
  CHECK(mcnemar_exact(0, 0) == 1.0);                              // no discordant pair
  CHECK(mcnemar_exact(0, 5) == Approx(2.0 / 32).epsilon(1e-12));  // 2 P(X <= 0), X ~ B(5, 1/2)
  CHECK(mcnemar_exact(4, 1) == Approx(2 * 6.0 / 32).epsilon(1e-12));
  CHECK(mcnemar_exact(3, 3) == 1.0);  // 2 P(X <= 3) > 1, capped
  // Holm: sorted 0.01 x 3 = 0.03, 0.03 x 2 = 0.06, 0.04 x 1 = 0.04 -> monotone 0.06; input order kept.
  const auto h = holm({0.01, 0.04, 0.03});
  REQUIRE(h.size() == 3);
  CHECK(h[0] == Approx(0.03));
  CHECK(h[1] == Approx(0.06));
  CHECK(h[2] == Approx(0.06));
  CHECK(holm({0.6, 0.5})[0] == 1.0);  // capped at 1
}

TEST_CASE("paired: bootstrap keeps pairs together and resamples patients") {
  // Identical predictions: every resample's difference is 0.
  const std::vector<int> t = {0, 1, 2, 3, 0, 1}, a = {0, 1, 2, 0, 0, 2};
  const auto same = oess::metrics::paired_bootstrap(t, a, a, {"p", "p", "q", "q", "r", "r"}, 4, 200, 1);
  CHECK(same.accuracy_diff == 0);
  CHECK(same.accuracy_lo == 0);
  CHECK(same.accuracy_hi == 0);
  CHECK(same.units == 3);
  // B right everywhere A is wrong (2 of 6): +1/3, and every resample's difference is >= 0.
  const auto better = oess::metrics::paired_bootstrap(t, a, t, {}, 4, 500, 1);
  CHECK(better.accuracy_diff == Approx(2.0 / 6));
  CHECK(better.only_b == 2);
  CHECK(better.only_a == 0);
  CHECK(better.accuracy_lo >= 0);
  CHECK(better.units == 6);
  CHECK_THROWS(oess::metrics::paired_bootstrap(t, a, {0}, {}, 4, 10, 1));
}
