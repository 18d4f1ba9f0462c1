// Command-line options several subcommands share (options.h).
#include "options.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>

#include "oess/config/choices.h"
#include "oess/core/error.h"
#include "oess/data/split.h"

namespace oess::cli {

void add_split_options(CLI::App& sub, data::SplitOptions& s) {
  add_choice_option(sub, "--split-method", s.method, "how images are divided");
  sub.add_option("--val-per-class", s.val_per_class, "per_class: validation images per grade")
      ->capture_default_str();
  sub.add_option("--test-per-class", s.test_per_class, "per_class: test images per grade")
      ->capture_default_str();
  sub.add_option("--val-fraction", s.val_fraction,
                 "stratified/grouped: validation fraction; kfold: share of each fold's training part held "
                 "out for validation")
      ->capture_default_str();
  sub.add_option("--folds", s.folds, "kfold: number of folds (patients kept together)")
      ->capture_default_str();
  sub.add_option("--repeats", s.repeats, "kfold: repeats of the folds, each reshuffled")
      ->capture_default_str();
  sub.add_option(
      "--group-column", s.group_column,
      "leave_group_out: the manifest column of the groups (centre, scanner), each left out in turn");
  sub.add_option("--test-fraction", s.test_fraction, "stratified/grouped: test fraction")
      ->capture_default_str();
  sub.add_option("--seed", s.seed, "split seed")->capture_default_str();
  sub.add_flag("--allow-patient-overlap", s.allow_patient_overlap,
               "allow a patient in both training and test (the study split images; test figures are then "
               "optimistic)");
}

void parse_shard(const std::string& text, int& k, int& n) {
  if (text.empty()) return;
  if (std::sscanf(text.c_str(), "%d/%d", &k, &n) != 2 || n < 1 || k < 1 || k > n)
    throw UsageError(fmt::format("--shard \"{}\": expected K/N with 1 <= K <= N, e.g. 3/8", text));
}

void print_warnings(const std::vector<RunWarning>& warnings, const std::string& where) {
  if (warnings.empty()) return;
  fmt::print("\n{} warning(s){}:\n", warnings.size(), where);
  for (const auto& w : warnings) fmt::print("  [{}] {}\n", w.code, w.message);
}

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    const size_t end = std::min(s.find(',', start), s.size());
    if (end > start) out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace oess::cli
