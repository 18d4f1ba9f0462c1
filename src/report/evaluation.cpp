// The report's evaluation sections (issue #32): grade errors, per-grade figures, calibration, per group.
#include <fmt/format.h>

#include <filesystem>

#include "document.h"
#include "oess/core/atomic_file.h"
#include "plots.h"

namespace oess::report {

Section clinical_section(const ReportInputs& in, const std::string& dir) {
  namespace fs = std::filesystem;
  const auto& m = in.metrics;
  const auto& b = m.healthy_diseased;
  Section s{"How far off, and how sure — test set", {}};
  Table t{{"figure", "value (95% CI)", "what it means"}, {}};
  if (!m.binary) {
    t.rows.push_back(
        {"balanced accuracy", pct(m.balanced_accuracy), "the mean of the grades' own accuracies"});
    t.rows.push_back(
        {"mean absolute grade error", num(m.mae), "grades between oess and the expert, on average"});
    t.rows.push_back({"within one grade", pct(m.within_one), "images oess grades at most one grade off"});
    t.rows.push_back(
        {"off by two grades or more", pct(m.off_by_two_or_more), "a 0 called 2 or 3, a 1 called 3, ..."});
    t.rows.push_back({"Brier score (4 grades)", num(m.brier),
                      "0 perfect, 2 worst: squared distance of the probabilities from the truth"});
    t.rows.push_back({fmt::format("ECE ({} bins)", m.reliability.size()), num(m.ece),
                      "how far the predicted grade's probability is from how often it is right"});
  }
  t.rows.push_back(
      {"balanced accuracy, grades 0-1 / 2-3", pct(b.balanced_accuracy), "(sensitivity + specificity) / 2"});
  t.rows.push_back({"Brier score, P(grade 2-3)", num(b.brier), "0 perfect, 1 worst"});
  t.rows.push_back({"ECE, grades 0-1 / 2-3", num(b.ece), "of the called side's probability"});
  s.parts.push_back(t);
  if (!m.binary) {
    Table g{{"grade", "sensitivity (95% CI)", "specificity (95% CI)"}, {}};
    for (size_t i = 0; i < m.per_grade.size(); ++i)
      g.rows.push_back({std::to_string(i), num(m.per_grade[i].sensitivity), num(m.per_grade[i].specificity)});
    s.parts.push_back(Paragraph{"Each grade against the other three:"});
    s.parts.push_back(g);
  }
  const auto& bins = m.binary ? b.reliability : m.reliability;
  Plot p{"reliability", png(reliability_plot(bins, m.binary ? b.ece.value : m.ece.value,
                                             m.binary ? "called side" : "predicted grade",
                                             in.reliability_before, in.ece_before))};
  write_file_atomic((fs::path(dir) / "plots" / "reliability.png").string(), p.png);
  s.parts.push_back(std::move(p));
  s.parts.push_back(Paragraph{
      "Reliability: each dot is a bin of images by the probability oess gave its call (equal-width bins); "
      "on the diagonal, a call made with 80% confidence is right 80% of the time. Below it, oess is "
      "over-confident." +
      (in.calibration.empty()
           ? std::string()
           : fmt::format(" Calibrated ({} scaling, fitted on the validation images): blue dots after, grey "
                         "rings before; ECE {:.3f} before, {:.3f} after.",
                         in.calibration, in.ece_before, m.binary ? b.ece.value : m.ece.value))});
  return s;
}

Section group_section(const metrics::GroupTable& t) {
  const bool four = !t.groups.empty() && !t.groups[0].metrics.binary;
  Table tab{{t.column, "images", four ? "accuracy" : "accuracy", four ? "kappa (quadratic)" : "kappa",
             four ? "MAE (grades)" : "AUC", "ECE", "judged"},
            {}};
  for (const auto& g : t.groups) {
    const auto& m = g.metrics;
    const auto& b = m.healthy_diseased;
    tab.rows.push_back({g.group, std::to_string(m.n), pct(m.accuracy),
                        num(four ? m.kappa_quadratic : b.kappa), num(four ? m.mae : b.auc),
                        num(four ? m.ece : b.ece),
                        g.too_small.empty() ? "yes" : "too small: " + g.too_small});
  }
  return {
      "By " + t.column + " — test set",
      {tab, Paragraph{fmt::format(
                "Each {}'s figures come from its own images alone, with their own bootstrap intervals; "
                "groups with fewer than {} images or {} resampling units are shown but too small to judge.",
                t.column, metrics::kMinGroupImages, metrics::kMinGroupUnits)}}};
}

}  // namespace oess::report
