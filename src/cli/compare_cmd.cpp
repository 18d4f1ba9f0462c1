// `oess compare`: is a difference between models on the same test images real? Paired bootstrap and
// McNemar's exact test (metrics/paired.h), Holm-adjusted across the files compared.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "oess/core/atomic_file.h"
#include "oess/core/error.h"
#include "oess/metrics/paired.h"

namespace oess::cli {
namespace {

struct CompareArgs {
  std::string reference, json;
  std::vector<std::string> others;
  int bootstrap = 2000;
  uint64_t seed = 0;
};

nlohmann::ordered_json num(double v) {
  return std::isnan(v) ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(v);
}

void run_compare(const CompareArgs& a) {
  if (a.bootstrap < 1) throw UsageError("--bootstrap must be >= 1");
  const auto ref = metrics::read_predictions(a.reference);
  std::vector<metrics::PairedDifference> diffs;
  std::vector<double> p;
  for (const auto& f : a.others) {
    diffs.push_back(metrics::compare_predictions(ref, metrics::read_predictions(f), a.bootstrap, a.seed));
    p.push_back(diffs.back().mcnemar_p);
  }
  const auto adjusted = metrics::holm(p);
  nlohmann::ordered_json out = {
      {"reference", a.reference},
      {"bootstrap",
       {{"resamples", a.bootstrap}, {"seed", a.seed}, {"unit", ref.has_patient() ? "patient" : "image"}}},
      {"comparisons", nlohmann::ordered_json::array()}};
  fmt::print(
      "reference {} ({} images); differences are other - reference, 95% paired bootstrap intervals "
      "({} resamples of {}s); McNemar exact p, Holm-adjusted over {} comparison(s)\n",
      a.reference, ref.path.size(), a.bootstrap, ref.has_patient() ? "patient" : "image", a.others.size());
  for (size_t i = 0; i < diffs.size(); ++i) {
    const auto& d = diffs[i];
    fmt::print(
        "{}: accuracy {:.1f}% vs {:.1f}%, difference {:+.1f} ({:+.1f} to {:+.1f}) points; quadratic kappa "
        "difference {:+.3f} ({:+.3f} to {:+.3f}); discordant {} / {}; McNemar p {:.4g}, Holm {:.4g}{}\n",
        a.others[i], 100 * d.accuracy_b, 100 * d.accuracy_a, 100 * d.accuracy_diff, 100 * d.accuracy_lo,
        100 * d.accuracy_hi, d.kappa_diff, d.kappa_lo, d.kappa_hi, d.only_a, d.only_b, d.mcnemar_p,
        adjusted[i], adjusted[i] < 0.05 ? "  <- different" : "");
    out["comparisons"].push_back({{"file", a.others[i]},
                                  {"n", d.n},
                                  {"units", d.units},
                                  {"accuracy_reference", d.accuracy_a},
                                  {"accuracy", d.accuracy_b},
                                  {"accuracy_difference", d.accuracy_diff},
                                  {"accuracy_difference_ci95", {num(d.accuracy_lo), num(d.accuracy_hi)}},
                                  {"kappa_quadratic_reference", num(d.kappa_a)},
                                  {"kappa_quadratic", num(d.kappa_b)},
                                  {"kappa_quadratic_difference", num(d.kappa_diff)},
                                  {"kappa_quadratic_difference_ci95", {num(d.kappa_lo), num(d.kappa_hi)}},
                                  {"right_by_reference_only", d.only_a},
                                  {"right_by_other_only", d.only_b},
                                  {"mcnemar_exact_p", d.mcnemar_p},
                                  {"holm_p", adjusted[i]}});
  }
  if (!a.json.empty()) write_file_atomic(a.json, out.dump(2) + "\n");
}

}  // namespace

void add_compare_command(CLI::App& app) {
  auto a = std::make_shared<CompareArgs>();
  auto* sub = app.add_subcommand("compare",
                                 "Paired comparison of predictions on the same test images "
                                 "(bootstrap CIs of the differences, McNemar exact test, Holm)");
  sub->add_option("reference", a->reference, "the reference predictions CSV (e.g. RUN/predictions.csv)")
      ->required();
  sub->add_option("others", a->others, "predictions CSVs of the same images to compare with it")->required();
  sub->add_option("--bootstrap", a->bootstrap, "bootstrap resamples (patients when the files have them)")
      ->capture_default_str();
  sub->add_option("--seed", a->seed, "bootstrap seed")->capture_default_str();
  sub->add_option("--json", a->json, "also write the figures as JSON");
  sub->footer(
      "Rows are matched by path; both files must hold the same images with the same truth.\n"
      "The difference is other - reference; p < 0.05 after Holm's adjustment is marked (docs/ablation.md).");
  sub->callback([a] { run_compare(*a); });
}

}  // namespace oess::cli
