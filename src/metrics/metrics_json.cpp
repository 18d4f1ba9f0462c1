// metrics.json: Metrics::to_json (the contract in docs/formats.md).
#include <cmath>
#include <nlohmann/json.hpp>

#include "oess/metrics/evaluate.h"

namespace oess::metrics {
namespace {

using Json = nlohmann::ordered_json;
Json num(double v) { return std::isnan(v) ? Json(nullptr) : Json(v); }

Json ci_json(const std::optional<Interval>& ci) {
  if (!ci) return nullptr;
  return Json::array({num(ci->lo), num(ci->hi)});
}

void put(Json& o, const std::string& name, const Figure& f) {
  o[name] = num(f.value);
  o[name + "_ci95"] = ci_json(f.ci95);
}

Json reliability_json(const std::vector<ReliabilityBin>& table, const char* confidence) {
  Json rows = Json::array();
  for (const auto& b : table)
    rows.push_back({{"lo", b.lo},
                    {"hi", b.hi},
                    {"n", b.n},
                    {"confidence", num(b.confidence)},
                    {"accuracy", num(b.accuracy)}});
  return {{"bins", table.size()},
          {"binning", "equal width over [0, 1]; bin b = [b/B, (b+1)/B), the last closed"},
          {"confidence", confidence},
          {"rows", rows}};
}

void put_binary(Json& o, const BinaryFigures& b) {
  const std::pair<const char*, const Figure*> figs[] = {{"accuracy", &b.accuracy},
                                                        {"sensitivity", &b.sensitivity},
                                                        {"specificity", &b.specificity},
                                                        {"auc", &b.auc},
                                                        {"kappa", &b.kappa},
                                                        {"balanced_accuracy", &b.balanced_accuracy},
                                                        {"brier", &b.brier},
                                                        {"ece", &b.ece}};
  for (const auto& [name, f] : figs) put(o, name, *f);
  o["confusion"] = b.confusion.m;
  o["reliability"] =
      reliability_json(b.reliability, "the called class's probability (P(diseased) or 1 - it)");
}

Json metrics_json(const Metrics& m, bool patient_rows) {
  Json j;
  j["n"] = m.n;
  j["task"] = m.binary ? "binary" : "oess4";
  j["bootstrap"] = {{"resamples", m.bootstrap.resamples},
                    {"unit", m.bootstrap.unit},
                    {"units", m.bootstrap.units},
                    {"seed", m.bootstrap.seed},
                    {"interval", "percentile, 95%"}};
  if (m.per_patient) {
    const auto& pp = *m.per_patient;
    Json rows = Json::array();
    for (const auto& r : pp.rows)
      rows.push_back({{"patient", r.patient}, {"truth", r.truth}, {"pred", r.pred}});
    j["per_patient"] = {{"patients", pp.patients},
                        {"score", pp.score},
                        {"icc_2_1", num(pp.icc_2_1)},
                        {"mean_difference", num(pp.mean_difference)},
                        {"wilcoxon",
                         {{"statistic", pp.wilcoxon.statistic},
                          {"p", num(pp.wilcoxon.p)},
                          {"n_nonzero", pp.wilcoxon.n},
                          {"method", pp.wilcoxon.exact ? "exact" : "normal approximation"}}}};
    if (patient_rows) j["per_patient"]["rows"] = rows;
  }
  if (m.binary) {
    put_binary(j, m.healthy_diseased);
  } else {
    put(j, "accuracy", m.accuracy);
    j["per_class_accuracy"] = Json::array();
    j["per_class_accuracy_ci95"] = Json::array();
    for (const auto& f : m.per_class_accuracy) {
      j["per_class_accuracy"].push_back(num(f.value));
      j["per_class_accuracy_ci95"].push_back(ci_json(f.ci95));
    }
    put(j, "mean_per_class_accuracy", m.mean_per_class_accuracy);
    j["confusion"] = m.confusion.m;
    j["kappa"] = {{"unweighted", num(m.kappa_unweighted.value)},
                  {"linear", num(m.kappa_linear.value)},
                  {"quadratic", num(m.kappa_quadratic.value)}};
    j["kappa_ci95"] = {{"unweighted", ci_json(m.kappa_unweighted.ci95)},
                       {"linear", ci_json(m.kappa_linear.ci95)},
                       {"quadratic", ci_json(m.kappa_quadratic.ci95)}};
    put(j, "balanced_accuracy", m.balanced_accuracy);
    put(j, "mae", m.mae);
    put(j, "within_one", m.within_one);
    put(j, "off_by_two_or_more", m.off_by_two_or_more);
    j["per_grade"] = Json::array();
    for (size_t g = 0; g < m.per_grade.size(); ++g) {
      Json o;
      o["grade"] = g;
      put(o, "sensitivity", m.per_grade[g].sensitivity);
      put(o, "specificity", m.per_grade[g].specificity);
      j["per_grade"].push_back(o);
    }
    put(j, "brier", m.brier);
    put(j, "ece", m.ece);
    j["reliability"] = reliability_json(m.reliability, "the predicted grade's probability");
    Json b;
    put_binary(b, m.healthy_diseased);
    j["binary"] = b;
  }
  if (!m.by.empty()) {
    Json by = Json::object();
    for (const auto& t : m.by) {
      Json groups = Json::array();
      for (const auto& g : t.groups)
        groups.push_back({{"group", g.group},
                          {"n", g.metrics.n},
                          {"too_small", g.too_small.empty() ? Json(nullptr) : Json(g.too_small)},
                          {"metrics", metrics_json(g.metrics, /*patient_rows=*/false)}});
      by[t.column] = groups;
    }
    j["by"] = by;
  }
  return j;
}

}  // namespace

std::string Metrics::to_json() const { return metrics_json(*this, /*patient_rows=*/true).dump(2) + "\n"; }

}  // namespace oess::metrics
