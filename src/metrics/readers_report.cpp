// The readers' agreement as figures, JSON and text (metrics/readers.h: agreement, agreement_json,
// agreement_text).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <nlohmann/json.hpp>

#include "oess/metrics/readers.h"

namespace oess::metrics {
namespace {

using Json = nlohmann::ordered_json;
constexpr const char* kWeights[3] = {"unweighted", "linear", "quadratic"};
constexpr KappaWeights kWeightKinds[3] = {KappaWeights::kUnweighted, KappaWeights::kLinear,
                                          KappaWeights::kQuadratic};

Json num(double v) { return std::isnan(v) ? Json(nullptr) : Json(v); }
Json stat_json(const Statistic& s) {
  return {{"value", num(s.value)}, {"ci95", {num(s.lo), num(s.hi)}}, {"n", s.n}};
}
std::string f3(double v) { return std::isnan(v) ? "n/a" : fmt::format("{:.3f}", v); }
std::string ci(double lo, double hi) { return fmt::format("({} to {})", f3(lo), f3(hi)); }

Statistic with_ci(const ReaderTable& t, const std::function<double(const ReaderTable&)>& f, int n,
                  int resamples, uint64_t seed) {
  Statistic s;
  s.value = f(t);
  s.n = n;
  std::tie(s.lo, s.hi) = bootstrap_ci(t, f, resamples, seed);
  return s;
}

}  // namespace

Agreement agreement(const ReaderTable& t, const std::vector<int>& model, ConsensusRule rule, int resamples,
                    uint64_t seed) {
  Agreement a;
  a.table = t;
  a.resamples = resamples;
  a.seed = seed;
  for (size_t i = 0; i < t.readers.size(); ++i) {
    a.counts.emplace_back(static_cast<size_t>(t.k), 0);
    a.graded.push_back(0);
    for (int g : t.column(i))
      if (g != kMissing) {
        ++a.counts.back()[static_cast<size_t>(g)];
        ++a.graded.back();
      }
  }
  for (size_t i = 0; i < t.readers.size(); ++i)
    for (size_t j = i + 1; j < t.readers.size(); ++j) {
      PairAgreement p;
      p.a = i;
      p.b = j;
      p.n = static_cast<int>(graded_confusion(t.column(i), t.column(j), t.k).n());
      for (int w = 0; w < 3; ++w) {
        auto f = [i, j, w](const ReaderTable& s) {
          return cohen_kappa(s.column(i), s.column(j), s.k, kWeightKinds[w]);
        };
        p.kappa[w] = f(t);
        std::tie(p.lo[w], p.hi[w]) = bootstrap_ci(t, f, resamples, seed);
      }
      a.pairs.push_back(p);
    }
  const int complete = static_cast<int>(t.complete().size());
  int two = 0;
  for (const auto& row : t.grades)
    two += std::count_if(row.begin(), row.end(), [](int g) { return g != kMissing; }) >= 2;
  a.fleiss = with_ci(t, fleiss_kappa, complete, resamples, seed);
  a.alpha = with_ci(t, krippendorff_alpha_ordinal, two, resamples, seed);
  a.icc21 = with_ci(
      t, [](const ReaderTable& s) { return icc(s).icc_2_1; }, complete, resamples, seed);
  a.icc31 = with_ci(
      t, [](const ReaderTable& s) { return icc(s).icc_3_1; }, complete, resamples, seed);
  if (!model.empty()) {
    a.has_model = true;
    a.model = model_as_reader(t, model, rule, resamples, seed);
  }
  return a;
}

namespace {

// The confusion of the readers `pair` names (rows the first).
Confusion pair_confusion(const ReaderTable& t, const std::pair<int, int>& pair) {
  return graded_confusion(t.column(static_cast<size_t>(pair.first)),
                          t.column(static_cast<size_t>(pair.second)), t.k);
}

}  // namespace

std::string agreement_json(const Agreement& a, const std::pair<int, int>& pair) {
  const auto& t = a.table;
  Json j = {
      {"readers", t.readers},
      {"images", t.grades.size()},
      {"bootstrap",
       {{"resamples", a.resamples}, {"seed", a.seed}, {"unit", t.units.empty() ? "image" : "patient"}}}};
  Json dist = Json::object();
  for (size_t r = 0; r < t.readers.size(); ++r)
    dist[t.readers[r]] = {{"graded", a.graded[r]}, {"counts", a.counts[r]}};
  j["grade_counts"] = dist;
  Json pairs = Json::array();
  for (const auto& p : a.pairs) {
    Json k = Json::object();
    for (int w = 0; w < 3; ++w)
      k[kWeights[w]] = {{"value", num(p.kappa[w])}, {"ci95", {num(p.lo[w]), num(p.hi[w])}}};
    pairs.push_back({{"readers", {t.readers[p.a], t.readers[p.b]}}, {"n", p.n}, {"kappa", k}});
  }
  j["pairs"] = pairs;
  j["fleiss_kappa"] = stat_json(a.fleiss);
  j["krippendorff_alpha_ordinal"] = stat_json(a.alpha);
  j["icc_2_1"] = stat_json(a.icc21);
  j["icc_3_1"] = stat_json(a.icc31);
  if (pair.first >= 0)
    j["confusion"] = {{"rows", t.readers[static_cast<size_t>(pair.first)]},
                      {"columns", t.readers[static_cast<size_t>(pair.second)]},
                      {"counts", pair_confusion(t, pair).m}};
  if (a.has_model) {
    const auto& m = a.model;
    Json per = Json::array();
    for (size_t r = 0; r < t.readers.size(); ++r)
      per.push_back({{"reader", t.readers[r]},
                     {"kappa_model_reader", num(m.model_kappa[r])},
                     {"kappa_model_others_consensus", num(m.model_loo[r])},
                     {"kappa_reader_others_consensus", num(m.reader_loo[r])}});
    Json pk = Json::array();
    for (const auto& [ij, k] : m.pairs)
      pk.push_back({{"readers", {t.readers[ij.first], t.readers[ij.second]}}, {"kappa", num(k)}});
    j["model_as_reader"] = {{"weights", "quadratic"},
                            {"per_reader", per},
                            {"reader_pairs", pk},
                            {"kappa_model_consensus", num(m.model_consensus)},
                            {"difference", num(m.difference)},
                            {"difference_ci95", {num(m.lo), num(m.hi)}},
                            {"verdict", m.verdict},
                            {"sentence", m.sentence}};
  }
  return j.dump(2) + "\n";
}

std::string agreement_text(const Agreement& a, const std::pair<int, int>& pair) {
  const auto& t = a.table;
  std::string out =
      fmt::format("{} images, {} readers; 95% intervals: {} bootstrap resamples of {}s\n", t.grades.size(),
                  t.readers.size(), a.resamples, t.units.empty() ? "image" : "patient");
  for (size_t r = 0; r < t.readers.size(); ++r)
    out += fmt::format("  {}: {} graded; grades 0-{}: {}\n", t.readers[r], a.graded[r], t.k - 1,
                       fmt::join(a.counts[r], " "));
  out += "Cohen's kappa per pair (n both graded): unweighted, linear, quadratic\n";
  for (const auto& p : a.pairs)
    out += fmt::format("  {} vs {} ({}): {} {}, {} {}, {} {}\n", t.readers[p.a], t.readers[p.b], p.n,
                       f3(p.kappa[0]), ci(p.lo[0], p.hi[0]), f3(p.kappa[1]), ci(p.lo[1], p.hi[1]),
                       f3(p.kappa[2]), ci(p.lo[2], p.hi[2]));
  out += fmt::format("Fleiss' kappa {} {} on {} images every reader graded\n", f3(a.fleiss.value),
                     ci(a.fleiss.lo, a.fleiss.hi), a.fleiss.n);
  out += fmt::format("Krippendorff's alpha (ordinal) {} {} on {} images with two grades or more\n",
                     f3(a.alpha.value), ci(a.alpha.lo, a.alpha.hi), a.alpha.n);
  out += fmt::format("ICC(2,1) {} {}, ICC(3,1) {} {} on {} images every reader graded\n", f3(a.icc21.value),
                     ci(a.icc21.lo, a.icc21.hi), f3(a.icc31.value), ci(a.icc31.lo, a.icc31.hi), a.icc21.n);
  if (pair.first >= 0) {
    out += fmt::format("Confusion: rows {}, columns {}\n", t.readers[static_cast<size_t>(pair.first)],
                       t.readers[static_cast<size_t>(pair.second)]);
    const auto c = pair_confusion(t, pair);
    for (int g = 0; g < t.k; ++g)
      out += fmt::format("  {}: {}\n", g, fmt::join(c.m[static_cast<size_t>(g)], " "));
  }
  if (a.has_model) {
    const auto& m = a.model;
    out += "The model as a reader (quadratic kappa):\n";
    for (size_t r = 0; r < t.readers.size(); ++r)
      out += fmt::format("  {}: model vs reader {}; against the others' consensus: model {}, reader {}\n",
                         t.readers[r], f3(m.model_kappa[r]), f3(m.model_loo[r]), f3(m.reader_loo[r]));
    out += fmt::format("  model vs consensus {}\n  {}\n", f3(m.model_consensus), m.sentence);
  }
  return out;
}

}  // namespace oess::metrics
