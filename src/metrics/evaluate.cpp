#include "oess/metrics/evaluate.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>

#include "oess/core/error.h"
#include "oess/core/random.h"
#include "oess/io/csv.h"
#include "oess/metrics/agreement.h"
#include "oess/metrics/metrics.h"

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

using Json = nlohmann::ordered_json;
Json num(double v) { return std::isnan(v) ? Json(nullptr) : Json(v); }

// Percentile (linear interpolation between order statistics, as numpy's default) of the finite values.
double percentile(std::vector<double> v, double q) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return std::isnan(x); }), v.end());
  if (v.empty()) return kNaN;
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - static_cast<double>(lo)) * (v[hi] - v[lo]);
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
    f[prefix + "sensitivity"] = sensitivity(c);
    f[prefix + "specificity"] = specificity(c);
    f[prefix + "kappa"] = kappa(c, KappaWeights::kUnweighted);
    f[prefix + "auc"] = roc_auc(bt, score);
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
  f["mean_per_class_accuracy"] = mean_per_class_accuracy(c);
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
    if (c_patient >= 0) pr.patient.push_back(row[static_cast<size_t>(c_patient)]);
  }
  if (pr.path.empty()) throw Error(fmt::format("{}: no predictions", file));
  return pr;
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

std::string evaluate(const Predictions& pr, int bootstrap, uint64_t seed) {
  if (bootstrap < 0) throw UsageError("--bootstrap must be >= 0");
  std::vector<size_t> all(pr.path.size());
  std::iota(all.begin(), all.end(), 0);
  const auto point = figures(pr, all);

  // Resampling units: patients when known, else images.
  std::vector<std::vector<size_t>> units;
  if (pr.has_patient()) {
    std::map<std::string, std::vector<size_t>> by;
    for (size_t i = 0; i < all.size(); ++i) by[pr.patient[i]].push_back(i);
    for (auto& [_, v] : by) units.push_back(std::move(v));
  } else {
    for (size_t i : all) units.push_back({i});
  }
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
  auto ci = [&](const std::string& key) -> Json {
    if (bootstrap == 0) return nullptr;
    return Json::array({num(percentile(samples[key], 0.025)), num(percentile(samples[key], 0.975))});
  };

  Json j;
  j["n"] = pr.path.size();
  j["task"] = pr.binary ? "binary" : "oess4";
  j["bootstrap"] = {{"resamples", bootstrap},
                    {"unit", pr.has_patient() ? "patient" : "image"},
                    {"units", units.size()},
                    {"seed", seed},
                    {"interval", "percentile, 95%"}};
  auto put_binary = [&](Json& o, const std::string& prefix, const std::vector<int>& t,
                        const std::vector<int>& p) {
    for (const char* name : {"accuracy", "sensitivity", "specificity", "auc", "kappa"}) {
      o[name] = num(point.at(prefix + name));
      o[std::string(name) + "_ci95"] = ci(prefix + name);
    }
    o["confusion"] = confusion(t, p, 2).m;
  };
  // Per patient: the sum of the images' grades (binary: of diseased calls), expert vs oess.
  if (pr.has_patient()) {
    std::map<std::string, std::pair<double, double>> sums;
    for (size_t i = 0; i < all.size(); ++i) {
      sums[pr.patient[i]].first += pr.truth[i];
      sums[pr.patient[i]].second += pr.pred[i];
    }
    std::vector<double> t, p, d;
    Json rows = Json::array();
    for (const auto& [patient, v] : sums) {
      t.push_back(v.first);
      p.push_back(v.second);
      d.push_back(v.second - v.first);
      rows.push_back({{"patient", patient}, {"truth", v.first}, {"pred", v.second}});
    }
    const auto w = wilcoxon_signed_rank(d);
    j["per_patient"] = {
        {"patients", sums.size()},
        {"score", pr.binary ? "number of diseased images" : "sum of OESS grades"},
        {"icc_2_1", num(icc_2_1(t, p))},
        {"mean_difference", num(std::accumulate(d.begin(), d.end(), 0.0) / static_cast<double>(d.size()))},
        {"wilcoxon",
         {{"statistic", w.statistic},
          {"p", num(w.p)},
          {"n_nonzero", w.n},
          {"method", w.exact ? "exact" : "normal approximation"}}},
        {"rows", rows}};
  }
  if (pr.binary) {
    put_binary(j, "", pr.truth, pr.pred);
    return j.dump(2) + "\n";
  }
  j["accuracy"] = num(point.at("accuracy"));
  j["accuracy_ci95"] = ci("accuracy");
  j["per_class_accuracy"] = Json::array();
  j["per_class_accuracy_ci95"] = Json::array();
  for (int c = 0; c < 4; ++c) {
    j["per_class_accuracy"].push_back(num(point.at(fmt::format("per_class_accuracy[{}]", c))));
    j["per_class_accuracy_ci95"].push_back(ci(fmt::format("per_class_accuracy[{}]", c)));
  }
  j["mean_per_class_accuracy"] = num(point.at("mean_per_class_accuracy"));
  j["mean_per_class_accuracy_ci95"] = ci("mean_per_class_accuracy");
  j["confusion"] = confusion(pr.truth, pr.pred, 4).m;
  j["kappa"] = {{"unweighted", num(point.at("kappa.unweighted"))},
                {"linear", num(point.at("kappa.linear"))},
                {"quadratic", num(point.at("kappa.quadratic"))}};
  j["kappa_ci95"] = {{"unweighted", ci("kappa.unweighted")},
                     {"linear", ci("kappa.linear")},
                     {"quadratic", ci("kappa.quadratic")}};
  Json b;
  put_binary(b, "binary.", to_binary(pr.truth), to_binary(pr.pred));
  j["binary"] = b;
  return j.dump(2) + "\n";
}

}  // namespace oess::metrics
