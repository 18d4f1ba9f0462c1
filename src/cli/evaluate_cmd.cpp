// `oess evaluate`: a predictions file in, metrics.json with bootstrap CIs out.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <memory>

#include "commands.h"
#include "oess/core/atomic_file.h"
#include "oess/core/error.h"
#include "oess/metrics/evaluate.h"

namespace oess::cli {
namespace {

struct EvaluateArgs {
  std::string predictions, out;
  int bootstrap = 2000;
  uint64_t seed = 0;
  bool binary = false;
  std::vector<std::string> by;
};

std::string with_ci(const metrics::Figure& f, bool percent) {
  if (std::isnan(f.value)) return "undefined";
  const double s = percent ? 100 : 1;
  const char* unit = percent ? "%" : "";
  std::string out = fmt::format(percent ? "{:.1f}{}" : "{:.3f}{}", f.value * s, unit);
  if (f.ci95 && !std::isnan(f.ci95->lo))
    out += fmt::format(percent ? " (95% CI {:.1f}-{:.1f}{})" : " (95% CI {:.3f}-{:.3f}{})", f.ci95->lo * s,
                       f.ci95->hi * s, unit);
  return out;
}

std::string cell(const metrics::Figure& f, bool percent) {
  if (std::isnan(f.value)) return "-";
  const double s = percent ? 100 : 1;
  std::string out = fmt::format(percent ? "{:.1f}" : "{:.3f}", f.value * s);
  if (f.ci95 && !std::isnan(f.ci95->lo))
    out += fmt::format(percent ? " ({:.1f}-{:.1f})" : " ({:.3f}-{:.3f})", f.ci95->lo * s, f.ci95->hi * s);
  return out;
}

// One line per group: its own figures and intervals (bootstrap within the group).
void print_groups(const metrics::GroupTable& t, bool binary) {
  fmt::print(
      "\nby {} (each group's figures with its own 95% CI; * too small to judge: fewer than {} images or {} "
      "resampling units):\n",
      t.column, metrics::kMinGroupImages, metrics::kMinGroupUnits);
  fmt::print("{:<16} {:>6}  {:<20} {:<22} {:<20} {:<20}\n", "group", "n", "accuracy %",
             binary ? "kappa" : "kappa quadratic", binary ? "AUC" : "MAE (grades)", "ECE");
  for (const auto& g : t.groups) {
    const auto& m = g.metrics;
    const auto& b = m.healthy_diseased;
    fmt::print("{:<16} {:>6}  {:<20} {:<22} {:<20} {:<20}\n", g.group + (g.too_small.empty() ? "" : " *"),
               m.n, cell(m.accuracy, true), cell(binary ? b.kappa : m.kappa_quadratic, false),
               cell(binary ? b.auc : m.mae, false), cell(binary ? b.ece : m.ece, false));
  }
}

void run_evaluate(const EvaluateArgs& a) {
  if (a.bootstrap < 0) throw UsageError("--bootstrap must be >= 0");
  auto pr = metrics::read_predictions(a.predictions);
  if (a.binary) pr = metrics::healthy_diseased_view(pr);
  auto m = metrics::evaluate(pr, a.bootstrap, a.seed);
  for (const auto& col : a.by) m.by.push_back(metrics::evaluate_by(pr, col, a.bootstrap, a.seed));
  fmt::print("{}: {} predictions ({}), bootstrap {} x {} resampled by {}\n", a.predictions, pr.path.size(),
             pr.binary ? "binary" : "4-class", a.bootstrap, m.bootstrap.units, m.bootstrap.unit);
  if (pr.binary) {
    const auto& b = m.healthy_diseased;
    fmt::print("accuracy {}\nbalanced accuracy {}\nsensitivity {}\nspecificity {}\nAUC {}\nkappa {}\n",
               with_ci(b.accuracy, true), with_ci(b.balanced_accuracy, true), with_ci(b.sensitivity, false),
               with_ci(b.specificity, false), with_ci(b.auc, false), with_ci(b.kappa, false));
    fmt::print("Brier {}\nECE ({} bins) {}\n", with_ci(b.brier, false), metrics::kCalibrationBins,
               with_ci(b.ece, false));
  } else {
    fmt::print("accuracy {}\nbalanced accuracy (mean per-grade accuracy) {}\n", with_ci(m.accuracy, true),
               with_ci(m.balanced_accuracy, true));
    fmt::print("kappa unweighted {}\nkappa linear {}\nkappa quadratic {}\n",
               with_ci(m.kappa_unweighted, false), with_ci(m.kappa_linear, false),
               with_ci(m.kappa_quadratic, false));
    fmt::print("mean absolute grade error {}\nwithin one grade {}\noff by two grades or more {}\n",
               with_ci(m.mae, false), with_ci(m.within_one, true), with_ci(m.off_by_two_or_more, true));
    for (size_t g = 0; g < m.per_grade.size(); ++g)
      fmt::print("grade {} vs the rest: sensitivity {}, specificity {}\n", g,
                 with_ci(m.per_grade[g].sensitivity, false), with_ci(m.per_grade[g].specificity, false));
    fmt::print("Brier (4 grades) {}\nECE ({} bins) {}\n", with_ci(m.brier, false), metrics::kCalibrationBins,
               with_ci(m.ece, false));
  }
  for (const auto& t : m.by) print_groups(t, pr.binary);
  if (!a.out.empty()) {
    write_file_atomic(a.out, m.to_json());
    fmt::print("wrote {}\n", a.out);
  }
}

}  // namespace

void add_evaluate_command(CLI::App& app) {
  auto a = std::make_shared<EvaluateArgs>();
  auto* sub = app.add_subcommand("evaluate", "Metrics with bootstrap 95% CIs from a predictions CSV");
  sub->add_option("--predictions", a->predictions,
                  "path,truth,pred,p0..p3 (4-class) or path,truth,pred,p1 (binary)")
      ->required();
  sub->add_option("--out", a->out, "metrics.json to write");
  sub->add_option("--bootstrap", a->bootstrap, "resamples (0: no intervals)")->capture_default_str();
  sub->add_option("--seed", a->seed, "bootstrap seed")->capture_default_str();
  sub->add_option("--by", a->by,
                  "a column of the file (scanner, centre, ...): every figure again for each of its groups; "
                  "repeat for more columns");
  sub->add_flag("--binary", a->binary,
                "evaluate a 4-class file as healthy (0-1) / diseased (2-3), P = p2 + p3");
  sub->footer(
      "Intervals are percentile bootstrap intervals; with a patient column, patients are resampled (all "
      "their\n"
      "images together). --by COL bootstraps each group on its own rows and marks groups too small to\n"
      "judge. Figures: docs/formats.md (metrics.json).");
  sub->callback([a] { run_evaluate(*a); });
}

}  // namespace oess::cli
