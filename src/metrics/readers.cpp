// Agreement between readers, consensus labels and the model as a reader (metrics/readers.h).
#include "oess/metrics/readers.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>

#include "oess/core/error.h"
#include "oess/core/random.h"
#include "oess/metrics/paired.h"

namespace oess::metrics {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

}  // namespace

std::vector<int> ReaderTable::column(size_t reader) const {
  std::vector<int> v;
  for (const auto& row : grades) v.push_back(row.at(reader));
  return v;
}

std::vector<size_t> ReaderTable::complete() const {
  std::vector<size_t> out;
  for (size_t i = 0; i < grades.size(); ++i)
    if (std::none_of(grades[i].begin(), grades[i].end(), [](int g) { return g == kMissing; }))
      out.push_back(i);
  return out;
}

ReaderTable ReaderTable::rows(const std::vector<size_t>& idx) const {
  ReaderTable t;
  t.readers = readers;
  t.k = k;
  for (size_t i : idx) {
    t.grades.push_back(grades.at(i));
    if (!units.empty()) t.units.push_back(units.at(i));
  }
  return t;
}

Confusion graded_confusion(const std::vector<int>& a, const std::vector<int>& b, int k) {
  std::vector<int> x, y;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i)
    if (a[i] != kMissing && b[i] != kMissing) {
      x.push_back(a[i]);
      y.push_back(b[i]);
    }
  return confusion(x, y, k);
}

double cohen_kappa(const std::vector<int>& a, const std::vector<int>& b, int k, KappaWeights w) {
  const Confusion c = graded_confusion(a, b, k);
  return c.n() < 2 ? kNaN : kappa(c, w);
}

double fleiss_kappa(const ReaderTable& t) {
  const auto rows = t.complete();
  const double m = static_cast<double>(t.readers.size());
  if (rows.empty() || m < 2) return kNaN;
  std::vector<double> share(static_cast<size_t>(t.k), 0.0);
  double p_bar = 0;
  for (size_t i : rows) {
    std::vector<double> n(static_cast<size_t>(t.k), 0.0);
    for (int g : t.grades[i]) n[static_cast<size_t>(g)] += 1;
    double sq = 0;
    for (size_t j = 0; j < n.size(); ++j) {
      sq += n[j] * n[j];
      share[j] += n[j];
    }
    p_bar += (sq - m) / (m * (m - 1));
  }
  p_bar /= static_cast<double>(rows.size());
  double p_e = 0;
  for (double s : share)
    p_e += (s / (m * static_cast<double>(rows.size()))) * (s / (m * static_cast<double>(rows.size())));
  return p_e >= 1 ? kNaN : (p_bar - p_e) / (1 - p_e);
}

double krippendorff_alpha_ordinal(const ReaderTable& t) {
  const size_t k = static_cast<size_t>(t.k);
  std::vector<std::vector<double>> o(k, std::vector<double>(k, 0.0));
  for (const auto& row : t.grades) {
    std::vector<int> v;
    for (int g : row)
      if (g != kMissing) v.push_back(g);
    if (v.size() < 2) continue;
    const double w = 1.0 / static_cast<double>(v.size() - 1);
    for (size_t i = 0; i < v.size(); ++i)
      for (size_t j = 0; j < v.size(); ++j)
        if (i != j) o[static_cast<size_t>(v[i])][static_cast<size_t>(v[j])] += w;
  }
  std::vector<double> nc(k, 0.0);
  for (size_t c = 0; c < k; ++c) nc[c] = std::accumulate(o[c].begin(), o[c].end(), 0.0);
  const double n = std::accumulate(nc.begin(), nc.end(), 0.0);
  auto delta = [&nc](size_t c, size_t d) {
    const size_t lo = std::min(c, d), hi = std::max(c, d);
    double s = 0;
    for (size_t g = lo; g <= hi; ++g) s += nc[g];
    s -= (nc[c] + nc[d]) / 2;
    return s * s;
  };
  double observed = 0, expected = 0;
  for (size_t c = 0; c < k; ++c)
    for (size_t d = 0; d < k; ++d) {
      observed += o[c][d] * delta(c, d);
      expected += nc[c] * nc[d] * delta(c, d);
    }
  if (n < 2 || expected == 0) return kNaN;
  return 1 - (n - 1) * observed / expected;
}

Icc icc(const ReaderTable& t) {
  const auto rows = t.complete();
  Icc r;
  r.subjects = static_cast<int>(rows.size());
  const size_t m = t.readers.size(), n = rows.size();
  if (n < 2 || m < 2) {
    r.icc_2_1 = r.icc_3_1 = kNaN;
    return r;
  }
  double grand = 0;
  std::vector<double> row_mean(n, 0.0), col_mean(m, 0.0);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < m; ++j) {
      const double x = t.grades[rows[i]][j];
      grand += x;
      row_mean[i] += x / static_cast<double>(m);
      col_mean[j] += x / static_cast<double>(n);
    }
  grand /= static_cast<double>(n * m);
  double ssr = 0, ssc = 0, sst = 0;
  for (size_t i = 0; i < n; ++i)
    ssr += static_cast<double>(m) * (row_mean[i] - grand) * (row_mean[i] - grand);
  for (size_t j = 0; j < m; ++j)
    ssc += static_cast<double>(n) * (col_mean[j] - grand) * (col_mean[j] - grand);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < m; ++j) sst += (t.grades[rows[i]][j] - grand) * (t.grades[rows[i]][j] - grand);
  const double msr = ssr / static_cast<double>(n - 1), msc = ssc / static_cast<double>(m - 1);
  const double mse = (sst - ssr - ssc) / static_cast<double>((n - 1) * (m - 1));
  const double md = static_cast<double>(m), nd = static_cast<double>(n);
  const double d2 = msr + (md - 1) * mse + md * (msc - mse) / nd, d3 = msr + (md - 1) * mse;
  r.icc_2_1 = d2 == 0 ? kNaN : (msr - mse) / d2;
  r.icc_3_1 = d3 == 0 ? kNaN : (msr - mse) / d3;
  return r;
}

std::vector<int> consensus(const ReaderTable& t, ConsensusRule rule) {
  std::vector<int> out;
  for (const auto& row : t.grades) out.push_back(data::consensus(row, rule));
  return out;
}

std::pair<double, double> bootstrap_ci(const ReaderTable& t,
                                       const std::function<double(const ReaderTable&)>& stat, int resamples,
                                       uint64_t seed) {
  std::vector<std::vector<size_t>> groups;
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < t.grades.size(); ++i) {
    if (t.units.empty()) {
      groups.push_back({i});
      continue;
    }
    auto [it, fresh] = index.emplace(t.units[i], groups.size());
    if (fresh) groups.emplace_back();
    groups[it->second].push_back(i);
  }
  if (groups.empty() || resamples < 1) return {kNaN, kNaN};
  Rng rng(seed);
  std::vector<double> values;
  for (int r = 0; r < resamples; ++r) {
    std::vector<size_t> rows;
    for (size_t g = 0; g < groups.size(); ++g) {
      const auto& drawn = groups[static_cast<size_t>(rng.below(groups.size()))];
      rows.insert(rows.end(), drawn.begin(), drawn.end());
    }
    values.push_back(stat(t.rows(rows)));
  }
  return {percentile(values, 0.025), percentile(values, 0.975)};
}

namespace {

// The consensus of every reader but `skip`, per subject.
std::vector<int> consensus_without(const ReaderTable& t, size_t skip, ConsensusRule rule) {
  std::vector<int> out;
  for (const auto& row : t.grades) {
    std::vector<int> others;
    for (size_t j = 0; j < row.size(); ++j)
      if (j != skip) others.push_back(row[j]);
    out.push_back(data::consensus(others, rule));
  }
  return out;
}

// mean_r (kappa(model, C_-r) - kappa(r, C_-r)) on the table whose last column is the model.
double loo_difference(const ReaderTable& with_model, ConsensusRule rule,
                      std::vector<double>* model_loo = nullptr, std::vector<double>* reader_loo = nullptr) {
  const size_t readers = with_model.readers.size() - 1;
  ReaderTable t = with_model;
  t.readers.pop_back();
  for (auto& row : t.grades) row.pop_back();
  const auto model = with_model.column(readers);
  double sum = 0;
  int used = 0;
  for (size_t r = 0; r < readers; ++r) {
    const auto c = consensus_without(t, r, rule);
    const double km = cohen_kappa(model, c, t.k, KappaWeights::kQuadratic);
    const double kr = cohen_kappa(t.column(r), c, t.k, KappaWeights::kQuadratic);
    if (model_loo) model_loo->push_back(km);
    if (reader_loo) reader_loo->push_back(kr);
    if (!std::isnan(km) && !std::isnan(kr)) {
      sum += km - kr;
      ++used;
    }
  }
  return used ? sum / used : kNaN;
}

}  // namespace

ModelAsReader model_as_reader(const ReaderTable& t, const std::vector<int>& model, ConsensusRule rule,
                              int resamples, uint64_t seed) {
  if (t.readers.size() < 2) throw UsageError("the model as a reader needs two readers or more");
  if (model.size() != t.grades.size())
    throw Error(
        fmt::format("model as a reader: {} predictions for {} images", model.size(), t.grades.size()));
  ModelAsReader r;
  const auto q = KappaWeights::kQuadratic;
  for (size_t i = 0; i < t.readers.size(); ++i) {
    r.model_kappa.push_back(cohen_kappa(model, t.column(i), t.k, q));
    for (size_t j = i + 1; j < t.readers.size(); ++j)
      r.pairs.push_back({{i, j}, cohen_kappa(t.column(i), t.column(j), t.k, q)});
  }
  r.model_consensus = cohen_kappa(model, consensus(t, rule), t.k, q);
  ReaderTable with = t;
  with.readers.push_back("model");
  for (size_t i = 0; i < with.grades.size(); ++i) with.grades[i].push_back(model[i]);
  r.difference = loo_difference(with, rule, &r.model_loo, &r.reader_loo);
  std::tie(r.lo, r.hi) = bootstrap_ci(
      with, [rule](const ReaderTable& s) { return loo_difference(s, rule); }, resamples, seed);
  r.verdict = r.lo > 0 ? "above" : r.hi < 0 ? "below" : "within";
  const double lo_pair = std::min_element(r.pairs.begin(), r.pairs.end(), [](auto& a, auto& b) {
                           return a.second < b.second;
                         })->second;
  const double hi_pair = std::max_element(r.pairs.begin(), r.pairs.end(), [](auto& a, auto& b) {
                           return a.second < b.second;
                         })->second;
  r.sentence = fmt::format(
      "The model agrees with the readers {} they agree with one another: against the consensus of the other "
      "readers its quadratic kappa is {:+.3f} (95% CI {:+.3f} to {:+.3f}) from theirs on average, so it is "
      "{} the "
      "readers' range (readers' pairwise kappas {:.3f} to {:.3f}).",
      r.verdict == "above"   ? "better than"
      : r.verdict == "below" ? "less well than"
                             : "as well as",
      r.difference, r.lo, r.hi, r.verdict, lo_pair, hi_pair);
  return r;
}

}  // namespace oess::metrics
