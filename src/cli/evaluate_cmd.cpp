// `oess evaluate`: a predictions file in, metrics.json with bootstrap CIs out.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <memory>
#include <nlohmann/json.hpp>

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
};

std::string with_ci(const nlohmann::json& j, const std::string& key, bool percent) {
  const auto& v = j.at(key);
  if (v.is_null()) return "undefined";
  const double s = percent ? 100 : 1;
  const char* unit = percent ? "%" : "";
  std::string out = fmt::format(percent ? "{:.1f}{}" : "{:.3f}{}", v.get<double>() * s, unit);
  const auto& ci = j.at(key + "_ci95");
  if (ci.is_array() && !ci[0].is_null())
    out += fmt::format(percent ? " (95% CI {:.1f}-{:.1f}{})" : " (95% CI {:.3f}-{:.3f}{})",
                       ci[0].get<double>() * s, ci[1].get<double>() * s, unit);
  return out;
}

void run_evaluate(const EvaluateArgs& a) {
  if (a.bootstrap < 0) throw UsageError("--bootstrap must be >= 0");
  auto pr = metrics::read_predictions(a.predictions);
  if (a.binary && !pr.binary) {  // the healthy (0-1) / diseased (2-3) view of a 4-class file
    for (size_t i = 0; i < pr.path.size(); ++i) {
      pr.truth[i] = pr.truth[i] >= 2;
      pr.pred[i] = pr.pred[i] >= 2;
      const double p1 = pr.p[i][2] + pr.p[i][3];
      pr.p[i] = {1 - p1, p1, 0, 0};
    }
    pr.binary = true;
  }
  const std::string text = metrics::evaluate(pr, a.bootstrap, a.seed);
  const auto j = nlohmann::json::parse(text);
  fmt::print("{}: {} predictions ({}), bootstrap {} x {} resampled by {}\n", a.predictions, pr.path.size(),
             pr.binary ? "binary" : "4-class", a.bootstrap, j["bootstrap"]["units"].get<size_t>(),
             j["bootstrap"]["unit"].get<std::string>());
  if (pr.binary) {
    fmt::print("accuracy {}\nsensitivity {}\nspecificity {}\nAUC {}\nkappa {}\n",
               with_ci(j, "accuracy", true), with_ci(j, "sensitivity", false),
               with_ci(j, "specificity", false), with_ci(j, "auc", false), with_ci(j, "kappa", false));
  } else {
    fmt::print("accuracy {}\nmean per-class accuracy {}\n", with_ci(j, "accuracy", true),
               with_ci(j, "mean_per_class_accuracy", true));
    for (const char* w : {"unweighted", "linear", "quadratic"}) {
      nlohmann::json k = {{"kappa", j["kappa"][w]}, {"kappa_ci95", j["kappa_ci95"][w]}};
      fmt::print("kappa {} {}\n", w, with_ci(k, "kappa", false));
    }
  }
  if (!a.out.empty()) {
    write_file_atomic(a.out, text);
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
  sub->add_flag("--binary", a->binary,
                "evaluate a 4-class file as healthy (0-1) / diseased (2-3), P = p2 + p3");
  sub->footer(
      "Intervals are percentile bootstrap intervals; with a patient column, patients are resampled (all "
      "their\n"
      "images together). Figures: docs/formats.md (metrics.json).");
  sub->callback([a] { run_evaluate(*a); });
}

}  // namespace oess::cli
