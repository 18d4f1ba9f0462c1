// Warnings that are part of a run's result (experiment/chain.h).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <torch/version.h>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "oess/core/atomic_file.h"
#include "oess/core/error.h"
#include "oess/experiment/chain.h"
#include "oess/platform/platform.h"
#include "oess/runtime/net.h"
#include "oess/version.h"

namespace oess::experiment {

void manifest_warnings(const data::Manifest& m, std::vector<RunWarning>& out) {
  if (!m.has_patient)
    add_warning(out,
                {"no_patient_column",
                 fmt::format("{} has no patient column (patient, patient_id, subject, case ... or "
                             "data.columns.patient): splits cannot keep a patient's images together, and "
                             "bootstrap intervals resample images, which is too narrow when patients have "
                             "several",
                             m.file)});
  if (!m.unused_id_columns.empty())
    add_warning(
        out,
        {"unused_id_column",
         fmt::format("{}: column(s) {} look like identifiers but are not used{}; name the patient "
                     "column with data.columns.patient if one of them is it",
                     m.file, fmt::join(m.unused_id_columns, ", "),
                     m.has_patient ? fmt::format(" (patients come from \"{}\")", m.patient_column) : "")});
}

void split_warnings(const Settings& s, const data::Manifest& m, const data::Split& split,
                    const std::string& where, bool test_part, std::vector<RunWarning>& out) {
  const auto both = data::patients_in_both(m, split, data::Part::kTrain, data::Part::kTest);
  if (!both.empty())
    add_warning(out,
                {"patient_overlap",
                 fmt::format("{}{} patient(s) have images in both training and test ({}{}): allowed by "
                             "data.allow_patient_overlap, so test figures are optimistic",
                             where, both.size(),
                             fmt::join(both.begin(), both.begin() + std::min<size_t>(both.size(), 8), ", "),
                             both.size() > 8 ? ", ..." : "")});
  const auto total = m.counts();
  const auto cnt = split.counts(m);
  const auto& val = cnt[static_cast<size_t>(data::Part::kVal)];
  const auto& test = cnt[static_cast<size_t>(data::Part::kTest)];
  std::vector<std::string> empty, small;
  for (size_t g = 0; g < 4; ++g) {
    if (total[g] == 0) continue;
    if (val[g] == 0) empty.push_back(std::to_string(g));
    if (val[g] < kSmallGrade || (test_part && test[g] < kSmallGrade))
      small.push_back(test_part ? fmt::format("grade {}: {} validation, {} test", g, val[g], test[g])
                                : fmt::format("grade {}: {} validation", g, val[g]));
  }
  if (!empty.empty()) {
    const std::string what = fmt::format(
        "{}grade(s) {} have no validation image: early stopping and the tap choice cannot see them", where,
        fmt::join(empty, ", "));
    if (!s.allow_empty_grades)
      throw Error(what + (config::cross_validated(s.split.method)
                              ? " (give each fold's validation part more images — data.split.val_fraction, "
                                "or fewer folds — or allow it knowingly with selection.allow_empty_grades: "
                                "true)"
                              : " (give validation more images — data.split.val_per_class / val_fraction, or "
                                "data.split.method: kfold — or allow it knowingly with "
                                "selection.allow_empty_grades: true)"));
    add_warning(out, {"empty_validation_grade", what + " (allowed by selection.allow_empty_grades)"});
  }
  if (!small.empty())
    add_warning(out,
                {"small_grade",
                 fmt::format("{}fewer than {} images of a grade ({}): per-grade figures on so few images are "
                             "unreliable{}",
                             where, kSmallGrade, fmt::join(small, "; "),
                             config::cross_validated(s.split.method)
                                 ? ""
                                 : "; with a few hundred images, data.split.method: kfold tests every "
                                   "image once")});
}

void tap_warnings(const Chain& c, std::vector<RunWarning>& out) {
  if (c.s.selection != "best" || c.sweep.taps.size() < 2) return;
  const auto& best = c.sweep.taps[c.selected];
  const double n = static_cast<double>(c.rows.val.size());
  double runner = -1;
  std::string runner_tap;
  for (size_t i = 0; i < c.sweep.taps.size(); ++i)
    if (i != c.selected && c.sweep.taps[i].val_accuracy > runner) {
      runner = c.sweep.taps[i].val_accuracy;
      runner_tap = c.sweep.taps[i].tap;
    }
  const long apart = std::lround((best.val_accuracy - runner) * n);
  if (apart >= kResolutionImages) return;
  add_warning(
      out, {"tap_choice_uncertain",
            fmt::format("the best tap on validation, {} ({:.1f}%), is {} validation image(s) of {} ahead "
                        "of {} ({:.1f}%): the choice is within the validation set's resolution, not a "
                        "finding{}",
                        best.tap, 100 * best.val_accuracy, apart, c.rows.val.size(), runner_tap, 100 * runner,
                        config::cross_validated(c.s.split.method)
                            ? ""
                            : "; data.split.method: kfold shows how often each tap wins across folds")});
}

std::string platform_lines(Chain& c) {
  std::map<std::string, std::string> f;
  for (const auto& [key, value] : platform::facts()) f[key] = value;
  std::string out = fmt::format(
      "cpu: {}; {}; oneDNN {}; inference on oess's oneDNN engine ({} activations), LibTorch layout {} "
      "(heat maps, fine-tuning)\n",
      f["cpu"], f["cpu_isa"], f["onednn_isa"], runtime::activation_layout(), f["memory_layout"]);
  out +=
      fmt::format("blas: {} ({}, {}); threads: {} for extraction, 1 per classifier fit ({} at a time)\n",
                  f["blas"], f["blas_threading"], f["blas_library"], c.s.extract.threads, c.s.train_threads);
  const std::string warning = platform::reference_blas_warning(platform::blas());
  if (!warning.empty()) {
    add_warning(c.warnings, {"reference_blas", warning});
    out += fmt::format("warning [reference_blas]: {}\n", warning);
  }
  return out;
}

std::string metrics_with_warnings(const std::string& metrics_text, const std::vector<RunWarning>& warnings) {
  auto j = nlohmann::ordered_json::parse(metrics_text);
  j["warnings"] = nlohmann::ordered_json::array();
  for (const auto& w : warnings) j["warnings"].push_back({{"code", w.code}, {"message", w.message}});
  return j.dump(2) + "\n";
}

void write_metrics(Chain& c, const std::string& dir) {
  if (!config::cross_validated(c.s.split.method) && c.split.part.size() == c.manifest.samples.size() &&
      !c.split.part.empty()) {
    // What the split allowed: its sizes per grade and the patients it put on both sides.
    auto j = nlohmann::ordered_json::parse(c.metrics_text);
    const auto cnt = c.split.counts(c.manifest);
    j["split"] = {
        {"method", config::name(c.s.split.method)},
        {"train", cnt[0]},
        {"val", cnt[1]},
        {"test", cnt[2]},
        {"patients_in_train_and_test",
         data::patients_in_both(c.manifest, c.split, data::Part::kTrain, data::Part::kTest).size()}};
    c.metrics_text = j.dump(2) + "\n";
  }
  c.metrics_text = metrics_with_warnings(c.metrics_text, c.warnings);
  auto j = nlohmann::ordered_json::parse(c.metrics_text);
  j["build"] = {{"oess", OESS_VERSION_STRING}, {"libtorch", TORCH_VERSION}};
  for (const auto& [key, value] : platform::facts()) j["build"][key] = value;
  j["build"]["inference"] = "oess engine (oneDNN), activations " + runtime::activation_layout();
  j["build"]["threads"] = {
      {"features", c.s.extract.threads}, {"classifier", c.s.train_threads}, {"blas_per_classifier_fit", 1}};
  c.metrics_text = j.dump(2) + "\n";
  write_file_atomic((std::filesystem::path(dir) / "metrics.json").string(), c.metrics_text);
}

}  // namespace oess::experiment
