// K-fold assignment (data/folds.h): coverage, patient grouping, stratification, determinism, errors.
#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <set>
#include <string>

#include "oess/core/error.h"
#include "oess/core/random.h"
#include "oess/data/folds.h"

using oess::data::FoldOptions;
using oess::data::make_folds;
using oess::data::Manifest;

namespace {

// 40 patients with 1-9 images each, grades drawn per image with the study's proportions.
Manifest patients_manifest(uint64_t seed) {
  Manifest m;
  m.file = "mem.csv";
  m.has_patient = true;
  oess::Rng rng(seed);
  for (int p = 0; p < 40; ++p) {
    const int n = 1 + static_cast<int>(rng.below(9));
    for (int i = 0; i < n; ++i) {
      oess::data::Sample s;
      s.rel_path = "P" + std::to_string(p) + "_" + std::to_string(i) + ".png";
      s.patient = "P" + std::to_string(p);
      const double u = rng.uniform();
      s.score = u < 0.44 ? 0 : u < 0.69 ? 1 : u < 0.87 ? 2 : 3;
      m.samples.push_back(s);
    }
  }
  return m;
}

Manifest images_manifest(const std::vector<int>& grades) {
  Manifest m;
  m.file = "mem.csv";
  for (size_t i = 0; i < grades.size(); ++i) {
    oess::data::Sample s;
    s.rel_path = std::to_string(i) + ".png";
    s.score = grades[i];
    m.samples.push_back(s);
  }
  return m;
}

}  // namespace

TEST_CASE("k-fold: every image in exactly one test fold, no patient in two, train and test disjoint",
          "[folds]") {
  const Manifest m = patients_manifest(7);
  const auto all = make_folds(m, {5, 1, 11});
  REQUIRE(all.size() == 1);
  const auto& f = all[0];
  CHECK(f.grouped);
  REQUIRE(f.fold.size() == m.samples.size());
  std::vector<int> seen(m.samples.size(), 0);
  for (int k = 0; k < 5; ++k) {
    const auto test = f.test(k), train = f.train(k);
    CHECK(!test.empty());
    CHECK(test.size() + train.size() == m.samples.size());
    const std::set<size_t> test_set(test.begin(), test.end());
    for (size_t i : train) CHECK(test_set.count(i) == 0);  // the actual indices, not the fold labels
    std::set<std::string> test_patients, train_patients;
    for (size_t i : test) {
      ++seen[i];
      test_patients.insert(m.samples[i].patient);
    }
    for (size_t i : train) train_patients.insert(m.samples[i].patient);
    for (const auto& p : test_patients) CHECK(train_patients.count(p) == 0);
    std::set<int> grades;
    for (size_t i : test) grades.insert(m.samples[i].score);
    CHECK(grades.size() == 4);  // stratified: every grade in every test fold
  }
  for (int s : seen) CHECK(s == 1);
}

TEST_CASE("k-fold: same seed same folds, repeats and other seeds reshuffle", "[folds]") {
  const Manifest m = patients_manifest(3);
  const auto a = make_folds(m, {4, 3, 5});
  const auto b = make_folds(m, {4, 3, 5});
  REQUIRE(a.size() == 3);
  for (size_t r = 0; r < 3; ++r) CHECK(a[r].fold == b[r].fold);
  // Other partitions, not the same one relabelled: compare the folds as sets of images.
  auto partition = [](const oess::data::Folds& f) {
    std::set<std::vector<size_t>> p;
    for (int k = 0; k < f.k; ++k) p.insert(f.test(k));
    return p;
  };
  CHECK(partition(a[0]) != partition(a[1]));
  CHECK(partition(a[1]) != partition(a[2]));
  CHECK(partition(make_folds(m, {4, 1, 6})[0]) != partition(a[0]));
}

TEST_CASE("k-fold: repeats reshuffle even when every patient has a different number of images", "[folds]") {
  // 12 patients with 1..12 images (grades cycling): largest-first alone would give one partition for all.
  Manifest m;
  m.file = "sizes.csv";
  m.has_patient = true;
  for (int p = 0; p < 12; ++p)
    for (int i = 0; i <= p; ++i) {
      oess::data::Sample s;
      s.rel_path = std::to_string(p) + "_" + std::to_string(i) + ".png";
      s.patient = "P" + std::to_string(p);
      s.score = (p + i) % 4;
      m.samples.push_back(s);
    }
  const auto r = make_folds(m, {3, 4, 1});
  std::set<std::set<std::vector<size_t>>> partitions;
  for (const auto& f : r) {
    std::set<std::vector<size_t>> p;
    for (int k = 0; k < 3; ++k) p.insert(f.test(k));
    partitions.insert(p);
  }
  CHECK(partitions.size() >= 3);  // of 4 repeats
}

TEST_CASE("k-fold without patients: image folds, each grade spread evenly (hand-checked case)", "[folds]") {
  // Six images, grades 0 0 0 1 1 1, three folds: each fold must test exactly one 0 and one 1.
  const Manifest m = images_manifest({0, 0, 0, 1, 1, 1});
  const auto f = make_folds(m, {3, 1, 0})[0];
  CHECK_FALSE(f.grouped);
  for (int k = 0; k < 3; ++k) {
    std::map<int, int> per_grade;
    for (size_t i : f.test(k)) ++per_grade[m.samples[i].score];
    CHECK(per_grade == std::map<int, int>{{0, 1}, {1, 1}});
  }
  // 23 images of uneven grades (10, 7, 3, 3): per grade, fold sizes differ by at most one.
  std::vector<int> grades;
  for (int i = 0; i < 23; ++i) grades.push_back(i % 7 < 3 ? 0 : i % 7 < 5 ? 1 : i % 7 < 6 ? 2 : 3);
  const Manifest m2 = images_manifest(grades);
  const auto f2 = make_folds(m2, {3, 1, 2})[0];
  for (int g = 0; g < 4; ++g) {
    int lo = 1 << 30, hi = 0;
    for (int k = 0; k < 3; ++k) {
      int n = 0;
      for (size_t i : f2.test(k)) n += m2.samples[i].score == g;
      lo = std::min(lo, n);
      hi = std::max(hi, n);
    }
    CHECK(hi - lo <= 1);
  }
}

TEST_CASE("k-fold refuses 1 fold and a grade with fewer patients than folds", "[folds]") {
  const Manifest m = patients_manifest(7);
  CHECK_THROWS_AS(make_folds(m, {1, 1, 0}), oess::UsageError);
  CHECK_THROWS_AS(make_folds(m, {5, 0, 0}), oess::UsageError);
  // Grade 3 on two patients only, five folds.
  Manifest few = images_manifest({});
  few.has_patient = true;
  for (int p = 0; p < 10; ++p)
    for (int g = 0; g < 3; ++g) {
      oess::data::Sample s;
      s.rel_path = "P" + std::to_string(p) + "g" + std::to_string(g) + ".png";
      s.patient = "P" + std::to_string(p);
      s.score = g;
      few.samples.push_back(s);
    }
  for (int p = 0; p < 2; ++p) {
    oess::data::Sample s;
    s.rel_path = "P" + std::to_string(p) + "g3.png";
    s.patient = "P" + std::to_string(p);
    s.score = 3;
    few.samples.push_back(s);
  }
  try {
    make_folds(few, {5, 1, 0});
    FAIL("expected an error");
  } catch (const oess::UsageError&) {
    FAIL("a data problem, not a usage error");
  } catch (const oess::Error& e) {
    CHECK_THAT(e.what(), Catch::Contains("grade 3 has images of only 2 patient(s), fewer than the 5 folds"));
  }
  CHECK_NOTHROW(make_folds(few, {2, 1, 0}));
}

TEST_CASE("fold split: test is the fold, validation carved by patient from the rest, about the fraction",
          "[folds]") {
  const Manifest m = patients_manifest(3);
  const auto folds = make_folds(m, {5, 1, 2})[0];
  for (int f = 0; f < 5; ++f) {
    const auto s = oess::data::fold_split(m, folds, f, 0.2, 9);
    std::map<std::string, std::set<oess::data::Part>> parts_of;
    int val = 0, rest = 0;
    for (size_t i = 0; i < m.samples.size(); ++i) {
      CHECK((s.part[i] == oess::data::Part::kTest) == (folds.fold[i] == f));
      parts_of[m.samples[i].patient].insert(s.part[i]);
      if (folds.fold[i] != f) {
        ++rest;
        val += s.part[i] == oess::data::Part::kVal;
      }
    }
    for (const auto& [patient, parts] : parts_of) CHECK(parts.size() == 1);  // a patient in one part
    // Whole patients of 1-9 images: within 10 images of a fifth of the training part.
    CHECK(std::abs(val - 0.2 * rest) <= 10);
    CHECK(val > 0);
  }
  // Same inputs, same split; another seed, another carve.
  CHECK(oess::data::fold_split(m, folds, 1, 0.2, 9).part == oess::data::fold_split(m, folds, 1, 0.2, 9).part);
  CHECK(oess::data::fold_split(m, folds, 1, 0.2, 9).part !=
        oess::data::fold_split(m, folds, 1, 0.2, 10).part);
}

TEST_CASE("fold split without patients: validation per grade is the rounded fraction (hand-checked)",
          "[folds]") {
  // 10 images of each grade, 2 folds of 5 per grade: the other fold's 5 per grade, 40% -> 2 per grade.
  std::vector<int> grades;
  for (int g = 0; g < 4; ++g)
    for (int i = 0; i < 10; ++i) grades.push_back(g);
  const Manifest m = images_manifest(grades);
  const auto folds = make_folds(m, {2, 1, 5})[0];
  const auto s = oess::data::fold_split(m, folds, 0, 0.4, 1);
  const auto c = s.counts(m);
  for (size_t g = 0; g < 4; ++g) {
    CHECK(c[2][g] == 5);  // test
    CHECK(c[1][g] == 2);  // validation
    CHECK(c[0][g] == 3);  // training
  }
  // f = -1 (the refit): no test part; 40% of every grade's 10 to validation.
  const auto r = oess::data::fold_split(m, folds, -1, 0.4, 1).counts(m);
  for (size_t g = 0; g < 4; ++g) {
    CHECK(r[2][g] == 0);
    CHECK(r[1][g] == 4);
  }
}

namespace {
Manifest with_fold_column(const std::vector<std::pair<std::string, std::string>>& patient_fold) {
  Manifest m;
  m.file = "folds.csv";
  m.has_patient = true;
  m.extra_columns = {"fold"};
  for (size_t i = 0; i < patient_fold.size(); ++i) {
    oess::data::Sample s;
    s.rel_path = std::to_string(i) + ".png";
    s.patient = patient_fold[i].first;
    s.score = static_cast<int>(i % 4);
    s.line = static_cast<int>(i) + 2;
    s.extra = {{"fold", patient_fold[i].second}};
    m.samples.push_back(s);
  }
  return m;
}
}  // namespace

TEST_CASE("explicit folds: a fold column is taken as written, and checked", "[folds]") {
  const auto f = make_folds(with_fold_column({{"A", "1"}, {"B", "2"}, {"A", "1"}, {"C", "3"}}), {5, 1, 0});
  REQUIRE(f.size() == 1);
  CHECK(f[0].from_column);
  CHECK(f[0].k == 3);
  CHECK(f[0].fold == std::vector<int>{0, 1, 0, 2});
  CHECK_THROWS_WITH(make_folds(with_fold_column({{"A", "1"}, {"B", "x"}}), {5, 1, 0}),
                    Catch::Contains("folds.csv:3: fold \"x\" is not a fold number"));
  CHECK_THROWS_WITH(make_folds(with_fold_column({{"A", "1"}, {"B", "2"}, {"A", "2"}}), {5, 1, 0}),
                    Catch::Contains("folds.csv:4: patient A is in fold 2 here and in fold 1 on line 2"));
  CHECK_THROWS_WITH(make_folds(with_fold_column({{"A", "1"}, {"B", "3"}}), {5, 1, 0}),
                    Catch::Contains("no image in fold 2"));
  CHECK_THROWS_AS(make_folds(with_fold_column({{"A", "1"}, {"B", "2"}}), {5, 2, 0}), oess::UsageError);
}
