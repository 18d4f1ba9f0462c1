// Figures by group (evaluate_by) and the rows most wrong (worst_errors): metrics/evaluate.h.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdlib>
#include <map>

#include "oess/core/error.h"
#include "oess/metrics/evaluate.h"

namespace oess::metrics {

GroupTable evaluate_by(const Predictions& pr, const std::string& column, int bootstrap, uint64_t seed) {
  const auto* column_values = pr.column(column);
  if (!column_values)
    throw UsageError(fmt::format(
        "{}:1: no column \"{}\" to group by; the file's columns besides the "
        "predictions contract's: {}",
        pr.file, column,
        pr.extra_columns.empty() ? "none" : fmt::format("{}", fmt::join(pr.extra_columns, ", "))));
  const auto& values = *column_values;
  std::map<std::string, std::vector<size_t>> rows;
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i].empty())
      throw Error(fmt::format("{}:{}: column \"{}\" is empty: every row needs its group", pr.file,
                              pr.line.empty() ? 0 : pr.line[i], column));
    rows[values[i]].push_back(i);
  }
  if (rows.size() < 2)
    throw UsageError(
        fmt::format("{}: column \"{}\" holds one group only (\"{}\"): nothing to compare; evaluate "
                    "the file without grouping",
                    pr.file, column, rows.begin()->first));
  GroupTable table;
  table.column = column;
  for (const auto& [group, r] : rows) {
    GroupFigures g;
    g.group = group;
    g.metrics = evaluate(pr.subset(r), bootstrap, seed);
    const size_t units = g.metrics.bootstrap.units;
    if (r.size() < kMinGroupImages || units < kMinGroupUnits)
      g.too_small =
          fmt::format("{} images, {} {}s: fewer than {} images or {} {}s", r.size(), units,
                      g.metrics.bootstrap.unit, kMinGroupImages, kMinGroupUnits, g.metrics.bootstrap.unit);
    table.groups.push_back(std::move(g));
  }
  return table;
}

std::vector<size_t> worst_errors(const Predictions& pr, size_t n, const std::vector<size_t>& rows) {
  std::vector<size_t> wrong;
  if (rows.empty()) {
    for (size_t i = 0; i < pr.path.size(); ++i)
      if (pr.pred[i] != pr.truth[i]) wrong.push_back(i);
  } else {
    for (size_t i : rows)
      if (pr.pred[i] != pr.truth[i]) wrong.push_back(i);
  }
  auto confidence = [&](size_t i) { return pr.p[i][static_cast<size_t>(pr.pred[i])]; };
  std::sort(wrong.begin(), wrong.end(), [&](size_t a, size_t b) {
    const int ea = std::abs(pr.pred[a] - pr.truth[a]), eb = std::abs(pr.pred[b] - pr.truth[b]);
    if (ea != eb) return ea > eb;
    if (confidence(a) != confidence(b)) return confidence(a) > confidence(b);
    return pr.path[a] < pr.path[b];
  });
  if (wrong.size() > n) wrong.resize(n);
  return wrong;
}

}  // namespace oess::metrics
