// Every metric against scikit-learn on randomised and degenerate prediction files, to 1e-9.
#include <catch2/catch.hpp>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include <map>
#include "oess/core/error.h"
#include "oess/metrics/agreement.h"
#include "oess/metrics/evaluate.h"

using Catch::Matchers::Contains;
using nlohmann::json;

namespace {

std::string dir() { return std::string(OESS_METRICS_DIR); }

int compared = 0;

void same(const json& ours, const json& ref, const std::string& what) {
  INFO(what << ": oess " << ours.dump() << " vs scikit-learn " << ref.dump());
  if (ref.is_null()) {
    CHECK(ours.is_null());
  } else if (ref.is_array()) {
    REQUIRE(ours.is_array());
    REQUIRE(ours.size() == ref.size());
    for (size_t i = 0; i < ref.size(); ++i) same(ours[i], ref[i], what + "[" + std::to_string(i) + "]");
  } else if (ref.is_object()) {
    for (const auto& [k, v] : ref.items()) same(ours.at(k), v, what + "." + k);
  } else {
    REQUIRE(ours.is_number());
    CHECK(std::abs(ours.get<double>() - ref.get<double>()) <= 1e-9);
    ++compared;
  }
}

}  // namespace

TEST_CASE("every metric equals scikit-learn's, including degenerate cases", "[metrics][oracle]") {
  std::ifstream in(dir() + "/expected.json");
  const json cases = json::parse(in);
  REQUIRE(cases.size() >= 60);
  for (const auto& c : cases) {
    const auto pr = oess::metrics::read_predictions(dir() + "/" + c["file"].get<std::string>());
    CHECK(pr.binary == c["binary"].get<bool>());
    const json ours = json::parse(oess::metrics::evaluate(pr, /*bootstrap=*/0).to_json());
    same(ours, c["expected"], c["file"].get<std::string>());
  }
  std::cout << cases.size() << " prediction files, " << compared
            << " figures equal to scikit-learn's within 1e-9\n";
}

TEST_CASE("bootstrap intervals: seeded, bracketing the estimate, patients resampled whole", "[metrics]") {
  const auto pr = oess::metrics::read_predictions(dir() + "/case_0.csv");
  const json a = json::parse(oess::metrics::evaluate(pr, 500, 3).to_json());
  const json b = json::parse(oess::metrics::evaluate(pr, 500, 3).to_json());
  CHECK(a == b);
  const auto lo = a["accuracy_ci95"][0].get<double>(), hi = a["accuracy_ci95"][1].get<double>();
  CHECK(lo <= a["accuracy"].get<double>());
  CHECK(hi >= a["accuracy"].get<double>());
  CHECK(lo < hi);
  CHECK(a["bootstrap"]["unit"] == "image");
  // With every image its own patient the resampling units are the same; with one patient per pair of
  // images there are half as many units.
  auto paired = pr;
  for (size_t i = 0; i < paired.path.size(); ++i) paired.patient.push_back("P" + std::to_string(i / 2));
  const json p = json::parse(oess::metrics::evaluate(paired, 200, 3).to_json());
  CHECK(p["bootstrap"]["unit"] == "patient");
  // Per-patient sums: as computed here by hand from the file.
  std::map<std::string, std::pair<double, double>> sums;
  for (size_t i = 0; i < paired.path.size(); ++i) {
    sums[paired.patient[i]].first += paired.truth[i];
    sums[paired.patient[i]].second += paired.pred[i];
  }
  std::vector<double> t, q;
  for (const auto& [_, v] : sums) {
    t.push_back(v.first);
    q.push_back(v.second);
  }
  CHECK(p["per_patient"]["patients"].get<size_t>() == sums.size());
  CHECK(p["per_patient"]["icc_2_1"].get<double>() == Approx(oess::metrics::icc_2_1(t, q)));
  REQUIRE(p["per_patient"]["rows"].size() == sums.size());
  for (const auto& r : p["per_patient"]["rows"]) {
    CHECK(r["truth"].get<double>() == sums.at(r["patient"].get<std::string>()).first);
    CHECK(r["pred"].get<double>() == sums.at(r["patient"].get<std::string>()).second);
  }
  CHECK(p["bootstrap"]["units"].get<size_t>() == (pr.path.size() + 1) / 2);
}

TEST_CASE("predictions files are validated with the line named", "[metrics]") {
  const std::string f = dir() + "/bad.csv";
  auto check = [&](const std::string& text, const std::string& expected) {
    std::ofstream(f) << text;
    INFO(text);
    REQUIRE_THROWS_WITH(oess::metrics::read_predictions(f), Contains(expected));
  };
  check("path,truth,pred,p0,p1,p2,p3\na,0,0,0.5,0.5,0.5,0\n", "bad.csv:2: p0..p3 sum to 1.500000");
  check("path,truth,pred,p0,p1,p2,p3\na,4,0,1,0,0,0\n", "bad.csv:2: truth \"4\" is not a label 0..3");
  check("path,truth,pred,p1\na,1,2,0.4\n", "bad.csv:2: pred \"2\" is not a label 0..1");
  check("path,truth,pred,p1\na,1,1,1.4\n", "p1 = 1.4 is outside [0, 1]");
  check("path,truth,pred,p1\na,1,1,x\n", "bad.csv:2: p1 \"x\" is not a number");
  check("path,truth,pred,p1\na,1,1,0.9\na,0,0,0.1\n", "bad.csv:3: path \"a\" appears twice");
  check("path,truth,p1\na,1,0.9\n", "needs path, truth, pred and p1");
  check("path,truth,pred,p0,p1\na,1,1,0.1,0.9\n", "4-class predictions need all of p0, p1, p2, p3");
}

TEST_CASE("the study's Table 5 counts give binary kappa 0.739", "[metrics]") {
  // Table 5 as printed: TN 76, FP 12, FN 12, TP 7? Its percentages (86.4% of 88 healthy; 87.5% of diseased)
  // fit TN 76, FP 12, FN 11, TP 77 (n 176, accuracy 153/176 = 86.9%, sensitivity 77/88 = 0.875).
  // po = 153/176; pe = (88*87 + 88*89) / 176^2 = 0.5; kappa = (0.86932 - 0.5) / 0.5 = 0.7386.
  std::ofstream out(dir() + "/table5.csv");
  out << "path,truth,pred,p1\n";
  int i = 0;
  auto rows = [&](int n, int t, int p) {
    for (int k = 0; k < n; ++k) out << "i" << i++ << "," << t << "," << p << "," << (p ? 0.9 : 0.1) << "\n";
  };
  rows(76, 0, 0);
  rows(12, 0, 1);
  rows(11, 1, 0);
  rows(77, 1, 1);
  out.close();
  const json m = json::parse(
      oess::metrics::evaluate(oess::metrics::read_predictions(dir() + "/table5.csv"), 0).to_json());
  CHECK(m["accuracy"].get<double>() == Approx(153.0 / 176));
  CHECK(m["sensitivity"].get<double>() == Approx(0.875));
  CHECK(m["specificity"].get<double>() == Approx(76.0 / 88));
  CHECK(m["kappa"].get<double>() == Approx(0.7386).margin(0.0001));
}

#include "oess/metrics/agreement.h"

TEST_CASE("ICC(2,1) on a small example worked by hand", "[metrics]") {
  // a = 1 2 3 4, b = 2 2 4 5: MSR 3.791667, MSC 1.125, MSE 0.125 ->
  // ICC = (3.791667 - 0.125) / (3.791667 + 0.125 + 2 (1.125 - 0.125) / 4) = 0.830189.
  CHECK(oess::metrics::icc_2_1({1, 2, 3, 4}, {2, 2, 4, 5}) == Approx(0.830189).margin(1e-6));
  CHECK(oess::metrics::icc_2_1({1, 2, 3}, {1, 2, 3}) == Approx(1.0));
  CHECK(std::isnan(oess::metrics::icc_2_1({1}, {1})));
}

TEST_CASE("Wilcoxon signed-rank test equals scipy's", "[metrics][oracle]") {
  std::ifstream in(std::string(OESS_METRICS_DIR) + "/wilcoxon.json");
  const json cases = json::parse(in);
  REQUIRE(cases.size() == 9);
  for (const auto& c : cases) {
    const auto r = oess::metrics::wilcoxon_signed_rank(c["d"].get<std::vector<double>>());
    INFO("n " << c["d"].size() << " scipy statistic " << c["statistic"] << " p " << c["p"]);
    CHECK(r.exact == c["exact"].get<bool>());
    CHECK(r.statistic == Approx(c["statistic"].get<double>()).margin(1e-9));
    CHECK(r.p == Approx(c["p"].get<double>()).epsilon(1e-9).margin(1e-12));
  }
  CHECK(std::isnan(oess::metrics::wilcoxon_signed_rank({0, 0}).p));
}
