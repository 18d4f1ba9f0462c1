// K-fold cross-validation, the evaluate stage: the folds' predictions pooled out of fold (kfold.h).
#include <fmt/format.h>
#include <torch/torch.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "oess/core/atomic_file.h"
#include "oess/core/error.h"
#include "oess/experiment/kfold.h"
#include "oess/io/csv.h"
#include "oess/metrics/metrics.h"

namespace oess::experiment {
namespace {

namespace fs = std::filesystem;

std::string percent(double v) { return fmt::format("{:.1f}%", 100 * v); }

// A fold's test figures: accuracy and the kappa the study quotes (quadratic for 4 classes).
std::pair<double, double> fold_figures(const Chain& fc) {
  std::vector<int> truth;
  for (int g : fc.test_grades) truth.push_back(train::target_of(g, fc.s.train.task));
  const int k = train::num_classes(fc.s.train.task);
  const auto m = metrics::confusion(truth, fc.final.pred, k);
  return {metrics::accuracy(m),
          metrics::kappa(m, k == 4 ? metrics::KappaWeights::kQuadratic : metrics::KappaWeights::kUnweighted)};
}

// Where each image was tested in repeat 1: (run, row within that run's test rows).
std::vector<std::pair<size_t, size_t>> tested_where(const Chain& c, const Kfold& k) {
  const auto& m = c.manifest;
  std::vector<std::pair<size_t, size_t>> where(m.samples.size(), {SIZE_MAX, 0});
  for (size_t ri = 0; ri < k.runs.size(); ++ri) {
    if (k.runs[ri].repeat != 0) continue;
    const auto test = k.runs[ri].chain.split.indices(data::Part::kTest);
    for (size_t j = 0; j < test.size(); ++j) where[test[j]] = {ri, j};
  }
  for (size_t i = 0; i < where.size(); ++i)
    if (where[i].first == SIZE_MAX)  // make_folds puts every image in one fold: a bug, not bad input
      throw Error(
          fmt::format("{}:{}: {} is in no test fold", m.file, m.samples[i].line, m.samples[i].rel_path));
  return where;
}

// c's test rows become every image (manifest order) with its fold's final prediction.
void pool_final(Chain& c, const Kfold& k, const std::vector<std::pair<size_t, size_t>>& where) {
  const Chain& first = k.runs[0].chain;
  c.grades = first.grades;
  c.rows = {};
  c.final = {};
  std::vector<std::string> fold_col, tap_col;
  std::vector<torch::Tensor> mean_rows, before_rows;
  for (const auto& [ri, j] : where) {
    const Chain& fc = k.runs[ri].chain;
    c.rows.test.push_back(fc.rows.test[j]);
    mean_rows.push_back(fc.final.mean[static_cast<int64_t>(j)]);
    if (fc.calibration) before_rows.push_back(fc.calibration->before[static_cast<int64_t>(j)]);
    c.final.pred.push_back(fc.final.pred[j]);
    c.final.binary_vote.push_back(fc.final.binary_vote[j]);
    c.final.p_diseased.push_back(fc.final.p_diseased[j]);
    c.final.disagreement.push_back(fc.final.disagreement[j]);
    fold_col.push_back(std::to_string(k.runs[ri].fold + 1));
    tap_col.push_back(fc.sweep.taps[fc.selected].tap);
  }
  c.final.mean = torch::stack(mean_rows);
  c.calibration.reset();
  if (before_rows.size() == mean_rows.size()) {  // every fold calibrated: each its own fit
    Calibrated cal;
    for (const auto& run : k.runs) {
      if (run.repeat != 0) continue;
      if (run.chain.calibration->platt())
        cal.platt_ab.push_back(run.chain.calibration->platt_ab[0]);
      else
        cal.temperatures.push_back(run.chain.calibration->temperatures[0]);
      cal.validation_images += run.chain.calibration->validation_images;
      cal.val_nll_before += run.chain.calibration->val_nll_before;
      cal.val_nll_after += run.chain.calibration->val_nll_after;
    }
    cal.before = torch::stack(before_rows);
    c.calibration = std::move(cal);
  }
  c.test_grades = train::take_grades(c.grades, c.rows.test);
  c.extra_columns = {{"fold", fold_col}, {"tap", tap_col}};
  c.members = first.members;  // their number: whether the report shows the members' majority vote
  c.items = first.items;      // the report's Table 2: fold 1's balanced training part (extraction is done)
  c.final_label =
      fmt::format("{}-fold cross-validation, out of fold (each fold: its own tap, {})", k.folds[0].k,
                  c.s.members == 0 ? "one classifier" : fmt::format("{} members", first.members.size()));
}

// Per tap: out-of-fold probabilities (repeat 1) and figures, per-fold figures, how many folds chose it;
// c.selected = the tap the most folds chose (ties: higher mean validation accuracy, then earlier tap).
void pool_taps(Chain& c, const Kfold& k, const std::vector<std::pair<size_t, size_t>>& where) {
  const size_t ntaps = c.features.taps.size();
  c.sweep = {};
  c.tap_folds.assign(ntaps, {});
  std::vector<int> truth;
  for (int g : c.test_grades) truth.push_back(train::target_of(g, c.s.train.task));
  for (size_t t = 0; t < ntaps; ++t) {
    train::TapResult tr;
    tr.tap = k.runs[0].chain.sweep.taps[t].tap;
    tr.fit = k.runs[0].chain.sweep.taps[t].fit;
    std::vector<torch::Tensor> rows;
    for (const auto& [ri, j] : where)
      rows.push_back(k.runs[ri].chain.sweep.taps[t].test_probabilities[static_cast<int64_t>(j)]);
    tr.test_probabilities = torch::stack(rows);
    const auto pred = tr.test_probabilities.argmax(1).contiguous();
    const std::vector<int> p(pred.data_ptr<int64_t>(), pred.data_ptr<int64_t>() + pred.numel());
    const auto cm = metrics::confusion(truth, p, train::num_classes(c.s.train.task));
    tr.test_accuracy = metrics::accuracy(cm);
    tr.test_per_class = metrics::per_class_accuracy(cm);
    tr.test_kappa_quadratic = metrics::kappa(cm, metrics::KappaWeights::kQuadratic);
    auto& tf = c.tap_folds[t];
    for (const auto& run : k.runs) {
      const auto& rt = run.chain.sweep.taps[t];
      tf.val.push_back(rt.val_accuracy);
      tf.test.push_back(rt.test_accuracy);
      tf.kappa.push_back(rt.test_kappa_quadratic);
      if (run.chain.selected == t) ++tf.chosen;
    }
    tr.val_accuracy = mean_sd(tf.val).first;
    c.sweep.taps.push_back(std::move(tr));
  }
  size_t best = 0;
  for (size_t t = 1; t < ntaps; ++t) {
    const auto& a = c.tap_folds[t];
    const auto& b = c.tap_folds[best];
    if (a.chosen > b.chosen ||
        (a.chosen == b.chosen && c.sweep.taps[t].val_accuracy > c.sweep.taps[best].val_accuracy))
      best = t;
  }
  c.sweep.best = c.selected = best;
}

// The report's per-fold rows and metrics.json's cross_validation block.
nlohmann::ordered_json cross_validation(Chain& c, const Kfold& k) {
  const bool four = c.s.train.task == train::Task::kOess4;
  const char* kappa_key = four ? "kappa_quadratic" : "kappa";
  auto& cv = c.cross_validation;
  cv = {};
  cv.folds = k.folds[0].k;
  cv.repeats = static_cast<int>(k.folds.size());
  cv.grouped = k.folds[0].grouped;
  cv.from_column = k.folds[0].from_column;
  cv.val_fraction = c.s.split.val_fraction;
  cv.refit_tap = c.sweep.taps[c.selected].tap;
  cv.refit_chosen = c.tap_folds[c.selected].chosen;
  nlohmann::ordered_json per_fold = nlohmann::ordered_json::array();
  std::vector<double> accs, kappas;
  std::map<int, std::pair<std::vector<int>, std::vector<int>>> by_repeat;  // truth, pred
  for (const auto& run : k.runs) {
    const Chain& fc = run.chain;
    report::FoldRow row;
    row.repeat = run.repeat + 1;
    row.fold = run.fold + 1;
    const auto cnt = fc.split.counts(c.manifest);
    for (size_t g = 0; g < 4; ++g) row.test_counts[g] = cnt[static_cast<size_t>(data::Part::kTest)][g];
    row.train = static_cast<int>(fc.rows.train.size());
    row.val = static_cast<int>(fc.rows.val.size());
    row.tap = fc.sweep.taps[fc.selected].tap;
    row.val_accuracy = fc.sweep.taps[fc.selected].val_accuracy;
    std::tie(row.accuracy, row.kappa) = fold_figures(fc);
    accs.push_back(row.accuracy);
    kappas.push_back(row.kappa);
    cv.rows.push_back(row);
    per_fold.push_back({{"repeat", row.repeat},
                        {"fold", row.fold},
                        {"n", fc.rows.test.size()},
                        {"train_rows", row.train},
                        {"val", row.val},
                        {"tap", row.tap},
                        {"val_accuracy", row.val_accuracy},
                        {"accuracy", row.accuracy},
                        {kappa_key, row.kappa}});
    auto& [rt, rp] = by_repeat[row.repeat];
    for (int g : fc.test_grades) rt.push_back(train::target_of(g, c.s.train.task));
    rp.insert(rp.end(), fc.final.pred.begin(), fc.final.pred.end());
  }
  const auto [am, as] = mean_sd(accs);
  const auto [km, ks] = mean_sd(kappas);
  nlohmann::ordered_json chosen = nlohmann::ordered_json::object();
  for (size_t t = 0; t < c.tap_folds.size(); ++t)
    if (c.tap_folds[t].chosen) chosen[c.sweep.taps[t].tap] = c.tap_folds[t].chosen;
  nlohmann::ordered_json block = {
      {"folds", cv.folds},
      {"repeats", cv.repeats},
      {"grouped_by_patient", cv.grouped},
      {"folds_from_column", cv.from_column},
      {"val_fraction", cv.val_fraction},
      {"pooled", "the figures above: every image's out-of-fold prediction (repeat 1), as predictions.csv"},
      {"per_fold", per_fold},
      {"fold_mean_sd", {{"accuracy", {{"mean", am}, {"sd", as}}}, {kappa_key, {{"mean", km}, {"sd", ks}}}}},
      {"taps_chosen", chosen},
      {"refit_tap", cv.refit_tap}};
  if (cv.repeats > 1) {
    nlohmann::ordered_json reps = nlohmann::ordered_json::array();
    for (const auto& [r, tp] : by_repeat) {
      const auto cm = metrics::confusion(tp.first, tp.second, train::num_classes(c.s.train.task));
      reps.push_back({{"repeat", r},
                      {"accuracy", metrics::accuracy(cm)},
                      {kappa_key, metrics::kappa(cm, four ? metrics::KappaWeights::kQuadratic
                                                          : metrics::KappaWeights::kUnweighted)}});
    }
    block["per_repeat"] = reps;
  }
  return block;
}

void write_kfold_layers(const Chain& c, const std::string& dir) {
  io::CsvWriter layers({"tap", "val_accuracy", "val_accuracy_sd", "test_accuracy", "test_accuracy_sd",
                        "test_kappa_quadratic", "test_kappa_quadratic_sd", "oof_accuracy",
                        "oof_kappa_quadratic", "chosen", "selected"});
  auto f6 = [](double v) { return fmt::format("{:.6f}", v); };
  for (size_t t = 0; t < c.tap_folds.size(); ++t) {
    const auto& tf = c.tap_folds[t];
    const auto [vm, vs] = mean_sd(tf.val);
    const auto [tm, ts] = mean_sd(tf.test);
    const auto [km, ks] = mean_sd(tf.kappa);
    layers.row({c.sweep.taps[t].tap, f6(vm), f6(vs), f6(tm), f6(ts), f6(km), f6(ks),
                f6(c.sweep.taps[t].test_accuracy), f6(c.sweep.taps[t].test_kappa_quadratic),
                std::to_string(tf.chosen), t == c.selected ? "1" : "0"});
  }
  layers.write((fs::path(dir) / "layers.csv").string());
}

std::string format_kfold_taps(const Chain& c) {
  std::string out = fmt::format("{:<12} {:>14} {:>14} {:>11} {:>7}\n", "tap", "val mean±sd", "test mean±sd",
                                "out-of-fold", "chosen");
  for (size_t t = 0; t < c.tap_folds.size(); ++t) {
    const auto [vm, vs] = mean_sd(c.tap_folds[t].val);
    const auto [tm, ts] = mean_sd(c.tap_folds[t].test);
    out += fmt::format(
        "{:<12} {:>14} {:>14} {:>11} {:>7}\n", c.sweep.taps[t].tap + (t == c.selected ? " *" : ""),
        fmt::format("{:.1f}±{:.1f}%", 100 * vm, 100 * vs), fmt::format("{:.1f}±{:.1f}%", 100 * tm, 100 * ts),
        percent(c.sweep.taps[t].test_accuracy), c.tap_folds[t].chosen);
  }
  const auto& cv = c.cross_validation;
  std::vector<double> accs, kappas;
  for (const auto& r : cv.rows) {
    accs.push_back(r.accuracy);
    kappas.push_back(r.kappa);
  }
  const auto [am, as] = mean_sd(accs);
  const auto [km, ks] = mean_sd(kappas);
  out += fmt::format("* chosen by the most folds: {} (the exported model's tap)\n", cv.refit_tap);
  out += fmt::format("per fold: accuracy {:.1f}% ± {:.1f}, {} {:.3f} ± {:.3f} (mean ± sd over {} folds)\n",
                     100 * am, 100 * as, c.s.train.task == train::Task::kOess4 ? "quadratic kappa" : "kappa",
                     km, ks, accs.size());
  return out;
}

}  // namespace

void kfold_evaluate(Chain& c, Kfold& k, const std::string& dir, const SayFn& say) {
  const auto where = tested_where(c, k);
  pool_final(c, k, where);
  pool_taps(c, k, where);
  const auto block = cross_validation(c, k);
  evaluate(c, dir);  // predictions.csv and metrics.json as any run writes them
  auto j = nlohmann::ordered_json::parse(c.metrics_text);
  j["cross_validation"] = block;
  c.metrics_text = j.dump(2) + "\n";
  write_file_atomic((fs::path(dir) / "metrics.json").string(), c.metrics_text);
  write_kfold_layers(c, dir);
  say(format_kfold_taps(c));
}

}  // namespace oess::experiment
