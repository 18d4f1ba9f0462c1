// Per-group evaluation of a run (evaluate.by, leave_group_out): the manifest's group columns carried into
// predictions.csv, and each group's figures in metrics.json (experiment/chain.h).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <set>
#include <unordered_map>

#include "oess/core/error.h"
#include "oess/experiment/chain.h"

namespace oess::experiment {

void check_group_columns(const Chain& c, const std::vector<size_t>& test) {
  const auto& m = c.manifest;
  for (const auto& col : c.s.evaluate_by) {
    if (std::find(m.extra_columns.begin(), m.extra_columns.end(), col) == m.extra_columns.end())
      throw UsageError(fmt::format(
          "evaluate.by: {} has no column \"{}\"; its other columns: {}", m.file, col,
          m.extra_columns.empty() ? "none" : fmt::format("{}", fmt::join(m.extra_columns, ", "))));
    std::set<std::string> groups;
    for (const auto& s : m.samples)
      if (s.value(col).empty())
        throw Error(
            fmt::format("{}:{}: {} is empty: evaluate.by needs every image's group", m.file, s.line, col));
    if (test.empty())
      for (const auto& s : m.samples) groups.insert(s.value(col));
    for (size_t i : test) groups.insert(m.samples[i].value(col));
    if (groups.size() < 2)
      throw UsageError(
          fmt::format("evaluate.by: the test images all have {} \"{}\": no groups to compare "
                      "(a split by that column, or data.split.method: leave_group_out, tests them all)",
                      col, *groups.begin()));
  }
}

std::vector<std::pair<std::string, std::vector<std::string>>> group_columns(const Chain& c,
                                                                            const metrics::Predictions& pr) {
  std::unordered_map<std::string, const data::Sample*> by_path;
  for (const auto& s : c.manifest.samples) by_path[s.rel_path] = &s;
  std::vector<std::pair<std::string, std::vector<std::string>>> out;
  for (const auto& col : c.s.evaluate_by) {
    std::vector<std::string> values;
    for (const auto& path : pr.path) {
      const auto it = by_path.find(path);
      values.push_back(it == by_path.end() ? "" : it->second->value(col));
    }
    out.emplace_back(col, std::move(values));
  }
  return out;
}

void evaluate_groups(Chain& c) {
  for (const auto& col : c.s.evaluate_by)
    c.metrics->by.push_back(metrics::evaluate_by(c.predictions, col, c.s.bootstrap, c.s.seed));
  c.metrics_text = c.metrics->to_json();
}

}  // namespace oess::experiment
