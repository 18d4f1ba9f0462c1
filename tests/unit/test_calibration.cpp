// Temperature scaling against SciPy's fit of the same objective, and by hand on small cases.
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "oess/calibration/temperature.h"
#include "oess/core/error.h"

using oess::calibration::Probs;

namespace {

Probs rows_of(const nlohmann::json& j) {
  Probs p;
  for (const auto& r : j) {
    std::array<double, 4> row{};
    for (size_t c = 0; c < r.size(); ++c) row[c] = r[c].get<double>();
    p.push_back(row);
  }
  return p;
}

}  // namespace

TEST_CASE("temperature scaling finds SciPy's temperature (1e-4) on 24 seeded problems",
          "[calibration][oracle]") {
  std::ifstream in(std::string(OESS_METRICS_DIR) + "/temperature.json");
  REQUIRE(in.good());
  const auto cases = nlohmann::json::parse(in);
  REQUIRE(cases.size() == 24);
  double worst = 0;
  for (const auto& c : cases) {
    const int k = c["k"].get<int>();
    const auto p = rows_of(c["p"]);
    const auto y = c["y"].get<std::vector<int>>();
    const auto fit = oess::calibration::fit_temperature(p, y, k);
    const double t = c["temperature"].get<double>();
    CHECK(std::abs(fit.temperature - t) <= 1e-4 * t);
    worst = std::max(worst, std::abs(fit.temperature - t) / t);
    CHECK(fit.nll_before == Approx(c["nll_before"].get<double>()).epsilon(1e-9));
    CHECK(fit.nll_after == Approx(c["nll_after"].get<double>()).epsilon(1e-7));
    CHECK(fit.nll_after <= fit.nll_before + 1e-12);
    const auto q = oess::calibration::scale(Probs(p.begin(), p.begin() + 5), k, fit.temperature);
    const auto& ref = c["scaled_first"];
    for (size_t i = 0; i < 5; ++i)
      for (int j = 0; j < k; ++j)
        CHECK(q[i][static_cast<size_t>(j)] ==
              Approx(ref[i][static_cast<size_t>(j)].get<double>()).margin(1e-5));
  }
  std::cout << "temperature scaling: 24 fits within " << worst << " (relative) of SciPy's\n";
}

TEST_CASE("temperature scaling by hand: T = 1 leaves probabilities, T = 2 takes square roots",
          "[calibration]") {
  const Probs p = {{0.64, 0.36, 0, 0}, {0.1, 0.9, 0, 0}};
  const auto same = oess::calibration::scale(p, 2, 1.0);
  CHECK(same[0][0] == Approx(0.64));
  const auto soft = oess::calibration::scale(p, 2, 2.0);
  CHECK(soft[0][0] == Approx(0.8 / (0.8 + 0.6)));  // sqrt(.64) / (sqrt(.64) + sqrt(.36))
  CHECK(soft[0][0] + soft[0][1] == Approx(1.0));
  // One image called 0.9 / 0.1 and right, one called 0.9 / 0.1 and wrong: the best is to say 50/50 (T -> inf
  // within the bracket).
  const Probs q = {{0.9, 0.1, 0, 0}, {0.9, 0.1, 0, 0}};
  const auto fit = oess::calibration::fit_temperature(q, {0, 1}, 2);
  CHECK(fit.temperature > 100);
  CHECK(fit.nll_after == Approx(std::log(2.0)).epsilon(1e-3));
}

TEST_CASE("temperature scaling refuses what it cannot fit", "[calibration]") {
  CHECK_THROWS_AS(oess::calibration::fit_temperature({}, {}, 4), oess::UsageError);
  CHECK_THROWS_AS(oess::calibration::fit_temperature({{0.5, 0.5, 0, 0}}, {2}, 2), oess::Error);
  CHECK_THROWS_AS(oess::calibration::fit_temperature({{0.5, 0.5, 0, 0}}, {0, 1}, 2), oess::Error);
}
