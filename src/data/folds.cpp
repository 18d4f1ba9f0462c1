// K-fold assignment, stratified by grade and grouped by patient (data/folds.h).
#include "oess/data/folds.h"

#include <fmt/format.h>

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

std::vector<Group> groups_of(const Manifest& m) {
  std::vector<Group> groups;
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < m.samples.size(); ++i) {
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

Folds assign(const Manifest& m, const std::vector<Group>& groups, int k, uint64_t seed) {
  std::array<double, kGrades> target{};
  for (const auto& g : groups)
    for (size_t c = 0; c < kGrades; ++c) target[c] += g.grades[c];
  for (auto& t : target) t /= k;
  std::vector<size_t> order(groups.size());
  std::iota(order.begin(), order.end(), size_t{0});
  Rng rng(seed);
  rng.shuffle(order);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return groups[a].size() > groups[b].size(); });
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
  const auto groups = groups_of(m);
  check_enough_groups(m, groups, o.folds);
  std::vector<Folds> out;
  for (int r = 0; r < o.repeats; ++r)
    out.push_back(assign(m, groups, o.folds, mix_seed(o.seed, 0xF01D, static_cast<uint64_t>(r))));
  return out;
}

}  // namespace oess::data
