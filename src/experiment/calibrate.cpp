// calibration.method temperature: fitted on the validation rows, applied to the final model (chain.h).
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "oess/calibration/temperature.h"
#include "oess/core/error.h"
#include "oess/experiment/chain.h"
#include "oess/metrics/calibration.h"

namespace oess::experiment {
namespace {

// The members' mean probabilities on the validation rows.
torch::Tensor validation_probabilities(const Chain& c) {
  const auto rows = torch::tensor(c.rows.val, torch::kInt64);
  torch::Tensor sum;
  for (const auto& m : c.members) {
    const auto p = m.model.probabilities(c.features.data.at(m.tap).index_select(0, rows)).to(torch::kFloat64);
    sum = sum.defined() ? sum + p : p;
  }
  return (sum / static_cast<double>(c.members.size())).to(torch::kFloat32);
}

std::vector<int> targets(const Chain& c, const std::vector<int64_t>& rows) {
  std::vector<int> y;
  for (int64_t r : rows) y.push_back(train::target_of(c.grades[static_cast<size_t>(r)], c.s.train.task));
  return y;
}

// ECE and Brier of [N, K] probabilities against the test truth, as metrics.json defines them (the call:
// the most probable class).
std::pair<double, double> ece_brier(const Chain& c, const torch::Tensor& probs) {
  const int k = train::num_classes(c.s.train.task);
  const auto rows = ensemble::probability_rows(probs);
  const auto y = targets(c, c.rows.test);
  std::vector<int> called;
  for (const auto& r : rows)
    called.push_back(static_cast<int>(std::max_element(r.begin(), r.begin() + k) - r.begin()));
  return {metrics::expected_calibration_error(metrics::call_reliability(y, called, rows)),
          metrics::brier(y, rows, k)};
}

}  // namespace

void calibrate(Chain& c) {
  if (c.rows.val.empty())
    throw UsageError(
        "calibration.method temperature: the split has no validation images to fit the temperature on; give "
        "the split a validation part (data.split.val_per_class, val_fraction) or set calibration.method: "
        "none");
  const int k = train::num_classes(c.s.train.task);
  const auto fit = calibration::fit_temperature(ensemble::probability_rows(validation_probabilities(c)),
                                                targets(c, c.rows.val), k);
  Calibrated cal;
  cal.temperatures = {fit.temperature};
  cal.validation_images = fit.n;
  cal.val_nll_before = fit.nll_before * static_cast<double>(fit.n);
  cal.val_nll_after = fit.nll_after * static_cast<double>(fit.n);
  if (!c.rows.test.empty()) {
    cal.before = c.final.mean.clone();
    ensemble::apply_temperature(c.final, fit.temperature, c.s.train.task);
  }
  spdlog::info("calibration: temperature {:.4f} fitted on {} validation images (NLL {:.4f} -> {:.4f})",
               fit.temperature, fit.n, fit.nll_before, fit.nll_after);
  c.calibration = std::move(cal);
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
    j["calibration"] = {
        {"method", "temperature"},
        {"fitted_on", cal.temperatures.size() > 1 ? "each fold's validation images, its own temperature"
                                                  : "the validation images"},
        {"temperature", cal.temperatures.size() == 1 ? nlohmann::ordered_json(cal.temperatures[0])
                                                     : nlohmann::ordered_json(cal.temperatures)},
        {"validation_images", cal.validation_images},
        {"validation_nll_before", cal.val_nll_before / n},
        {"validation_nll_after", cal.val_nll_after / n},
        {"test_ece_before", ece0},
        {"test_ece_after", ece1},
        {"test_brier_before", brier0},
        {"test_brier_after", brier1}};
  }
  c.metrics_text = j.dump(2) + "\n";
}

}  // namespace oess::experiment
