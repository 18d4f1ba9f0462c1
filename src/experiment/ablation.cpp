// A finished grid's variants against its reference (grid.h, run_grid's last step).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "oess/core/atomic_file.h"
#include "oess/core/error.h"
#include "oess/experiment/grid.h"
#include "oess/io/csv.h"
#include "oess/report/ablation.h"

namespace oess::experiment {

namespace {

namespace fs = std::filesystem;

double number(const nlohmann::json& j) { return j.is_number() ? j.get<double>() : std::nan(""); }

// The variant's own accuracy and quadratic kappa with their intervals, from its metrics.json.
void own_figures(const std::string& file, report::AblationRow& r) {
  const auto j = nlohmann::json::parse(read_file(file));
  const bool binary = j.value("task", "") == "binary";
  r.n = j.value("n", 0);
  r.accuracy = number(j["accuracy"]);
  r.accuracy_lo = number(j["accuracy_ci95"][0]);
  r.accuracy_hi = number(j["accuracy_ci95"][1]);
  const auto& k = j["kappa"];
  const auto& kc = j["kappa_ci95"];
  r.kappa = number(binary ? k : k["quadratic"]);
  r.kappa_lo = number(binary ? kc[0] : kc["quadratic"][0]);
  r.kappa_hi = number(binary ? kc[1] : kc["quadratic"][1]);
}

// The variant's taps against the tap it selected (tap_predictions.csv, layers.csv); none for K-fold runs.
std::vector<report::TapComparison> compare_taps(const std::string& vdir, const std::string& name, int k,
                                                int resamples, uint64_t seed) {
  std::error_code ec;
  const fs::path file = fs::path(vdir) / "tap_predictions.csv";
  if (!fs::is_regular_file(file, ec)) return {};
  std::string selected;
  const auto layers = io::read_csv((fs::path(vdir) / "layers.csv").string());
  const int c_tap = layers.column("tap"), c_sel = layers.column("selected");
  for (const auto& row : layers.rows)
    if (c_tap >= 0 && c_sel >= 0 && row[static_cast<size_t>(c_sel)] == "1")
      selected = row[static_cast<size_t>(c_tap)];
  const auto t = io::read_csv(file.string());
  const int c_patient = t.column("patient"), c_selected = t.column(selected);
  if (c_selected < 0) return {};
  std::vector<int> truth, sel;
  std::vector<std::string> units;
  for (const auto& row : t.rows) {
    truth.push_back(std::stoi(row[1]));
    sel.push_back(std::stoi(row[static_cast<size_t>(c_selected)]));
    if (c_patient >= 0) units.push_back(row[static_cast<size_t>(c_patient)]);
  }
  std::vector<report::TapComparison> out;
  std::vector<double> p;
  for (size_t col = static_cast<size_t>(c_patient >= 0 ? 3 : 2); col < t.header.size(); ++col) {
    if (static_cast<int>(col) == c_selected) continue;
    std::vector<int> pred;
    for (const auto& row : t.rows) pred.push_back(std::stoi(row[col]));
    report::TapComparison c{name, t.header[col], selected,
                            metrics::paired_bootstrap(truth, sel, pred, units, k, resamples, seed)};
    p.push_back(c.diff.mcnemar_p);
    out.push_back(std::move(c));
  }
  const auto adjusted = metrics::holm(p);
  for (size_t i = 0; i < out.size(); ++i) {
    out[i].holm_p = adjusted[i];
    out[i].flagged = adjusted[i] < 0.05;
  }
  return out;
}

}  // namespace

void compare_variants(const config::Config& base, const Grid& grid, const std::string& dir) {
  const int resamples = static_cast<int>(std::max<int64_t>(base.get_int("report.bootstrap"), 200));
  const auto seed = static_cast<uint64_t>(base.get_int("seed"));
  auto predictions_of = [&dir](const std::string& name) {
    return (fs::path(dir) / "variants" / name / "predictions.csv").string();
  };
  const auto ref = metrics::read_predictions(predictions_of(grid.reference));
  std::vector<report::AblationRow> rows;
  std::vector<report::TapComparison> taps;
  std::vector<double> p;
  std::vector<size_t> paired;
  for (const auto& v : grid.variants) {
    report::AblationRow r;
    r.name = v.name;
    std::vector<std::string> sets;
    for (const auto& [key, value] : v.sets) sets.push_back(key + "=" + value);
    r.settings = fmt::format("{}", fmt::join(sets, "; "));
    r.reference = v.name == grid.reference;
    own_figures((fs::path(dir) / "variants" / v.name / "metrics.json").string(), r);
    const auto mine = compare_taps((fs::path(dir) / "variants" / v.name).string(), v.name, ref.binary ? 2 : 4,
                                   resamples, seed);
    taps.insert(taps.end(), mine.begin(), mine.end());
    if (!r.reference) {
      try {
        r.diff = metrics::compare_predictions(ref, metrics::read_predictions(predictions_of(v.name)),
                                              resamples, seed);
        r.paired = true;
        paired.push_back(rows.size());
        p.push_back(r.diff.mcnemar_p);
      } catch (const Error& e) {  // other test images (a split key varied), or another task
        r.note = e.what();
      }
    }
    rows.push_back(std::move(r));
  }
  const auto adjusted = metrics::holm(p);
  for (size_t i = 0; i < paired.size(); ++i) {
    rows[paired[i]].holm_p = adjusted[i];
    rows[paired[i]].flagged = adjusted[i] < 0.05;
  }
  const std::string about = fmt::format(
      "Δ = variant − reference ({}) on the same test images, {} paired bootstrap resamples of {}s (both "
      "variants' predictions of an image kept together), percentile 95% intervals. McNemar's exact test on "
      "the images only one of the two got right; Holm's step-down adjustment over the {} comparison(s) of "
      "this grid; 'different' marks Holm p < 0.05. An interval that covers 0 is not a difference this test "
      "set can show. Variants on other test images (a key that changes the split) are not paired.",
      grid.reference, resamples, ref.has_patient() ? "patient" : "image", paired.size());
  report::write_ablation(dir, rows, taps, about);
  fmt::print(
      "\nablation ({} variants, reference {}), sorted by the accuracy difference:\n{}\n{}/ablation.csv, "
      "ablation.md, ablation.html\n",
      rows.size(), grid.reference, report::format_ablation(rows), dir);
}

}  // namespace oess::experiment
