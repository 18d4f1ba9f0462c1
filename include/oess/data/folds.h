#pragma once
// oess/data/folds.h — K-fold assignment for cross-validation (issue #17's first step): every image in
// exactly one test fold, folds stratified by grade and grouped by patient.
//
// make_folds(manifest, options) -> one Folds per repeat. Groups are the patients when the manifest has a
// patient column (no patient in two folds), else single images (`grouped` false: the caller warns). Groups
// are visited by size class (1, 2-3, 4-7, 8-15 ... images; larger first), in seeded random order within a
// class, and each goes to the fold whose per-grade counts
// it brings closest to the per-grade targets (total / K): squared distance summed over grades, ties to the
// fold with fewer images, then the lower fold. Repeat r reshuffles with mix_seed(seed, r). Same manifest,
// options and seed -> the same folds.
// errors: UsageError when folds < 2 or repeats < 1; Error (exit 1) when a grade present in the manifest has
// fewer groups (patients, or images) than folds, naming the grade and both counts — a fold's test part
// would miss that grade.
// Explicit folds: a manifest with a `fold` column (integers 1..K, every value used) gives the folds as
// written (from_column true, `folds` ignored, repeats must be 1). errors: Error "FILE:LINE" for a value that
// is not an integer >= 1, a fold number with no image, a patient in two folds (naming it).
//
// Leave-group-out: with FoldOptions::group_column, one fold per distinct value of that manifest column, in
// sorted order (Folds::names holds the values; `folds` ignored, repeats must be 1). errors: UsageError when
// the column is not in the manifest (its columns listed) or holds one value only; Error "FILE:LINE" for an
// empty value and for a patient in two groups (naming both lines).
// group_grade_gaps(manifest, folds): for each group, the grades its test part lacks that training has
// (its per-grade figures are undefined there) and the grades it holds that no other group has (the
// model never trains on them) — sentences for coded warnings; empty when neither happens.
//
// fold_split(manifest, folds, f, val_fraction, seed): fold f's three parts: test = fold f; validation =
// about val_fraction of every grade of the rest, carved by group (patients kept together; visited as above,
// a group joins validation when it brings validation's per-grade counts closer to
// val_fraction x the training part's counts); training = the remainder. f = -1: no test part (the refit on
// every image). Same inputs -> same split. errors: Error when validation ends up empty (too few images).
#include <cstdint>
#include <string>
#include <vector>

#include "oess/data/manifest.h"
#include "oess/data/split.h"

namespace oess::data {

struct FoldOptions {
  int folds = 5;
  int repeats = 1;
  uint64_t seed = 0;
  std::string group_column = {};  // non-empty: leave-group-out on this column ("= {}": positional inits)
};

struct Folds {
  int k = 0;
  bool grouped = false;      // by patient
  bool from_column = false;  // the manifest's fold column
  std::string group_column;  // leave-group-out: the column; names[f] = fold f's group
  std::vector<std::string> names;
  std::vector<int> fold;                   // per manifest sample, 0..k-1: the fold whose test part holds it
  std::vector<size_t> test(int f) const;   // samples of fold f, manifest order
  std::vector<size_t> train(int f) const;  // every other sample, manifest order
};

std::vector<Folds> make_folds(const Manifest& m, const FoldOptions& options);
// The fold options a split's options ask for (kfold's K and repeats; leave_group_out's column).
FoldOptions fold_options(const SplitOptions& split, uint64_t seed);

std::vector<std::string> group_grade_gaps(const Manifest& m, const Folds& folds);

Split fold_split(const Manifest& m, const Folds& folds, int f, double val_fraction, uint64_t seed);

}  // namespace oess::data
