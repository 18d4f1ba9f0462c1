#include "oess/data/split.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "oess/config/choices.h"
#include "oess/core/error.h"
#include "oess/core/random.h"
#include "oess/core/warning.h"
#include "oess/io/csv.h"

namespace oess::data {
namespace {

std::vector<std::vector<size_t>> by_grade(const Manifest& m) {
  std::vector<std::vector<size_t>> g(kNumGrades);
  for (size_t i = 0; i < m.samples.size(); ++i) g[static_cast<size_t>(m.samples[i].score)].push_back(i);
  return g;
}

// Within each grade: shuffle, then the first n_test to test, the next n_val to validation.
Split take_per_grade(const Manifest& m, Rng& rng, const std::vector<int>& n_val,
                     const std::vector<int>& n_test) {
  Split s;
  s.part.assign(m.samples.size(), Part::kTrain);
  auto groups = by_grade(m);
  for (int g = 0; g < kNumGrades; ++g) {
    auto& idx = groups[static_cast<size_t>(g)];
    rng.shuffle(idx);
    const size_t t = static_cast<size_t>(n_test[static_cast<size_t>(g)]);
    const size_t v = static_cast<size_t>(n_val[static_cast<size_t>(g)]);
    for (size_t k = 0; k < idx.size() && k < t + v; ++k) s.part[idx[k]] = k < t ? Part::kTest : Part::kVal;
  }
  return s;
}

Split grouped(const Manifest& m, const SplitOptions& o, Rng& rng) {
  if (!m.has_patient)
    throw UsageError(fmt::format("{}: split method \"grouped\" needs a patient column", m.file));
  std::map<std::string, std::vector<size_t>> by_patient;
  for (size_t i = 0; i < m.samples.size(); ++i) {
    if (m.samples[i].patient.empty())
      throw Error(fmt::format("{}:{}: empty patient id (grouped split needs one on every row)", m.file,
                              m.samples[i].line));
    by_patient[m.samples[i].patient].push_back(i);
  }
  std::vector<std::string> patients;
  for (const auto& [p, _] : by_patient) patients.push_back(p);
  rng.shuffle(patients);
  std::stable_sort(patients.begin(), patients.end(), [&](const std::string& a, const std::string& b) {
    return by_patient[a].size() > by_patient[b].size();
  });
  const auto total = m.counts();
  const double frac[3] = {1.0 - o.val_fraction - o.test_fraction, o.val_fraction, o.test_fraction};
  double need[3][kNumGrades];
  for (int p = 0; p < 3; ++p)
    for (int g = 0; g < kNumGrades; ++g) need[p][g] = frac[p] * total[static_cast<size_t>(g)];
  Split s;
  s.part.assign(m.samples.size(), Part::kTrain);
  for (const auto& patient : patients) {
    int counts[kNumGrades] = {};
    for (size_t i : by_patient[patient]) ++counts[m.samples[i].score];
    // Score of a part: how much of this patient's images it still needs, minus how far they overshoot.
    int best = 0;
    double best_score = -1e300;
    for (int p : {2, 1, 0}) {  // test, then val, then train win ties: small parts fill first
      double sc = 0;
      for (int g = 0; g < kNumGrades; ++g) {
        const double fit = std::min<double>(counts[g], std::max(0.0, need[p][g]));
        sc += fit - 0.5 * (counts[g] - fit);
      }
      if (sc > best_score) {
        best_score = sc;
        best = p;
      }
    }
    for (int g = 0; g < kNumGrades; ++g) need[best][g] -= counts[g];
    for (size_t i : by_patient[patient]) s.part[i] = static_cast<Part>(best);
  }
  return s;
}

}  // namespace

std::string part_name(Part p) { return p == Part::kTrain ? "train" : p == Part::kVal ? "val" : "test"; }

std::vector<size_t> Split::indices(Part p) const {
  std::vector<size_t> out;
  for (size_t i = 0; i < part.size(); ++i)
    if (part[i] == p) out.push_back(i);
  return out;
}

std::vector<std::vector<int>> Split::counts(const Manifest& m) const {
  std::vector<std::vector<int>> c(3, std::vector<int>(kNumGrades, 0));
  for (size_t i = 0; i < part.size(); ++i)
    ++c[static_cast<size_t>(part[i])][static_cast<size_t>(m.samples[i].score)];
  return c;
}

namespace {
// Image-level splits of a manifest with patients can put one patient in training and test: test figures
// are then optimistic (leakage). Refused unless allowed; allowed (reproducing the study, which split images)
// it is still said.
Split check_overlap(const Manifest& m, Split s, const SplitOptions& o) {
  const auto both = patients_in_both(m, s, Part::kTrain, Part::kTest);
  if (both.empty()) return s;
  const std::string names =
      fmt::format("{}{}", fmt::join(both.begin(), both.begin() + std::min<size_t>(both.size(), 8), ", "),
                  both.size() > 8 ? fmt::format(", ... ({} in all)", both.size()) : "");
  if (!o.allow_patient_overlap)
    throw Error(fmt::format(
        "{}: the {} split puts {} patient(s) in both training and test: {}. Test figures would be optimistic "
        "(leakage). Use split method \"grouped\" to keep each patient in one part, or allow it knowingly "
        "(data.allow_patient_overlap: true, --allow-patient-overlap)",
        m.file, config::name(o.method), both.size(), names));
  const CodedWarning coded;  // the run records it as patient_overlap
  spdlog::warn(
      "{}: the {} split puts {} patient(s) in both training and test ({}): allowed by "
      "allow_patient_overlap; test figures will be optimistic",
      m.file, config::name(o.method), both.size(), names);
  return s;
}
}  // namespace

void validate_split_options(const SplitOptions& o) {
  if (o.method == config::SplitMethod::kLeaveGroupOut) {
    if (o.group_column.empty())
      throw UsageError(
          "data.split.method leave_group_out needs data.split.group_column: the manifest column whose values "
          "(centre, scanner, site ...) are the groups left out in turn");
    if (o.repeats != 1)
      throw UsageError(
          fmt::format("data.split.repeats: {}: leave_group_out leaves each group out once; repeats must be 1",
                      o.repeats));
  }
  if (config::cross_validated(o.method)) {
    if (o.method == config::SplitMethod::kKfold && o.folds < 2)
      throw UsageError(
          fmt::format("data.split.folds: {} fold(s): cross-validation needs at least 2", o.folds));
    if (o.repeats < 1) throw UsageError(fmt::format("data.split.repeats: {}: at least 1", o.repeats));
    if (!(o.val_fraction > 0 && o.val_fraction < 1))
      throw UsageError(fmt::format(
          "{} split: val_fraction {} must be > 0 and < 1 (the share of each fold's training part kept for "
          "validation)",
          config::name(o.method), o.val_fraction));
  }
  if (o.method == config::SplitMethod::kPerClass && (o.val_per_class < 0 || o.test_per_class < 0))
    throw UsageError("per_class split: val_per_class and test_per_class must be >= 0");
  if ((o.method == config::SplitMethod::kStratified || o.method == config::SplitMethod::kGrouped) &&
      !(o.val_fraction >= 0 && o.test_fraction >= 0 && o.val_fraction + o.test_fraction < 1))
    throw UsageError(fmt::format("{} split: fractions val {} + test {} must be >= 0 and sum to < 1",
                                 config::name(o.method), o.val_fraction, o.test_fraction));
}

Split make_split(const Manifest& m, const SplitOptions& o) {
  validate_split_options(o);
  Rng rng(mix_seed(o.seed, 0x5B11));
  const auto counts = m.counts();
  if (o.method == config::SplitMethod::kPerClass) {
    std::vector<std::string> short_grades;
    for (int g = 0; g < kNumGrades; ++g)
      if (counts[static_cast<size_t>(g)] < o.val_per_class + o.test_per_class)
        short_grades.push_back(fmt::format("grade {} has {}", g, counts[static_cast<size_t>(g)]));
    if (!short_grades.empty())
      throw Error(
          fmt::format("{}: {} image(s), fewer than the {} + {} the per_class split takes for validation "
                      "and test. For a smaller dataset: smaller counts (data.split.val_per_class, "
                      "test_per_class; --val-per-class, --test-per-class), a split by fractions keeping "
                      "patients together (data.split.method: grouped), or cross-validation "
                      "(data.split.method: kfold), which tests every image once",
                      m.file, fmt::join(short_grades, ", "), o.val_per_class, o.test_per_class));
    return check_overlap(m,
                         take_per_grade(m, rng, std::vector<int>(kNumGrades, o.val_per_class),
                                        std::vector<int>(kNumGrades, o.test_per_class)),
                         o);
  }
  if (o.method == config::SplitMethod::kStratified || o.method == config::SplitMethod::kGrouped) {
    if (!(o.val_fraction >= 0 && o.test_fraction >= 0 && o.val_fraction + o.test_fraction < 1))
      throw UsageError(fmt::format("{} split: fractions val {} + test {} must be >= 0 and sum to < 1",
                                   config::name(o.method), o.val_fraction, o.test_fraction));
    if (o.method == config::SplitMethod::kGrouped) return grouped(m, o, rng);
    std::vector<int> nv(kNumGrades), nt(kNumGrades);
    for (size_t g = 0; g < kNumGrades; ++g) {
      nt[g] = static_cast<int>(std::lround(o.test_fraction * counts[g]));
      nv[g] = static_cast<int>(std::lround(o.val_fraction * counts[g]));
    }
    return check_overlap(m, take_per_grade(m, rng, nv, nt), o);
  }
  if (o.method == config::SplitMethod::kColumn) {
    if (!m.has_split)
      throw UsageError(fmt::format("{}: split method \"column\" needs a split column", m.file));
    Split s;
    for (const auto& x : m.samples) {
      if (x.split.empty())
        throw Error(fmt::format(
            "{}:{}: empty split (method \"column\" needs train, val or test on every row)", m.file, x.line));
      s.part.push_back(x.split == "train" ? Part::kTrain : x.split == "val" ? Part::kVal : Part::kTest);
    }
    return check_overlap(m, s, o);
  }
  throw UsageError(fmt::format(
      "split method \"{}\" makes K splits, not one: `oess run` and `oess baseline` cross-validate; this "
      "command needs per_class, stratified, grouped or column",
      config::name(o.method)));
}

std::vector<std::string> patients_in_both(const Manifest& m, const Split& s, Part a, Part b) {
  if (!m.has_patient) return {};
  std::set<std::string> in_a, in_b;
  for (size_t i = 0; i < s.part.size(); ++i) {
    if (m.samples[i].patient.empty()) continue;
    if (s.part[i] == a) in_a.insert(m.samples[i].patient);
    if (s.part[i] == b) in_b.insert(m.samples[i].patient);
  }
  std::vector<std::string> both;
  std::set_intersection(in_a.begin(), in_a.end(), in_b.begin(), in_b.end(), std::back_inserter(both));
  return both;
}

void write_split_csv(const std::string& file, const Manifest& m, const Split& s) {
  io::CsvWriter w({"path", "score", "patient", "split"});
  for (size_t i = 0; i < m.samples.size(); ++i)
    w.row({m.samples[i].rel_path, std::to_string(m.samples[i].score), m.samples[i].patient,
           part_name(s.part[i])});
  w.write(file);
}

}  // namespace oess::data
