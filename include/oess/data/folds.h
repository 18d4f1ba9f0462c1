#pragma once
// oess/data/folds.h — K-fold assignment for cross-validation (issue #17's first step): every image in
// exactly one test fold, folds stratified by grade and grouped by patient.
//
// make_folds(manifest, options) -> one Folds per repeat. Groups are the patients when the manifest has a
// patient column (no patient in two folds), else single images (`grouped` false: the caller warns). Groups
// are visited largest first (ties in seeded random order) and each goes to the fold whose per-grade counts
// it brings closest to the per-grade targets (total / K): squared distance summed over grades, ties to the
// fold with fewer images, then the lower fold. Repeat r reshuffles with mix_seed(seed, r). Same manifest,
// options and seed -> the same folds.
// errors: UsageError when folds < 2 or repeats < 1; Error (exit 1) when a grade present in the manifest has
// fewer groups (patients, or images) than folds, naming the grade and both counts — a fold's test part
// would miss that grade.
#include <cstdint>
#include <vector>

#include "oess/data/manifest.h"

namespace oess::data {

struct FoldOptions {
  int folds = 5;
  int repeats = 1;
  uint64_t seed = 0;
};

struct Folds {
  int k = 0;
  bool grouped = false;                    // by patient
  std::vector<int> fold;                   // per manifest sample, 0..k-1: the fold whose test part holds it
  std::vector<size_t> test(int f) const;   // samples of fold f, manifest order
  std::vector<size_t> train(int f) const;  // every other sample, manifest order
};

std::vector<Folds> make_folds(const Manifest& m, const FoldOptions& options);

}  // namespace oess::data
