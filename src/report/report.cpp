// The run's report: the study's tables and this run's figures as sections, rendered as Markdown and HTML.
#include "oess/report/report.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <variant>

#include "document.h"
#include "oess/core/atomic_file.h"
#include "oess/metrics/metrics.h"
#include "plots.h"

namespace oess::report {
namespace {

namespace fs = std::filesystem;
using metrics::Figure;
using metrics::Metrics;

// The study's published figures beside this run's (Tables 3-5 and its text; "recomputed": from its own
// tables' counts). One row per figure: name, published, recomputed, this run's value.
struct StudyFigure {
  const char* name;
  const char* published;
  const char* recomputed;
  std::string (*value)(const Metrics&);
};

const StudyFigure kStudyFourClass[] = {
    {"4-class accuracy (Table 4)", "75.0%", "75.0%", [](const Metrics& m) { return pct(m.accuracy); }},
    {"kappa, unweighted", "0.61", "0.667", [](const Metrics& m) { return num(m.kappa_unweighted); }},
    {"kappa, linear", "0.74", "0.794", [](const Metrics& m) { return num(m.kappa_linear); }},
    {"kappa, quadratic", "0.84", "0.891", [](const Metrics& m) { return num(m.kappa_quadratic); }},
    {"binary accuracy (Table 5)", "86.9%", "86.9%",
     [](const Metrics& m) { return pct(m.healthy_diseased.accuracy); }},
    {"sensitivity", "0.875", "0.875", [](const Metrics& m) { return num(m.healthy_diseased.sensitivity); }},
    {"specificity", "0.864", "0.864", [](const Metrics& m) { return num(m.healthy_diseased.specificity); }},
    {"binary kappa", "0.78", "0.739", [](const Metrics& m) { return num(m.healthy_diseased.kappa); }},
    {"AUC (P2 + P3)", "0.93 (VGG-16)", "–", [](const Metrics& m) { return num(m.healthy_diseased.auc); }}};

const StudyFigure kStudyBinary[] = {
    {"accuracy (Table 3, VGG-16)", "86.4%", "86.4%",
     [](const Metrics& m) { return pct(m.healthy_diseased.accuracy); }},
    {"sensitivity", "0.864", "0.864", [](const Metrics& m) { return num(m.healthy_diseased.sensitivity); }},
    {"specificity", "0.864", "0.864", [](const Metrics& m) { return num(m.healthy_diseased.specificity); }},
    {"kappa", "–", "0.727", [](const Metrics& m) { return num(m.healthy_diseased.kappa); }},
    {"AUC", "0.93", "–", [](const Metrics& m) { return num(m.healthy_diseased.auc); }}};

constexpr const char* kStudyKappaNote =
    "The study's text reports kappas its own Table 4 does not give (recomputed: 0.667 / 0.794 / 0.891), and "
    "a "
    "binary kappa its Table 5 counts do not give (0.739). Both are shown; nothing is forced to agree.";

std::string count_row_total(const std::array<int, 4>& c) { return std::to_string(c[0] + c[1] + c[2] + c[3]); }

// Table 1: images per split and grade.
Section split_section(const ReportInputs& in) {
  Table t{{"", "0", "1", "2", "3", "Total"}, {}};
  const char* parts[] = {"Training set", "Validation set", "Test set"};
  std::array<int, 4> total{};
  for (size_t p = 0; p < 3; ++p) {
    std::vector<std::string> row = {parts[p]};
    for (size_t g = 0; g < 4; ++g) {
      row.push_back(std::to_string(in.split_counts[p][g]));
      total[g] += in.split_counts[p][g];
    }
    row.push_back(count_row_total(in.split_counts[p]));
    t.rows.push_back(row);
  }
  t.rows.push_back({"Total", std::to_string(total[0]), std::to_string(total[1]), std::to_string(total[2]),
                    std::to_string(total[3]), count_row_total(total)});
  return {"Table 1 — images per split and " + in.scale + " grade", {t}};
}

std::string mean_sd(const std::vector<double>& v, bool percent) {
  double mean = 0, sd = 0;
  for (double x : v) mean += x / static_cast<double>(v.size());
  for (double x : v) sd += (x - mean) * (x - mean);
  sd = v.size() > 1 ? std::sqrt(sd / static_cast<double>(v.size() - 1)) : 0;
  return percent ? fmt::format("{:.1f}% ± {:.1f}", 100 * mean, 100 * sd)
                 : fmt::format("{:.3f} ± {:.3f}", mean, sd);
}

// K-fold runs' Table 1: one row per fold (its test images per grade, its training and validation sizes, the
// tap chosen on its validation, its test figures), then the mean ± sd over folds.
Section folds_section(const ReportInputs& in, bool four) {
  const auto& cv = in.cross_validation;
  Table t{{"fold", "test 0", "test 1", "test 2", "test 3", "training", "validation", "tap", "val accuracy",
           "test accuracy", four ? "quadratic kappa" : "kappa"},
          {}};
  std::vector<double> acc, kap, val;
  for (const auto& r : cv.rows) {
    t.rows.push_back({cv.repeats > 1 ? fmt::format("{}.{}", r.repeat, r.fold) : std::to_string(r.fold),
                      std::to_string(r.test_counts[0]), std::to_string(r.test_counts[1]),
                      std::to_string(r.test_counts[2]), std::to_string(r.test_counts[3]),
                      std::to_string(r.train), std::to_string(r.val), r.tap,
                      fmt::format("{:.1f}%", 100 * r.val_accuracy), fmt::format("{:.1f}%", 100 * r.accuracy),
                      fmt::format("{:.3f}", r.kappa)});
    acc.push_back(r.accuracy);
    kap.push_back(r.kappa);
    val.push_back(r.val_accuracy);
  }
  t.rows.push_back(
      {"mean ± sd", "", "", "", "", "", "", "", mean_sd(val, true), mean_sd(acc, true), mean_sd(kap, false)});
  const std::string how = fmt::format(
      "{}-fold cross-validation{}: every image is in the test part of exactly one fold{}, {}. In each fold, "
      "{:.0f}% of the training part ({}) is held out as that fold's validation set: early stopping, the tap "
      "choice and the ensemble use it, and the fold's test images take no part in anything but their own "
      "predictions (nested selection). The tables below pool the out-of-fold predictions{}. The exported "
      "model is refit on every image with the tap the most folds chose ({}, {} of {}), early-stopped on its "
      "own held-out validation part.",
      cv.folds, cv.repeats > 1 ? fmt::format(", repeated {} times", cv.repeats) : "",
      cv.repeats > 1 ? " per repeat" : "",
      cv.from_column ? "folds as given by the manifest's fold column"
      : cv.grouped   ? "folds stratified by grade and grouped by patient (no patient in two folds)"
                     : "folds stratified by grade, image by image (the manifest has no patient column)",
      100 * cv.val_fraction, cv.grouped ? "whole patients" : "stratified by grade",
      cv.repeats > 1 ? " of repeat 1" : "", cv.refit_tap, cv.refit_chosen, cv.rows.size());
  return {"Table 1 — cross-validation folds", {Paragraph{how}, t}};
}

// Table 2: the training set after balancing.
Section balance_section(const ReportInputs& in) {
  const auto& b = in.train_balanced;
  Table t{{"", "0", "1", "2", "3", "Total"},
          {{"Training set", std::to_string(b[0]), std::to_string(b[1]), std::to_string(b[2]),
            std::to_string(b[3]), count_row_total(b)}}};
  return {"Table 2 — training set after balancing (" + in.balance + ")", {t}};
}

// Fewer images of a grade than this: its cells get no interval (a percentile bootstrap of 1-4 images is
// 0-0 or 0-100).
constexpr long kFewForInterval = 5;

// The two sides of the binary task: the study's words ("healthy" 0-1, "diseased" 2-3) when the run
// reproduces it, the grades otherwise (whether grade 1 is "healthy" is the study's definition).
struct BinaryNames {
  std::string neg, pos;  // lower case, for table heads and prose
  std::string pair;      // "healthy (0–1) / diseased (2–3)"
  std::string plot;      // ASCII, for plot titles
};
BinaryNames binary_names(const ReportInputs& in) {
  if (in.binary_names.size() == 2) {
    const auto& n = in.binary_names;
    return {n[0], n[1], n[0] + " (0–1) / " + n[1] + " (2–3)", n[0] + " (0-1) vs " + n[1] + " (2-3)"};
  }
  if (in.beside_study)
    return {"healthy", "diseased", "healthy (0–1) / diseased (2–3)", "healthy (0-1) vs diseased (2-3)"};
  return {"grades 0–1", "grades 2–3", "grades 0–1 / grades 2–3", "grades 0-1 vs 2-3"};
}
std::string capital(std::string s) {
  if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 'a' + 'A');
  return s;
}

// The study's supplementary table: one classifier per tap.
Section taps_section(const ReportInputs& in, bool four) {
  Table t{
      four ? std::vector<std::string>{"tap", "val accuracy", "test accuracy (95% CI)", "0", "1", "2", "3",
                                      "quadratic kappa (95% CI)", "epoch"}
           : std::vector<std::string>{"tap", "val accuracy", "test accuracy (95% CI)", binary_names(in).neg,
                                      binary_names(in).pos, "kappa (95% CI)", "epoch"},
      {}};
  // Which taps hold ImageNet weights, when the weights file says (imported Keras weights).
  const bool with_weights =
      std::any_of(in.taps.begin(), in.taps.end(), [](const TapRow& r) { return !r.weights.empty(); });
  if (with_weights) t.head.push_back("weights");
  // Each grade's (healthy/diseased's) test images: the n behind the per-class cells.
  const auto& cm = four ? in.metrics.confusion.m : in.metrics.healthy_diseased.confusion.m;
  std::vector<long> n_of(cm.size(), 0);
  for (size_t g = 0; g < cm.size() && 3 + g < t.head.size(); ++g) {
    for (long x : cm[g]) n_of[g] += x;
    t.head[3 + g] += fmt::format(" (n = {})", n_of[g]);
  }
  const bool cv = in.cross_validation.folds > 0;
  if (cv) {
    t.head[1] = "val accuracy (mean ± sd over folds)";
    t.head[2] = "out-of-fold accuracy (95% CI)";
    // Before "epoch", as the rows put them (the weights column, when there is one, stays last).
    const auto epoch = std::find(t.head.begin(), t.head.end(), "epoch");
    t.head.insert(epoch, {"test accuracy (mean ± sd over folds)", "chosen by folds"});
  }
  for (const auto& r : in.taps) {
    std::vector<std::string> row = {r.tap + (r.best ? " *" : ""),
                                    fmt::format("{:.1f}%", 100 * r.val_accuracy),
                                    fmt::format("{:.1f}% ({:.1f}–{:.1f})", 100 * r.test_accuracy,
                                                100 * r.test_accuracy_ci[0], 100 * r.test_accuracy_ci[1])};
    for (size_t c = 0; c < (four ? 4u : 2u); ++c) {
      std::string cell = c < r.per_class.size() && !std::isnan(r.per_class[c])
                             ? fmt::format("{:.1f}%", 100 * r.per_class[c])
                             : "–";
      if (c < r.per_class_ci.size() && !std::isnan(r.per_class_ci[c][0]) &&
          (c >= n_of.size() || n_of[c] >= kFewForInterval))
        cell += fmt::format(" ({:.0f}–{:.0f})", 100 * r.per_class_ci[c][0], 100 * r.per_class_ci[c][1]);
      row.push_back(cell);
    }
    row.push_back(
        fmt::format("{:.3f}", r.kappa_quadratic) +
        (std::isnan(r.kappa_ci[0]) ? "" : fmt::format(" ({:.3f}–{:.3f})", r.kappa_ci[0], r.kappa_ci[1])));
    if (cv) {
      row[1] = fmt::format("{:.1f}% ± {:.1f}", 100 * r.val_accuracy, 100 * r.val_sd);
      row.push_back(fmt::format("{:.1f}% ± {:.1f}", 100 * r.test_mean, 100 * r.test_sd));
      row.push_back(std::to_string(r.chosen));
    }
    row.push_back(std::to_string(r.best_epoch));
    if (with_weights) row.push_back(r.weights.empty() ? "–" : r.weights);
    t.rows.push_back(row);
  }
  if (cv)
    return {
        "Supplementary table — one classifier per tap and fold (* = chosen by the most folds; epoch: "
        "fold 1's)",
        {t}};
  return {"Supplementary table — one classifier per tap (* = best on validation)", {t}};
}

std::string ci_note(const Metrics& m) {
  return fmt::format("95% CIs: percentile bootstrap, {} resamples by {}.", m.bootstrap.resamples,
                     m.bootstrap.unit);
}

// Table 4: the 4-class confusion with the per-class accuracy row.
Section four_class_section(const ReportInputs& in) {
  const Metrics& m = in.metrics;
  Table t{{"Expert \\ oess", "0", "1", "2", "3", "Total"}, {}};
  for (size_t i = 0; i < 4; ++i) {
    std::vector<std::string> row = {std::to_string(i)};
    long sum = 0;
    for (size_t j = 0; j < 4; ++j) {
      row.push_back(std::to_string(m.confusion.m[i][j]));
      sum += m.confusion.m[i][j];
    }
    row.push_back(std::to_string(sum));
    t.rows.push_back(row);
  }
  std::vector<std::string> acc_row = {"Accuracy (95% CI)"};
  for (size_t i = 0; i < m.per_class_accuracy.size(); ++i) {
    const auto& f = m.per_class_accuracy[i];
    long n = 0;
    for (long x : m.confusion.m[i]) n += x;
    acc_row.push_back(n < kFewForInterval
                          ? fmt::format("{} (n = {}: too few for an interval)", fmt_pct(f.value), n)
                          : fmt::format("{} n = {}", pct(f), n));
  }
  acc_row.push_back(pct(m.accuracy));
  t.rows.push_back(acc_row);
  return {"Table 4 — " + in.final_label + ", " + in.scale + " 0–3, test set", {t, Paragraph{ci_note(m)}}};
}

// Tables 3/5: the healthy/diseased 2x2 with row shares; the members' majority vote when there are members.
Section binary_section(const ReportInputs& in, bool four) {
  const auto& b = in.metrics.healthy_diseased;
  const auto& cb = b.confusion.m;
  auto share = [&](size_t i, size_t j) {
    const long row = cb[i][0] + cb[i][1];
    return fmt::format("{} ({:.1f}%)", cb[i][j], row ? 100.0 * static_cast<double>(cb[i][j]) / row : 0.0);
  };
  const BinaryNames bn = binary_names(in);
  Section s{
      four ? "Tables 3/5 — " + bn.pair + " from the final grades, test set"
           : "Table 3 — " + in.final_label + ", " + bn.pair + ", test set",
      {Table{{"Expert \\ oess", capital(bn.neg), capital(bn.pos)},
             {{capital(bn.neg), share(0, 0), share(0, 1)}, {capital(bn.pos), share(1, 0), share(1, 1)}}}}};
  if (!in.test_binary_vote.empty()) {
    const auto cv = metrics::confusion(metrics::to_binary(in.test_truth), in.test_binary_vote, 2);
    s.parts.push_back(Paragraph{fmt::format(
        "Majority vote of the members' {}/{} calls (the study's Table 5): accuracy {:.1f}%, "
        "sensitivity {:.3f}, specificity {:.3f}, kappa {:.3f} (confusion {}/{}/{}/{}: TN/FP/FN/TP).",
        bn.neg, bn.pos, 100 * metrics::accuracy(cv), metrics::sensitivity(cv), metrics::specificity(cv),
        metrics::kappa(cv, metrics::KappaWeights::kUnweighted), cv.m[0][0], cv.m[0][1], cv.m[1][0],
        cv.m[1][1])});
  }
  s.parts.push_back(
      Paragraph{fmt::format("Accuracy {}, sensitivity {}, specificity {}, kappa {}, AUC {}.", pct(b.accuracy),
                            num(b.sensitivity), num(b.specificity), num(b.kappa), num(b.auc))});
  if (!four) s.parts.push_back(Paragraph{ci_note(in.metrics)});
  return s;
}

Section patient_section(const metrics::PerPatient& pp) {
  Table t{{"patient", "expert sum", "oess sum", "difference"}, {}};
  for (const auto& r : pp.rows)
    t.rows.push_back({r.patient, fmt::format("{:g}", r.truth), fmt::format("{:g}", r.pred),
                      fmt::format("{:+g}", r.pred - r.truth)});
  return {"Per patient",
          {Paragraph{fmt::format(
               "Per patient ({} patients; per patient the {} over the test images): ICC(2,1) {} between the "
               "expert's and oess's sums; mean difference (oess - expert) {}; Wilcoxon signed-rank p = {} "
               "({}, {} non-zero differences).",
               pp.patients, pp.score, fmt_num(pp.icc_2_1), fmt_num(pp.mean_difference),
               fmt_num(pp.wilcoxon.p), pp.wilcoxon.exact ? "exact" : "normal approximation", pp.wilcoxon.n)},
           t}};
}

// This run beside the study (different data: the comparison is of shape, not of value).
Section study_section(const Metrics& m, bool four) {
  Table t{{"figure", "study, as published", "study, recomputed from its tables", "this run (95% CI)"}, {}};
  auto add = [&](const auto& rows) {
    for (const StudyFigure& f : rows) t.rows.push_back({f.name, f.published, f.recomputed, f.value(m)});
  };
  if (four)
    add(kStudyFourClass);
  else
    add(kStudyBinary);
  return {"Beside the study (different data)", {t, Paragraph{kStudyKappaNote}}};
}

// The plots: written to DIR/plots/NAME.png, embedded in the HTML.
Section plots_section(const ReportInputs& in, bool four, const std::string& dir) {
  const Metrics& m = in.metrics;
  std::vector<std::pair<std::string, cv::Mat>> plots;
  if (four)
    plots.emplace_back("confusion_4class",
                       confusion_plot(m.confusion.m, {"0", "1", "2", "3"}, in.scale + " 0-3, test set"));
  plots.emplace_back(
      "confusion_binary",
      confusion_plot(m.healthy_diseased.confusion.m,
                     in.binary_names.size() == 2 ? in.binary_names
                     : in.beside_study           ? std::vector<std::string>{"healthy", "diseased"}
                                                 : std::vector<std::string>{"0-1", "2-3"},
                     in.beside_study ? "Healthy / diseased, test set" : "Grades 0-1 / 2-3, test set"));
  plots.emplace_back("roc", roc_plot(in.test_truth, in.test_p_diseased, m.healthy_diseased.auc.value,
                                     binary_names(in).plot));
  if (!in.taps.empty()) plots.emplace_back("taps", tap_chart(in.taps));
  if (!in.taps.empty() && in.cross_validation.folds > 0)
    plots.emplace_back("taps_folds", tap_fold_chart(in.taps));
  if (!in.curves.empty()) plots.emplace_back("curves", curve_plot(in.curves));
  if (!in.test_paths.empty()) plots.emplace_back("examples", examples(in));
  Section s{"Plots", {}};
  for (const auto& [name, img] : plots) {
    Plot p{name, png(img)};
    write_file_atomic((fs::path(dir) / "plots" / (name + ".png")).string(), p.png);
    s.parts.push_back(std::move(p));
  }
  return s;
}

// The data check's summary (data/dataset_check.h): one row per line, indented lines marked.
Section dataset_section(const ReportInputs& in) {
  Table t{{"Dataset check (the data stage decoded every image)"}, {}};
  for (const auto& line : in.dataset) {
    size_t indent = line.find_first_not_of(' ');
    if (indent == std::string::npos) continue;
    std::string mark;
    for (size_t k = 0; k < indent / 2; ++k) mark += "· ";
    t.rows.push_back({mark + line.substr(indent)});
  }
  return {"Dataset", {t}};
}

constexpr const char* kHtmlHead =
    "</title>\n<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
    "table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;padding:4px 8px;"
    "text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}"
    ".note{background:#fff4d6;border-left:4px solid #e0a000;padding:8px;font-weight:bold}"
    "figure{display:inline-block;margin:8px}</style></head><body>\n";

}  // namespace

void write_report(const std::string& dir, const ReportInputs& in) {
  fs::create_directories(fs::path(dir) / "plots");
  const bool four = !in.metrics.binary;
  std::vector<Section> sections;
  if (!in.dataset.empty()) sections.push_back(dataset_section(in));
  sections.push_back(in.cross_validation.folds > 0 ? folds_section(in, four) : split_section(in));
  sections.push_back(balance_section(in));
  sections.push_back(taps_section(in, four));
  if (four) sections.push_back(four_class_section(in));
  sections.push_back(binary_section(in, four));
  sections.push_back(clinical_section(in, dir));
  if (in.gallery)
    sections.back().parts.push_back(
        Paragraph{"The test images oess gets most wrong, with their heat maps and per group: gallery.html "
                  "(gallery.md), "
                  "written by the export stage."});
  for (const auto& t : in.metrics.by) sections.push_back(group_section(t));
  if (!in.readers.empty()) {
    Table t{{"Readers (docs/readers.md)"}, {}};
    for (const auto& line : in.readers) t.rows.push_back({line});
    sections.push_back({"Readers", {t}});
  }
  if (in.metrics.per_patient) sections.push_back(patient_section(*in.metrics.per_patient));
  if (in.beside_study) sections.push_back(study_section(in.metrics, four));
  sections.push_back(plots_section(in, four, dir));

  if (in.write_md) {
    std::string md = "# " + in.title + "\n\n";
    for (const auto& n : in.notes) md += "> **" + n + "**\n\n";
    for (const auto& w : in.warnings)
      if (w.code != "random_weights") md += "> **Warning** (`" + w.code + "`): " + w.message + "\n\n";
    for (const auto& s : sections) md += render_md(s);
    write_file_atomic((fs::path(dir) / "report.md").string(), md);
  }
  if (in.write_html) {
    std::string html = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" +
                       html_escape(in.title) + kHtmlHead + "<h1>" + html_escape(in.title) + "</h1>\n";
    for (const auto& n : in.notes) html += "<p class=\"note\">" + html_escape(n) + "</p>\n";
    for (const auto& w : in.warnings)
      if (w.code != "random_weights")
        html +=
            "<p class=\"note\">Warning (" + html_escape(w.code) + "): " + html_escape(w.message) + "</p>\n";
    for (const auto& s : sections) html += render_html(s);
    write_file_atomic((fs::path(dir) / "report.html").string(), html + "</body></html>\n");
  }
}

std::string base64(const std::string& in) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], t[v & 63]};
  }
  if (i + 1 == in.size()) {
    const uint32_t v = uint8_t(in[i]) << 16;
    out += {t[v >> 18], t[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    const uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], '='};
  }
  return out;
}

}  // namespace oess::report
