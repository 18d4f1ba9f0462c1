// K-fold assignment, stratified by grade and grouped by patient (data/folds.h).
#include "oess/data/folds.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <map>
#include <numeric>
#include <string>

#include "oess/core/error.h"
#include "oess/core/random.h"

namespace oess::data {
namespace {

constexpr size_t kGrades = 4;

struct Group {
  std::vector<size_t> samples;
  std::array<int, kGrades> grades{};
  size_t size() const { return samples.size(); }
};

// Groups of the samples `keep` says yes to (all when empty): patients, or single images.
std::vector<Group> groups_of(const Manifest& m, const std::vector<bool>& keep = {}) {
  std::vector<Group> groups;
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < m.samples.size(); ++i) {
    if (!keep.empty() && !keep[i]) continue;
    const auto& s = m.samples[i];
    size_t g = groups.size();
    if (m.has_patient) {
      auto [it, inserted] = index.emplace(s.patient, groups.size());
      g = it->second;
      if (inserted) groups.emplace_back();
    } else {
      groups.emplace_back();
    }
    groups[g].samples.push_back(i);
    ++groups[g].grades[static_cast<size_t>(s.score)];
  }
  return groups;
}

// A grade present in the manifest needs at least one group per fold.
void check_enough_groups(const Manifest& m, const std::vector<Group>& groups, int k) {
  for (size_t grade = 0; grade < kGrades; ++grade) {
    const auto n =
        std::count_if(groups.begin(), groups.end(), [&](const Group& g) { return g.grades[grade] > 0; });
    if (n > 0 && n < k)
      throw Error(
          fmt::format("{}: grade {} has images of only {} {}, fewer than the {} folds: every test fold "
                      "needs one (use at most {} folds)",
                      m.file, grade, n, m.has_patient ? "patient(s)" : "image(s)", k, n));
  }
}

// Size class of a group: 1, 2-3, 4-7, 8-15, ... images.
int size_class(size_t n) {
  int c = 0;
  while (n > 1) {
    n >>= 1;
    ++c;
  }
  return c;
}

// Larger size classes first (large groups placed early keep the folds balanced), seeded random order within
// a class (so that another seed or repeat gives other folds even when patients' sizes are all different).
std::vector<size_t> visiting_order(const std::vector<Group>& groups, uint64_t seed) {
  std::vector<size_t> order(groups.size());
  std::iota(order.begin(), order.end(), size_t{0});
  Rng rng(seed);
  rng.shuffle(order);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return size_class(groups[a].size()) > size_class(groups[b].size());
  });
  return order;
}

// The manifest's fold column, as written (1-based in the file, 0-based in Folds::fold).
Folds folds_from_column(const Manifest& m) {
  Folds out;
  out.grouped = m.has_patient;
  out.from_column = true;
  std::map<std::string, int> fold_of_patient;
  std::map<std::string, int> line_of_patient;
  for (const auto& s : m.samples) {
    const std::string v = s.value("fold");
    size_t used = 0;
    long f = 0;
    try {
      f = std::stol(v, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (v.empty() || used != v.size() || f < 1 || f > 1000)
      throw Error(
          fmt::format("{}:{}: fold \"{}\" is not a fold number (an integer from 1)", m.file, s.line, v));
    out.fold.push_back(static_cast<int>(f - 1));
    out.k = std::max(out.k, static_cast<int>(f));
    if (m.has_patient && !s.patient.empty()) {
      auto [it, inserted] = fold_of_patient.emplace(s.patient, static_cast<int>(f));
      if (inserted) line_of_patient[s.patient] = s.line;
      if (it->second != f)
        throw Error(fmt::format(
            "{}:{}: patient {} is in fold {} here and in fold {} on line {}: a patient in two folds leaks "
            "between training and test",
            m.file, s.line, s.patient, f, it->second, line_of_patient[s.patient]));
    }
  }
  if (out.k < 2)
    throw Error(fmt::format("{}: the fold column names {} fold(s): cross-validation needs at least 2", m.file,
                            out.k));
  for (int f = 0; f < out.k; ++f)
    if (std::find(out.fold.begin(), out.fold.end(), f) == out.fold.end())
      throw Error(fmt::format("{}: the fold column has no image in fold {} (folds are numbered 1..{})",
                              m.file, f + 1, out.k));
  return out;
}

// Leave-group-out: one fold per value of the column, sorted.
Folds folds_from_groups(const Manifest& m, const std::string& column) {
  if (std::find(m.extra_columns.begin(), m.extra_columns.end(), column) == m.extra_columns.end())
    throw UsageError(
        fmt::format("data.split.group_column: {} has no column \"{}\"; its other columns: {}", m.file, column,
                    m.extra_columns.empty() ? "none" : fmt::format("{}", fmt::join(m.extra_columns, ", "))));
  std::vector<std::string> value;
  std::map<std::string, std::pair<std::string, int>> group_of_patient;  // patient -> (group, line)
  for (const auto& s : m.samples) {
    const std::string v = s.value(column);
    if (v.empty())
      throw Error(fmt::format("{}:{}: {} is empty: leave_group_out needs every image's group", m.file, s.line,
                              column));
    if (m.has_patient && !s.patient.empty()) {
      const auto [it, inserted] = group_of_patient.emplace(s.patient, std::make_pair(v, s.line));
      if (!inserted && it->second.first != v)
        throw Error(
            fmt::format("{}:{}: patient {} is in {} \"{}\" here and in \"{}\" on line {}: a patient in two "
                        "groups would be in training and test",
                        m.file, s.line, s.patient, column, v, it->second.first, it->second.second));
    }
    value.push_back(v);
  }
  Folds out;
  out.grouped = m.has_patient;
  out.group_column = column;
  out.names = value;
  std::sort(out.names.begin(), out.names.end());
  out.names.erase(std::unique(out.names.begin(), out.names.end()), out.names.end());
  if (out.names.size() < 2)
    throw UsageError(
        fmt::format("data.split.group_column: {} holds one value only in {} (\"{}\"): "
                    "leave_group_out needs at least two groups",
                    column, m.file, out.names[0]));
  out.k = static_cast<int>(out.names.size());
  for (const auto& v : value)
    out.fold.push_back(
        static_cast<int>(std::lower_bound(out.names.begin(), out.names.end(), v) - out.names.begin()));
  return out;
}

Folds assign(const Manifest& m, const std::vector<Group>& groups, int k, uint64_t seed) {
  std::array<double, kGrades> target{};
  for (const auto& g : groups)
    for (size_t c = 0; c < kGrades; ++c) target[c] += g.grades[c];
  for (auto& t : target) t /= k;
  const auto order = visiting_order(groups, seed);
  std::vector<std::array<int, kGrades>> counts(static_cast<size_t>(k));
  std::vector<size_t> sizes(static_cast<size_t>(k));
  Folds out;
  out.k = k;
  out.grouped = m.has_patient;
  out.fold.assign(m.samples.size(), -1);
  for (size_t gi : order) {
    const Group& g = groups[gi];
    size_t best = 0;
    double best_cost = 0;
    for (size_t f = 0; f < static_cast<size_t>(k); ++f) {
      double cost = 0;  // distance to the targets of every fold, this one with the group added
      for (size_t c = 0; c < kGrades; ++c) {
        const double d = counts[f][c] + g.grades[c] - target[c];
        cost += d * d - (counts[f][c] - target[c]) * (counts[f][c] - target[c]);
      }
      if (f == 0 || cost < best_cost || (cost == best_cost && sizes[f] < sizes[best])) {
        best = f;
        best_cost = cost;
      }
    }
    for (size_t c = 0; c < kGrades; ++c) counts[best][c] += g.grades[c];
    sizes[best] += g.size();
    for (size_t i : g.samples) out.fold[i] = static_cast<int>(best);
  }
  return out;
}

}  // namespace

std::vector<size_t> Folds::test(int f) const {
  std::vector<size_t> out;
  for (size_t i = 0; i < fold.size(); ++i)
    if (fold[i] == f) out.push_back(i);
  return out;
}

std::vector<size_t> Folds::train(int f) const {
  std::vector<size_t> out;
  for (size_t i = 0; i < fold.size(); ++i)
    if (fold[i] != f) out.push_back(i);
  return out;
}

std::vector<Folds> make_folds(const Manifest& m, const FoldOptions& o) {
  if (o.folds < 2)
    throw UsageError(fmt::format("data.split.folds: {} fold(s): cross-validation needs at least 2", o.folds));
  if (o.repeats < 1) throw UsageError(fmt::format("data.split.repeats: {}: at least 1", o.repeats));
  if (!o.group_column.empty()) {
    if (o.repeats != 1)
      throw UsageError(
          fmt::format("data.split.repeats: {}: leave_group_out leaves each group out once", o.repeats));
    return {folds_from_groups(m, o.group_column)};
  }
  if (std::find(m.extra_columns.begin(), m.extra_columns.end(), "fold") != m.extra_columns.end()) {
    if (o.repeats != 1)
      throw UsageError(fmt::format(
          "data.split.repeats: {}: {} gives the folds in its fold column, which cannot be reshuffled",
          o.repeats, m.file));
    return {folds_from_column(m)};
  }
  const auto groups = groups_of(m);
  check_enough_groups(m, groups, o.folds);
  std::vector<Folds> out;
  for (int r = 0; r < o.repeats; ++r)
    out.push_back(assign(m, groups, o.folds, mix_seed(o.seed, 0xF01D, static_cast<uint64_t>(r))));
  return out;
}

FoldOptions fold_options(const SplitOptions& split, uint64_t seed) {
  FoldOptions o{split.folds, split.repeats, seed, {}};
  if (split.method == config::SplitMethod::kLeaveGroupOut) o.group_column = split.group_column;
  return o;
}

std::vector<std::string> group_grade_gaps(const Manifest& m, const Folds& folds) {
  std::vector<std::array<int, kGrades>> count(static_cast<size_t>(folds.k), std::array<int, kGrades>{});
  for (size_t i = 0; i < m.samples.size(); ++i)
    ++count[static_cast<size_t>(folds.fold[i])][static_cast<size_t>(m.samples[i].score)];
  std::vector<std::string> out;
  for (size_t f = 0; f < count.size(); ++f) {
    std::vector<int> lacks, unseen;
    for (size_t g = 0; g < kGrades; ++g) {
      int elsewhere = 0;
      for (size_t o = 0; o < count.size(); ++o)
        if (o != f) elsewhere += count[o][g];
      if (count[f][g] == 0 && elsewhere > 0) lacks.push_back(static_cast<int>(g));
      if (count[f][g] > 0 && elsewhere == 0) unseen.push_back(static_cast<int>(g));
    }
    const std::string name = f < folds.names.size() ? folds.names[f] : std::to_string(f + 1);
    if (!lacks.empty())
      out.push_back(
          fmt::format("group \"{}\" has no image of grade {} (the other groups have): its figures for "
                      "that grade are undefined, not zero",
                      name, fmt::join(lacks, ", ")));
    if (!unseen.empty())
      out.push_back(
          fmt::format("group \"{}\" holds the only images of grade {}: left out, the model never trains "
                      "on that grade and cannot call it",
                      name, fmt::join(unseen, ", ")));
  }
  return out;
}

Split fold_split(const Manifest& m, const Folds& folds, int f, double val_fraction, uint64_t seed) {
  Split s;
  s.part.assign(m.samples.size(), Part::kTrain);
  std::vector<bool> rest(m.samples.size());
  for (size_t i = 0; i < m.samples.size(); ++i) {
    rest[i] = folds.fold.at(i) != f;
    if (!rest[i]) s.part[i] = Part::kTest;
  }
  const auto groups = groups_of(m, rest);
  std::array<double, kGrades> target{};
  for (const auto& g : groups)
    for (size_t c = 0; c < kGrades; ++c) target[c] += val_fraction * g.grades[c];
  std::array<double, kGrades> val{};
  bool any = false;
  for (size_t gi : visiting_order(groups, mix_seed(seed, 0x7A1, static_cast<uint64_t>(f + 1)))) {
    const Group& g = groups[gi];
    double delta = 0;  // change of the squared distance to the targets if g joins validation
    for (size_t c = 0; c < kGrades; ++c) {
      const double before = val[c] - target[c], after = before + g.grades[c];
      delta += after * after - before * before;
    }
    if (delta >= 0) continue;
    for (size_t c = 0; c < kGrades; ++c) val[c] += g.grades[c];
    for (size_t i : g.samples) s.part[i] = Part::kVal;
    any = true;
  }
  if (!any)
    throw Error(fmt::format(
        "{}: fold {}: no {} could be held out for validation with val_fraction {} (too few images; raise "
        "data.split.val_fraction or use fewer folds)",
        m.file, f + 1, m.has_patient ? "patient" : "image", val_fraction));
  return s;
}

}  // namespace oess::data
