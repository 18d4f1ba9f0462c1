#pragma once
// oess/data/split.h — dividing a manifest into train / validation / test, seeded and reproducible.
//
// Methods (SplitOptions::method):
//   per_class   the study's: N images of each grade to validation and N to test, drawn at random, the rest
//               to training (Table 1: N = 44). requires: every grade has at least val + test images, else
//               oess::Error naming the grade and counts.
//   stratified  per grade, round(fraction * count) to validation and to test, the rest training.
//   grouped     by patient: every patient's images go to one part; patients are assigned (largest first,
//               ties in seeded random order) to the part whose per-grade targets they fill best, so grades
//               stay as balanced as grouping allows. requires: a patient column.
//   column      the manifest's split column. requires: the column, and a value on every row.
//   kfold       not one split but K (and R repeats): data/folds.h (make_folds, fold_split). make_split
//               refuses it (UsageError); validate_split_options checks folds >= 2, repeats >= 1 and
//               0 < val_fraction < 1 (the share of each fold's training part kept for validation).
//   leave_group_out  as kfold, one fold per value of group_column (data/folds.h); validate_split_options
//               requires group_column and repeats = 1.
// Leakage guard: with a patient column, a split that puts a patient in both training and test is refused
// (oess::Error naming the patients) unless allow_patient_overlap, when it is logged as a warning.
// ensures: every sample in exactly one part; the same manifest, options and seed give the same split on
// every platform.
#include <cstdint>
#include <string>
#include <vector>

#include "oess/config/choices.h"
#include "oess/data/manifest.h"

namespace oess::data {

enum class Part { kTrain = 0, kVal = 1, kTest = 2 };
std::string part_name(Part p);

struct SplitOptions {
  config::SplitMethod method = config::SplitMethod::kPerClass;
  int val_per_class = 44, test_per_class = 44;
  double val_fraction = 0.1, test_fraction = 0.1;
  uint64_t seed = 0;
  bool allow_patient_overlap = false;  // else a patient in both training and test is an error
  int folds = 5, repeats = 1;          // kfold (data/folds.h)
  std::string group_column;            // leave_group_out (data/folds.h)
};

struct Split {
  std::vector<Part> part;  // per manifest sample
  std::vector<size_t> indices(Part p) const;
  // counts[part][grade]
  std::vector<std::vector<int>> counts(const Manifest& m) const;
};

Split make_split(const Manifest& m, const SplitOptions& options);

// The checks make_split applies to the options alone (method name, counts, fractions), so a bad request
// fails before any data is read. errors: oess::UsageError naming the option.
void validate_split_options(const SplitOptions& options);

// Patients with images in both `a` and `b`, sorted. Empty when the manifest has no patient column.
std::vector<std::string> patients_in_both(const Manifest& m, const Split& s, Part a, Part b);

// split.csv: path (as in the manifest), score, patient, split — one row per sample, manifest order.
void write_split_csv(const std::string& file, const Manifest& m, const Split& s);

}  // namespace oess::data
