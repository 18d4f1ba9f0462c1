// Several readers (issue #34): the consensus rules on a hand-made table with ties and missing grades, the
// manifest's reader columns and labels, and the agreement statistics on published worked examples.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "oess/core/error.h"
#include "oess/data/manifest.h"
#include "oess/data/readers.h"
#include "oess/metrics/readers.h"

using namespace oess;
namespace fs = std::filesystem;

namespace {
constexpr int X = data::kNoGrade;

std::string write(const std::string& name, const std::string& text) {
  const auto dir = fs::temp_directory_path() / "oess_test_readers";
  fs::create_directories(dir);
  const auto p = (dir / name).string();
  std::ofstream(p) << text;
  return p;
}
}  // namespace

TEST_CASE("consensus rules on a hand-made table with ties and missing grades", "[readers]") {
  using R = data::ConsensusRule;
  // grades                      majority  median  mean_rounded   (worked by hand)
  // {2, 2, 3}                   2         2       round(2.33) = 2
  // {1, 3}                      tie 1/3, median (lower middle) 1 -> 1;  median 1;  mean 2.0 -> 2
  // {0, 1, 1, 3}                1         1       1.25 -> 1
  // {0, 0, 2, 2}                tie 0/2, median 0 -> 0;  median 0;  mean 1.0 -> 1
  // {1, 2, X, 2, 3}             2         2       2.0 -> 2
  // {0, 3, X}                   tie, median 0 -> 0; median 0; mean 1.5 -> 2 (half up)
  // {1, 2, 3}                   all once: median 2 -> 2; median 2; mean 2 -> 2
  // {X, X}                      none
  const std::vector<std::vector<int>> rows{{2, 2, 3},       {1, 3},    {0, 1, 1, 3}, {0, 0, 2, 2},
                                           {1, 2, X, 2, 3}, {0, 3, X}, {1, 2, 3},    {X, X}};
  const std::vector<int> majority{2, 1, 1, 0, 2, 0, 2, X}, median{2, 1, 1, 0, 2, 0, 2, X},
      mean{2, 2, 1, 1, 2, 2, 2, X};
  for (size_t i = 0; i < rows.size(); ++i) {
    INFO("row " << i);
    CHECK(data::consensus(rows[i], R::kMajority) == majority[i]);
    CHECK(data::consensus(rows[i], R::kMedian) == median[i]);
    CHECK(data::consensus(rows[i], R::kMeanRounded) == mean[i]);
  }
  // {0, 2, 2, 3, 3}: 2 and 3 tie twice each; the median is 2 -> 2. {1, 1, 3, 3, 2}: median 2, 1 and 3 tie
  // and are equally far: the lower, 1.
  CHECK(data::consensus({0, 2, 2, 3, 3}, R::kMajority) == 2);
  CHECK(data::consensus({1, 1, 3, 3, 2}, R::kMajority) == 1);
}

TEST_CASE("a manifest's reader columns, the consensus label, an adjudicator, and bad grades", "[readers]") {
  const std::string csv = write("m.csv",
                                "path,patient,r1,r2,r3,adj\n"
                                "a.png,P1,2,2,3,\n"
                                "b.png,P1,1,,3,2\n"
                                "c.png,P2,0,0,0,\n"
                                "d.png,P2,,3,,\n");
  data::ManifestColumns c;
  c.readers = {"r1", "r2", "r3"};
  c.label = "consensus";
  const auto m = data::read_manifest(csv, false, c);
  REQUIRE(m.samples.size() == 4);
  CHECK(m.samples[1].reader_grades == std::vector<int>{1, X, 3});
  CHECK(m.scores() == std::vector<int>{2, 1, 0, 3});  // majority: b ties 1/3 at median 1 -> 1
  c.consensus = "adj";  // the adjudicator settles b (readers disagree); a disagrees too but has no grade
  CHECK_THROWS_WITH(data::read_manifest(csv, false, c),
                    Catch::Contains("m.csv:2: the readers disagree and the adjudicator adj gives no grade"));
  c.label = "r2";  // one reader: a.png 2, b.png not graded -> an error naming the line
  CHECK_THROWS_WITH(data::read_manifest(csv, false, c), Catch::Contains("m.csv:3: no grade to label it by"));
  c.label = "consensus";
  c.consensus = "majority";
  c.readers = {"r1", "r9"};
  CHECK_THROWS_WITH(data::read_manifest(csv, false, c), Catch::Contains("no reader column \"r9\""));
  const std::string bad = write("bad.csv", "path,score,r1,r2\na.png,1,4,1\nb.png,1,,2\n");
  c.readers = {"r1", "r2"};
  c.label = "score";
  CHECK_THROWS_WITH(data::read_manifest(bad, false, c), Catch::Contains("bad.csv:2: reader r1: grade \"4\""));
  const std::string none = write("none.csv", "path,score,r1,r2\na.png,1,,1\nb.png,1,,2\n");
  CHECK_THROWS_WITH(data::read_manifest(none, false, c), Catch::Contains("reader r1 gave no grade at all"));
}

TEST_CASE("ICC(2,1) and ICC(3,1) on Shrout and Fleiss's 6 targets x 4 judges", "[readers]") {
  // Shrout & Fleiss (1979), Table 2: ICC(2,1) = 0.29, ICC(3,1) = 0.71 (two decimals as published).
  metrics::ReaderTable t;
  t.readers = {"1", "2", "3", "4"};
  t.k = 11;
  t.grades = {{9, 2, 5, 8}, {6, 1, 3, 2}, {8, 4, 6, 8}, {7, 1, 2, 6}, {10, 5, 6, 9}, {6, 2, 4, 7}};
  const auto r = metrics::icc(t);
  CHECK(r.icc_2_1 == Approx(0.29).margin(0.005));
  CHECK(r.icc_3_1 == Approx(0.71).margin(0.005));
  CHECK(r.subjects == 6);
}

TEST_CASE("Fleiss' kappa and Krippendorff's alpha: perfect agreement, and a worked 3 x 3 case", "[readers]") {
  metrics::ReaderTable t;
  t.readers = {"a", "b", "c"};
  t.grades = {{0, 0, 0}, {1, 1, 1}, {3, 3, 3}};
  CHECK(metrics::fleiss_kappa(t) == Approx(1.0));
  CHECK(metrics::krippendorff_alpha_ordinal(t) == Approx(1.0));
  // By hand: subjects {0,0,1}, {1,1,1}, {2,2,0}, k = 4 (grade 3 unused). Counts per subject n_ij; P_i =
  // (sum n_ij^2 - 3) / 6: (5 - 3) / 6, (9 - 3) / 6, (5 - 3) / 6 -> P_bar = 10 / 18. Shares: grade 0 3/9,
  // grade 1 4/9, grade 2 2/9: P_e = (9 + 16 + 4) / 81 = 29 / 81. kappa = (10/18 - 29/81) / (1 - 29/81)
  // = (45 - 29) / (81 - 29) = 16 / 52.
  t.grades = {{0, 0, 1}, {1, 1, 1}, {2, 2, 0}};
  CHECK(metrics::fleiss_kappa(t) == Approx(16.0 / 52.0));
}
