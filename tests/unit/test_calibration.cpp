// Temperature and Platt scaling against SciPy's fits of the same objectives, and by hand on small cases.
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "oess/calibration/platt.h"
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

TEST_CASE("Platt scaling finds SciPy's (a, b) (1e-5) on 16 seeded binary problems", "[calibration][oracle]") {
  std::ifstream in(std::string(OESS_METRICS_DIR) + "/platt.json");
  REQUIRE(in.good());
  const auto cases = nlohmann::json::parse(in);
  REQUIRE(cases.size() == 16);
  double worst = 0;
  for (const auto& c : cases) {
    const auto p = rows_of(c["p"]);
    const auto y = c["y"].get<std::vector<int>>();
    const auto fit = oess::calibration::fit_platt(p, y);
    CHECK(fit.converged);
    CHECK(fit.a == Approx(c["a"].get<double>()).margin(1e-5));
    CHECK(fit.b == Approx(c["b"].get<double>()).margin(1e-5));
    worst = std::max({worst, std::abs(fit.a - c["a"].get<double>()), std::abs(fit.b - c["b"].get<double>())});
    CHECK(fit.nll_before == Approx(c["nll_before"].get<double>()).epsilon(1e-9));
    CHECK(fit.nll_after == Approx(c["nll_after"].get<double>()).epsilon(1e-9));
    const auto q = oess::calibration::platt_scale(Probs(p.begin(), p.begin() + 5), fit.a, fit.b);
    for (size_t i = 0; i < 5; ++i) {
      CHECK(q[i][1] == Approx(c["scaled_first"][i].get<double>()).margin(1e-6));
      CHECK(q[i][0] + q[i][1] == Approx(1.0));
    }
  }
  std::cout << "Platt scaling: 16 fits within " << worst << " of SciPy's (a, b)\n";
}

TEST_CASE("Platt scaling by hand: (1, 0) leaves probabilities, separable data does not converge",
          "[calibration]") {
  const Probs p = {{0.7, 0.3, 0, 0}, {0.2, 0.8, 0, 0}};
  const auto same = oess::calibration::platt_scale(p, 1.0, 0.0);
  CHECK(same[0][1] == Approx(0.3));
  CHECK(same[1][1] == Approx(0.8));
  // a = 1/T, b = 0 is temperature scaling.
  const auto t = oess::calibration::scale(p, 2, 2.0), pl = oess::calibration::platt_scale(p, 0.5, 0.0);
  CHECK(pl[0][1] == Approx(t[0][1]));
  // logit 0.3 = -0.847; b = 0.847 puts it at 0.5.
  CHECK(oess::calibration::platt_scale(p, 1.0, std::log(0.7 / 0.3))[0][1] == Approx(0.5));
  // One threshold separates the labels: no finite optimum.
  const auto sep = oess::calibration::fit_platt(p, {0, 1});
  CHECK_FALSE(sep.converged);
  CHECK(sep.nll_after < 1e-3);
  CHECK_THROWS_AS(oess::calibration::fit_platt({}, {}), oess::UsageError);
  CHECK_THROWS_AS(oess::calibration::fit_platt({{0.5, 0.5, 0, 0}}, {2}), oess::Error);
}
