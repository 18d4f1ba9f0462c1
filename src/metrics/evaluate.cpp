#include "oess/metrics/evaluate.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <numeric>
#include <set>

#include "oess/core/error.h"
#include "oess/core/random.h"
#include "oess/io/csv.h"
#include "oess/metrics/agreement.h"
#include "oess/metrics/calibration.h"
#include "oess/metrics/metrics.h"
#include "oess/metrics/paired.h"

namespace oess::metrics {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double parse_number(const std::string& s, const std::string& file, int line, const std::string& column) {
  try {
    size_t used = 0;
    const double v = std::stod(s, &used);
    if (used == s.size() && std::isfinite(v)) return v;
  } catch (const std::exception&) {
  }
  throw Error(fmt::format("{}:{}: {} \"{}\" is not a number", file, line, column, s));
}

int parse_label(const std::string& s, int k, const std::string& file, int line, const std::string& column) {
  if (s.size() == 1 && s[0] >= '0' && s[0] < '0' + k) return s[0] - '0';
  throw Error(fmt::format("{}:{}: {} \"{}\" is not a label 0..{}", file, line, column, s, k - 1));
}

std::vector<std::array<double, 4>> binary_rows(const std::vector<double>& p1) {
  std::vector<std::array<double, 4>> out;
  for (double p : p1) out.push_back({1 - p, p, 0, 0});
  return out;
}

// All figures of one (re)sample, by name; lists flattened as name[i].
std::map<std::string, double> figures(const Predictions& pr, const std::vector<size_t>& rows) {
  std::map<std::string, double> f;
  std::vector<int> t, p;
  for (size_t r : rows) {
    t.push_back(pr.truth[r]);
    p.push_back(pr.pred[r]);
  }
  auto binary_figures = [&](const std::string& prefix, const std::vector<int>& bt, const std::vector<int>& bp,
                            const std::vector<double>& score) {
    const auto c = confusion(bt, bp, 2);
    f[prefix + "accuracy"] = accuracy(c);
    f[prefix + "balanced_accuracy"] = mean_per_class_accuracy(c);
    f[prefix + "sensitivity"] = sensitivity(c);
    f[prefix + "specificity"] = specificity(c);
    f[prefix + "kappa"] = kappa(c, KappaWeights::kUnweighted);
    f[prefix + "auc"] = roc_auc(bt, score);
    const auto rows2 = binary_rows(score);
    f[prefix + "brier"] = brier(bt, rows2, 2);
    f[prefix + "ece"] = expected_calibration_error(call_reliability(bt, bp, rows2));
  };
  if (pr.binary) {
    std::vector<double> s;
    for (size_t r : rows) s.push_back(pr.p[r][1]);
    binary_figures("", t, p, s);
    return f;
  }
  const auto c = confusion(t, p, 4);
  f["accuracy"] = accuracy(c);
  const auto pc = per_class_accuracy(c);
  for (size_t i = 0; i < pc.size(); ++i) f[fmt::format("per_class_accuracy[{}]", i)] = pc[i];
  f["mean_per_class_accuracy"] = f["balanced_accuracy"] = mean_per_class_accuracy(c);
  for (int g = 0; g < 4; ++g) {
    const auto ss = one_vs_rest(c, g);
    f[fmt::format("per_grade[{}].sensitivity", g)] = ss.sensitivity;
    f[fmt::format("per_grade[{}].specificity", g)] = ss.specificity;
  }
  f["mae"] = mean_absolute_error(t, p);
  f["within_one"] = share_within(t, p, 1);
  f["off_by_two_or_more"] = share_off_by_at_least(t, p, 2);
  std::vector<std::array<double, 4>> probs;
  for (size_t r : rows) probs.push_back(pr.p[r]);
  f["brier"] = brier(t, probs, 4);
  f["ece"] = expected_calibration_error(call_reliability(t, p, probs));
  f["kappa.unweighted"] = kappa(c, KappaWeights::kUnweighted);
  f["kappa.linear"] = kappa(c, KappaWeights::kLinear);
  f["kappa.quadratic"] = kappa(c, KappaWeights::kQuadratic);
  std::vector<double> s;
  for (size_t r : rows) s.push_back(pr.p[r][2] + pr.p[r][3]);
  binary_figures("binary.", to_binary(t), to_binary(p), s);
  return f;
}

}  // namespace

Predictions read_predictions(const std::string& file) {
  const auto t = io::read_csv(file);
  Predictions pr;
  pr.file = file;
  const int c_path = t.column("path"), c_truth = t.column("truth"), c_pred = t.column("pred");
  const int c_p[4] = {t.column("p0"), t.column("p1"), t.column("p2"), t.column("p3")};
  const int c_patient = t.column("patient");
  if (c_path < 0 || c_truth < 0 || c_pred < 0 || c_p[1] < 0)
    throw Error(
        fmt::format("{}:1: a predictions file needs path, truth, pred and p1 (binary) or p0..p3 "
                    "(4-class); columns present: {}",
                    file, fmt::join(t.header, ", ")));
  pr.binary = c_p[0] < 0 && c_p[2] < 0 && c_p[3] < 0;
  if (!pr.binary && (c_p[0] < 0 || c_p[2] < 0 || c_p[3] < 0))
    throw Error(fmt::format("{}:1: 4-class predictions need all of p0, p1, p2, p3", file));
  const int k = pr.binary ? 2 : 4;
  std::vector<int> extra_index;
  for (size_t c = 0; c < t.header.size(); ++c) {
    static const std::set<std::string> known = {"path", "truth", "pred", "p0", "p1", "p2", "p3", "patient"};
    if (known.count(t.header[c])) continue;
    pr.extra_columns.push_back(t.header[c]);
    extra_index.push_back(static_cast<int>(c));
  }
  pr.extra.resize(extra_index.size());
  std::set<std::string> seen;
  for (size_t r = 0; r < t.rows.size(); ++r) {
    const auto& row = t.rows[r];
    const int line = t.lines[r];
    const std::string& path = row[static_cast<size_t>(c_path)];
    if (!seen.insert(path).second)
      throw Error(fmt::format("{}:{}: path \"{}\" appears twice", file, line, path));
    pr.path.push_back(path);
    pr.truth.push_back(parse_label(row[static_cast<size_t>(c_truth)], k, file, line, "truth"));
    pr.pred.push_back(parse_label(row[static_cast<size_t>(c_pred)], k, file, line, "pred"));
    std::array<double, 4> p{};
    if (pr.binary) {
      p[1] = parse_number(row[static_cast<size_t>(c_p[1])], file, line, "p1");
      p[0] = 1 - p[1];
    } else {
      for (int c = 0; c < 4; ++c)
        p[static_cast<size_t>(c)] =
            parse_number(row[static_cast<size_t>(c_p[c])], file, line, fmt::format("p{}", c));
    }
    double sum = 0;
    for (int c = pr.binary ? 1 : 0; c < k; ++c) {  // binary files carry p1 only
      if (p[static_cast<size_t>(c)] < 0 || p[static_cast<size_t>(c)] > 1)
        throw Error(fmt::format("{}:{}: probability p{} = {} is outside [0, 1]", file, line, c,
                                p[static_cast<size_t>(c)]));
      sum += p[static_cast<size_t>(c)];
    }
    if (!pr.binary && std::abs(sum - 1) > 1e-4)
      throw Error(fmt::format("{}:{}: p0..p3 sum to {:.6f}, not 1 (within 1e-4)", file, line, sum));
    pr.p.push_back(p);
    pr.line.push_back(line);
    for (size_t e = 0; e < extra_index.size(); ++e)
      pr.extra[e].push_back(row[static_cast<size_t>(extra_index[e])]);
    if (c_patient >= 0) pr.patient.push_back(row[static_cast<size_t>(c_patient)]);
  }
  if (pr.path.empty()) throw Error(fmt::format("{}: no predictions", file));
  return pr;
}

const std::vector<std::string>* Predictions::column(const std::string& name) const {
  const auto it = std::find(extra_columns.begin(), extra_columns.end(), name);
  return it == extra_columns.end() ? nullptr : &extra[static_cast<size_t>(it - extra_columns.begin())];
}

Predictions Predictions::subset(const std::vector<size_t>& rows) const {
  Predictions out;
  out.file = file;
  out.binary = binary;
  out.extra_columns = extra_columns;
  out.extra.resize(extra.size());
  for (size_t r : rows) {
    out.path.push_back(path[r]);
    if (has_patient()) out.patient.push_back(patient[r]);
    out.truth.push_back(truth[r]);
    out.pred.push_back(pred[r]);
    out.p.push_back(p[r]);
    if (!line.empty()) out.line.push_back(line[r]);
    for (size_t e = 0; e < extra.size(); ++e) out.extra[e].push_back(extra[e][r]);
  }
  return out;
}

Predictions healthy_diseased_view(const Predictions& pr) {
  if (pr.binary) return pr;
  Predictions out = pr;
  for (size_t i = 0; i < out.path.size(); ++i) {
    out.truth[i] = out.truth[i] >= 2;
    out.pred[i] = out.pred[i] >= 2;
    const double p1 = out.p[i][2] + out.p[i][3];
    out.p[i] = {1 - p1, p1, 0, 0};
  }
  out.binary = true;
  return out;
}

double roc_auc(const std::vector<int>& y, const std::vector<double>& score) {
  const size_t n = y.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return score[a] < score[b]; });
  // Mann-Whitney: average ranks over ties.
  std::vector<double> rank(n);
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j + 1 < n && score[order[j + 1]] == score[order[i]]) ++j;
    const double avg = (static_cast<double>(i) + static_cast<double>(j)) / 2.0 + 1.0;
    for (size_t k = i; k <= j; ++k) rank[order[k]] = avg;
    i = j + 1;
  }
  double pos = 0, rank_sum = 0;
  for (size_t i = 0; i < n; ++i)
    if (y[i] == 1) {
      pos += 1;
      rank_sum += rank[i];
    }
  const double neg = static_cast<double>(n) - pos;
  if (pos == 0 || neg == 0) return kNaN;
  return (rank_sum - pos * (pos + 1) / 2) / (pos * neg);
}

namespace {

// Resampling units: patients (all their images together) when known, else images.
std::vector<std::vector<size_t>> resampling_units(const Predictions& pr) {
  std::vector<std::vector<size_t>> units;
  if (pr.has_patient()) {
    std::map<std::string, std::vector<size_t>> by;
    for (size_t i = 0; i < pr.path.size(); ++i) by[pr.patient[i]].push_back(i);
    for (auto& [_, v] : by) units.push_back(std::move(v));
  } else {
    for (size_t i = 0; i < pr.path.size(); ++i) units.push_back({i});
  }
  return units;
}

// Per patient: the sum of the images' grades (binary: of diseased calls), expert vs oess.
PerPatient per_patient(const Predictions& pr) {
  std::map<std::string, std::pair<double, double>> sums;
  for (size_t i = 0; i < pr.path.size(); ++i) {
    sums[pr.patient[i]].first += pr.truth[i];
    sums[pr.patient[i]].second += pr.pred[i];
  }
  PerPatient out;
  std::vector<double> t, p, d;
  for (const auto& [patient, v] : sums) {
    t.push_back(v.first);
    p.push_back(v.second);
    d.push_back(v.second - v.first);
    out.rows.push_back({patient, v.first, v.second});
  }
  out.patients = sums.size();
  out.score = pr.binary ? "number of diseased images" : "sum of OESS grades";
  out.icc_2_1 = icc_2_1(t, p);
  out.mean_difference = std::accumulate(d.begin(), d.end(), 0.0) / static_cast<double>(d.size());
  out.wilcoxon = wilcoxon_signed_rank(d);
  return out;
}

}  // namespace

Metrics evaluate(const Predictions& pr, int bootstrap, uint64_t seed) {
  if (bootstrap < 0) throw UsageError("--bootstrap must be >= 0");
  std::vector<size_t> all(pr.path.size());
  std::iota(all.begin(), all.end(), 0);
  const auto point = figures(pr, all);
  const auto units = resampling_units(pr);
  std::map<std::string, std::vector<double>> samples;
  Rng rng(mix_seed(seed, 0xB007));
  for (int b = 0; b < bootstrap; ++b) {
    std::vector<size_t> rows;
    for (size_t u = 0; u < units.size(); ++u) {
      const auto& unit = units[static_cast<size_t>(rng.below(units.size()))];
      rows.insert(rows.end(), unit.begin(), unit.end());
    }
    for (const auto& [k, v] : figures(pr, rows)) samples[k].push_back(v);
  }
  auto fig = [&](const std::string& key) {
    Figure f{point.at(key), std::nullopt};
    if (bootstrap > 0) f.ci95 = Interval{percentile(samples[key], 0.025), percentile(samples[key], 0.975)};
    return f;
  };
  auto binary = [&](const std::string& prefix, const std::vector<int>& t, const std::vector<int>& p,
                    const std::vector<double>& p1) {
    BinaryFigures b;
    b.accuracy = fig(prefix + "accuracy");
    b.sensitivity = fig(prefix + "sensitivity");
    b.specificity = fig(prefix + "specificity");
    b.auc = fig(prefix + "auc");
    b.kappa = fig(prefix + "kappa");
    b.balanced_accuracy = fig(prefix + "balanced_accuracy");
    b.brier = fig(prefix + "brier");
    b.ece = fig(prefix + "ece");
    b.confusion = confusion(t, p, 2);
    b.reliability = call_reliability(t, p, binary_rows(p1));
    return b;
  };

  Metrics m;
  m.n = pr.path.size();
  m.binary = pr.binary;
  m.bootstrap.resamples = bootstrap;
  m.bootstrap.unit = pr.has_patient() ? "patient" : "image";
  m.bootstrap.units = units.size();
  m.bootstrap.seed = seed;
  if (pr.has_patient()) m.per_patient = per_patient(pr);
  std::vector<double> p1;
  for (const auto& p : pr.p) p1.push_back(pr.binary ? p[1] : p[2] + p[3]);
  if (pr.binary) {
    m.healthy_diseased = binary("", pr.truth, pr.pred, p1);
    m.accuracy = m.healthy_diseased.accuracy;
    return m;
  }
  m.accuracy = fig("accuracy");
  for (size_t c = 0; c < 4; ++c) m.per_class_accuracy[c] = fig(fmt::format("per_class_accuracy[{}]", c));
  m.mean_per_class_accuracy = fig("mean_per_class_accuracy");
  m.confusion = confusion(pr.truth, pr.pred, 4);
  m.kappa_unweighted = fig("kappa.unweighted");
  m.kappa_linear = fig("kappa.linear");
  m.kappa_quadratic = fig("kappa.quadratic");
  m.balanced_accuracy = fig("balanced_accuracy");
  m.mae = fig("mae");
  m.within_one = fig("within_one");
  m.off_by_two_or_more = fig("off_by_two_or_more");
  m.brier = fig("brier");
  m.ece = fig("ece");
  for (size_t g = 0; g < 4; ++g)
    m.per_grade[g] = {fig(fmt::format("per_grade[{}].sensitivity", g)),
                      fig(fmt::format("per_grade[{}].specificity", g))};
  m.reliability = call_reliability(pr.truth, pr.pred, pr.p);
  m.healthy_diseased = binary("binary.", to_binary(pr.truth), to_binary(pr.pred), p1);
  return m;
}

}  // namespace oess::metrics
