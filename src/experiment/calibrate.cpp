// calibration.method temperature: fitted on the validation rows, applied to the final model (chain.h).
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "oess/calibration/platt.h"
#include "oess/calibration/temperature.h"
#include "oess/core/error.h"
#include "oess/experiment/chain.h"
#include "oess/export/model_file.h"
#include "oess/metrics/calibration.h"

namespace oess::experiment {
namespace {

// The members' mean probabilities on the validation rows.
torch::Tensor validation_probabilities(const Chain& c) {
  const auto rows = torch::tensor(c.rows.val, torch::kInt64);
  torch::Tensor sum;
  for (const auto& m : c.members) {
    const auto p = (m.val_probabilities.defined()
                        ? m.val_probabilities
                        : m.model.probabilities(c.features.data.at(m.tap).index_select(0, rows)))
                       .to(torch::kFloat64);
    sum = sum.defined() ? sum + p : p;
  }
  return (sum / static_cast<double>(c.members.size())).to(torch::kFloat32);
}

std::vector<int> targets(const Chain& c, const std::vector<int64_t>& rows) {
  std::vector<int> y;
  for (int64_t r : rows) y.push_back(train::target_of(c.grades[static_cast<size_t>(r)], c.s.train.task));
  return y;
}

// The reliability table of [N, K] probabilities against the test truth, as metrics.json defines it (the
// call: the most probable class).
std::vector<metrics::ReliabilityBin> reliability_of(const Chain& c, const torch::Tensor& probs) {
  const int k = train::num_classes(c.s.train.task);
  const auto rows = ensemble::probability_rows(probs);
  std::vector<int> called;
  for (const auto& r : rows)
    called.push_back(static_cast<int>(std::max_element(r.begin(), r.begin() + k) - r.begin()));
  return metrics::call_reliability(targets(c, c.rows.test), called, rows);
}

// ECE and Brier of [N, K] probabilities against the test truth.
std::pair<double, double> ece_brier(const Chain& c, const torch::Tensor& probs) {
  const int k = train::num_classes(c.s.train.task);
  return {metrics::expected_calibration_error(reliability_of(c, probs)),
          metrics::brier(targets(c, c.rows.test), ensemble::probability_rows(probs), k)};
}

}  // namespace

void calibrate(Chain& c) {
  if (c.rows.val.empty())
    throw UsageError(fmt::format(
        "calibration.method {}: the split has no validation images to fit on; give the split a validation "
        "part (data.split.val_per_class, val_fraction) or set calibration.method: none",
        c.s.platt ? "platt" : "temperature"));
  const auto p = ensemble::probability_rows(validation_probabilities(c));
  const auto y = targets(c, c.rows.val);
  Calibrated cal;
  size_t n = 0;
  double nll_before = 0, nll_after = 0;
  exporting::ModelCalibration fitted;  // applied to the final model's test rows, as the Scorer applies it
  std::string what;
  if (c.s.platt) {
    const auto fit = calibration::fit_platt(p, y);
    cal.platt_ab = {{fit.a, fit.b}};
    n = fit.n;
    nll_before = fit.nll_before;
    nll_after = fit.nll_after;
    fitted = {exporting::ModelCalibration::Method::kPlatt, 1, fit.a, fit.b};
    what = fmt::format("Platt a {:.4f}, b {:.4f}", fit.a, fit.b);
    if (!fit.converged)
      add_warning(
          c.warnings,
          {"platt_not_converged",
           fmt::format("Platt scaling: one threshold separates the {} validation images perfectly, so the "
                       "fit has no finite optimum; stopped at a = {:.4g}, b = {:.4g} after {} steps (its "
                       "probabilities are near 0 and 1): use calibration.method temperature or a "
                       "larger validation part",
                       fit.n, fit.a, fit.b, fit.iterations)});
  } else {
    const auto fit = calibration::fit_temperature(p, y, train::num_classes(c.s.train.task));
    cal.temperatures = {fit.temperature};
    n = fit.n;
    nll_before = fit.nll_before;
    nll_after = fit.nll_after;
    fitted = {exporting::ModelCalibration::Method::kTemperature, fit.temperature};
    what = fmt::format("temperature {:.4f}", fit.temperature);
  }
  cal.validation_images = n;
  cal.val_nll_before = nll_before * static_cast<double>(n);
  cal.val_nll_after = nll_after * static_cast<double>(n);
  if (!c.rows.test.empty()) {
    cal.before = c.final.mean.clone();
    exporting::apply_calibration(c.final, fitted, c.s.train.task);
  }
  spdlog::info("calibration: {} fitted on {} validation images (NLL {:.4f} -> {:.4f})", what, n, nll_before,
               nll_after);
  c.calibration = std::move(cal);
}

std::pair<std::vector<metrics::ReliabilityBin>, double> reliability_before(const Chain& c) {
  if (!c.calibration || !c.calibration->before.defined() || c.rows.test.empty()) return {};
  auto bins = reliability_of(c, c.calibration->before);
  const double ece = metrics::expected_calibration_error(bins);
  return {std::move(bins), ece};
}

void calibration_json(Chain& c) {
  auto j = nlohmann::ordered_json::parse(c.metrics_text);
  if (!c.calibration) {
    j["calibration"] = {{"method", "none"}};
  } else {
    const auto& cal = *c.calibration;
    const auto [ece0, brier0] = ece_brier(c, cal.before);
    const auto [ece1, brier1] = ece_brier(c, c.final.mean);
    const double n = static_cast<double>(cal.validation_images);
    const size_t fits = cal.platt() ? cal.platt_ab.size() : cal.temperatures.size();
    j["calibration"] = {
        {"method", cal.platt() ? "platt" : "temperature"},
        {"fitted_on", fits > 1 ? (cal.platt() ? "each fold's validation images, its own (a, b)"
                                              : "each fold's validation images, its own temperature")
                               : "the validation images"}};
    auto one_or_list = [fits](const std::vector<double>& v) {
      return fits == 1 ? nlohmann::ordered_json(v.at(0)) : nlohmann::ordered_json(v);
    };
    if (cal.platt()) {
      std::vector<double> a, b;
      for (const auto& [x, y] : cal.platt_ab) {
        a.push_back(x);
        b.push_back(y);
      }
      j["calibration"]["a"] = one_or_list(a);
      j["calibration"]["b"] = one_or_list(b);
    } else {
      j["calibration"]["temperature"] = one_or_list(cal.temperatures);
    }
    auto& block = j["calibration"];
    block["validation_images"] = cal.validation_images;
    block["validation_nll_before"] = cal.val_nll_before / n;
    block["validation_nll_after"] = cal.val_nll_after / n;
    block["test_ece_before"] = ece0;
    block["test_ece_after"] = ece1;
    block["test_brier_before"] = brier0;
    block["test_brier_after"] = brier1;
  }
  c.metrics_text = j.dump(2) + "\n";
}

}  // namespace oess::experiment
