// An ablation grid's summary (oess/report/ablation.h).
#include "oess/report/ablation.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <opencv2/imgproc.hpp>

#include "document.h"
#include "oess/core/atomic_file.h"
#include "oess/io/csv.h"
#include "plots.h"

namespace oess::report {
namespace {

namespace fs = std::filesystem;

std::string pts(double v) { return std::isnan(v) ? "–" : fmt::format("{:+.1f}", 100 * v); }
std::string f6(double v) { return std::isnan(v) ? "" : fmt::format("{:.6f}", v); }
std::string pval(double p) { return std::isnan(p) ? "–" : p < 0.001 ? "<0.001" : fmt::format("{:.3f}", p); }

// Reference first, then by accuracy difference, largest first; unpaired last.
std::vector<const AblationRow*> by_effect(const std::vector<AblationRow>& rows) {
  std::vector<const AblationRow*> out;
  for (const auto& r : rows) out.push_back(&r);
  std::stable_sort(out.begin(), out.end(), [](const AblationRow* a, const AblationRow* b) {
    if (a->reference != b->reference) return a->reference;
    if (a->paired != b->paired) return a->paired;
    return a->diff.accuracy_diff > b->diff.accuracy_diff;
  });
  return out;
}

Table summary_table(const std::vector<AblationRow>& rows) {
  Table t{{"variant", "settings", "n", "accuracy (95% CI)", "quadratic kappa (95% CI)",
           "Δ accuracy, points (95% CI)", "Δ kappa (95% CI)", "discordant (ref only / variant only)",
           "McNemar p", "Holm p", ""},
          {}};
  for (const AblationRow* r : by_effect(rows)) {
    std::vector<std::string> row = {
        r->name, r->settings, std::to_string(r->n),
        fmt::format("{:.1f}% ({:.1f}–{:.1f})", 100 * r->accuracy, 100 * r->accuracy_lo, 100 * r->accuracy_hi),
        fmt::format("{:.3f} ({:.3f}–{:.3f})", r->kappa, r->kappa_lo, r->kappa_hi)};
    if (r->reference) {
      row.insert(row.end(), {"reference", "", "", "", "", ""});
    } else if (!r->paired) {
      row.insert(row.end(), {"not paired: " + r->note, "", "", "", "", ""});
    } else {
      const auto& d = r->diff;
      row.insert(row.end(),
                 {fmt::format("{} ({} to {})", pts(d.accuracy_diff), pts(d.accuracy_lo), pts(d.accuracy_hi)),
                  fmt::format("{:+.3f} ({:+.3f} to {:+.3f})", d.kappa_diff, d.kappa_lo, d.kappa_hi),
                  fmt::format("{} / {}", d.only_a, d.only_b), pval(d.mcnemar_p), pval(r->holm_p),
                  r->flagged ? "different" : ""});
    }
    t.rows.push_back(std::move(row));
  }
  return t;
}

// Each paired variant's accuracy difference with its interval; a line at 0.
cv::Mat forest_plot(const std::vector<AblationRow>& rows) {
  std::vector<const AblationRow*> shown;
  for (const AblationRow* r : by_effect(rows))
    if (r->paired) shown.push_back(r);
  const int h = 70 + 26 * static_cast<int>(std::max<size_t>(shown.size(), 1)), w = 760, left = 300;
  cv::Mat m(h, w, CV_8UC3, cv::Scalar(255, 255, 255));
  const cv::Scalar ink(40, 40, 40), grid(220, 220, 220), red(40, 40, 200), blue(180, 110, 30);
  auto put = [&m, &ink](const std::string& s, cv::Point p, double scale = 0.42) {
    cv::putText(m, s, p, cv::FONT_HERSHEY_SIMPLEX, scale, ink, 1, cv::LINE_AA);
  };
  put("Accuracy difference from the reference, points (95% paired bootstrap CI)", {10, 20}, 0.5);
  double span = 0.05;
  for (const AblationRow* r : shown)
    span = std::max({span, std::abs(r->diff.accuracy_lo), std::abs(r->diff.accuracy_hi)});
  span = std::ceil(span * 20) / 20;
  auto x_of = [&](double v) {
    return left + static_cast<int>(std::lround((v + span) / (2 * span) * (w - left - 30)));
  };
  for (int k = -4; k <= 4; ++k) {
    const double v = span * k / 4;
    cv::line(m, {x_of(v), 35}, {x_of(v), h - 25}, k == 0 ? ink : grid, 1);
    put(fmt::format("{:+.0f}", 100 * v), {x_of(v) - 12, h - 8}, 0.38);
  }
  for (size_t i = 0; i < shown.size(); ++i) {
    const auto& d = shown[i]->diff;
    const int y = 52 + 26 * static_cast<int>(i);
    std::string label = shown[i]->name;
    if (label.size() > 38) label = label.substr(0, 35) + "...";
    put(label, {10, y + 4});
    const cv::Scalar c = shown[i]->flagged ? red : blue;
    cv::line(m, {x_of(d.accuracy_lo), y}, {x_of(d.accuracy_hi), y}, c, 2, cv::LINE_AA);
    cv::circle(m, {x_of(d.accuracy_diff), y}, 5, c, cv::FILLED, cv::LINE_AA);
  }
  return m;
}

}  // namespace

std::string format_ablation(const std::vector<AblationRow>& rows) {
  std::string out = fmt::format("{:<40} {:>5} {:>9} {:>24} {:>9} {:>9}\n", "variant", "n", "accuracy",
                                "Δ accuracy (95% CI)", "McNemar", "Holm");
  for (const AblationRow* r : by_effect(rows)) {
    std::string name = r->name.size() > 40 ? r->name.substr(0, 37) + "..." : r->name;
    std::string diff = r->reference ? "reference"
                       : r->paired  ? fmt::format("{} ({} to {})", pts(r->diff.accuracy_diff),
                                                  pts(r->diff.accuracy_lo), pts(r->diff.accuracy_hi))
                                    : "not paired";
    out += fmt::format("{:<40} {:>5} {:>8.1f}% {:>24} {:>9} {:>9}{}\n", name, r->n, 100 * r->accuracy, diff,
                       r->paired ? pval(r->diff.mcnemar_p) : "", r->paired ? pval(r->holm_p) : "",
                       r->flagged ? "  different" : "");
  }
  return out;
}

namespace {

// Each variant's taps against its selected tap: csv rows and a table.
Table tap_table(const std::vector<TapComparison>& taps, const std::string& dir) {
  io::CsvWriter csv({"variant", "tap", "selected_tap", "n", "accuracy", "accuracy_selected", "accuracy_diff",
                     "accuracy_diff_lo", "accuracy_diff_hi", "kappa_quadratic_diff",
                     "kappa_quadratic_diff_lo", "kappa_quadratic_diff_hi", "mcnemar_p", "holm_p", "flagged"});
  Table t{{"variant", "tap", "accuracy", "Δ accuracy vs selected tap, points (95% CI)", "Δ kappa (95% CI)",
           "McNemar p", "Holm p (variant's taps)", ""},
          {}};
  for (const auto& c : taps) {
    const auto& d = c.diff;
    csv.row({c.variant, c.tap, c.selected, std::to_string(d.n), f6(d.accuracy_b), f6(d.accuracy_a),
             f6(d.accuracy_diff), f6(d.accuracy_lo), f6(d.accuracy_hi), f6(d.kappa_diff), f6(d.kappa_lo),
             f6(d.kappa_hi), f6(d.mcnemar_p), f6(c.holm_p), c.flagged ? "1" : "0"});
    t.rows.push_back(
        {c.variant, c.tap, fmt::format("{:.1f}%", 100 * d.accuracy_b),
         fmt::format("{} ({} to {})", pts(d.accuracy_diff), pts(d.accuracy_lo), pts(d.accuracy_hi)),
         fmt::format("{:+.3f} ({:+.3f} to {:+.3f})", d.kappa_diff, d.kappa_lo, d.kappa_hi), pval(d.mcnemar_p),
         pval(c.holm_p), c.flagged ? "different" : ""});
  }
  csv.write((fs::path(dir) / "ablation_taps.csv").string());
  return t;
}

}  // namespace

void write_ablation(const std::string& dir, const std::vector<AblationRow>& rows,
                    const std::vector<TapComparison>& taps, const std::string& about) {
  io::CsvWriter csv({"variant",
                     "settings",
                     "reference",
                     "n",
                     "accuracy",
                     "accuracy_lo",
                     "accuracy_hi",
                     "kappa_quadratic",
                     "kappa_quadratic_lo",
                     "kappa_quadratic_hi",
                     "accuracy_diff",
                     "accuracy_diff_lo",
                     "accuracy_diff_hi",
                     "kappa_quadratic_diff",
                     "kappa_quadratic_diff_lo",
                     "kappa_quadratic_diff_hi",
                     "right_by_reference_only",
                     "right_by_variant_only",
                     "mcnemar_p",
                     "holm_p",
                     "flagged",
                     "note"});
  for (const auto& r : rows) {
    const auto& d = r.diff;
    const bool p = r.paired && !r.reference;
    csv.row({r.name,
             r.settings,
             r.reference ? "1" : "0",
             std::to_string(r.n),
             f6(r.accuracy),
             f6(r.accuracy_lo),
             f6(r.accuracy_hi),
             f6(r.kappa),
             f6(r.kappa_lo),
             f6(r.kappa_hi),
             p ? f6(d.accuracy_diff) : "",
             p ? f6(d.accuracy_lo) : "",
             p ? f6(d.accuracy_hi) : "",
             p ? f6(d.kappa_diff) : "",
             p ? f6(d.kappa_lo) : "",
             p ? f6(d.kappa_hi) : "",
             p ? std::to_string(d.only_a) : "",
             p ? std::to_string(d.only_b) : "",
             p ? f6(d.mcnemar_p) : "",
             p ? f6(r.holm_p) : "",
             r.flagged ? "1" : "0",
             r.note});
  }
  csv.write((fs::path(dir) / "ablation.csv").string());
  Section s{"Ablation: every variant against the reference, same test images",
            {summary_table(rows), Paragraph{about}}};
  if (!taps.empty()) {
    s.parts.push_back(
        Paragraph{"Inside each variant's sweep: every tap against the tap the variant selected "
                  "(on validation), on the same test images — the same paired statistics, Holm "
                  "over the variant's taps. A tap whose interval covers 0 is not shown worse by "
                  "this test set."});
    s.parts.push_back(tap_table(taps, dir));
  }
  write_file_atomic((fs::path(dir) / "ablation.md").string(), "# oess ablation grid\n\n" + render_md(s));
  fs::create_directories(fs::path(dir) / "plots");
  Plot forest{"ablation_forest", png(forest_plot(rows))};
  write_file_atomic((fs::path(dir) / "plots" / "ablation_forest.png").string(), forest.png);
  s.parts.insert(s.parts.begin() + 1, forest);
  write_file_atomic(
      (fs::path(dir) / "ablation.html").string(),
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>oess ablation grid"
      "</title><style>body{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#222}"
      "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px}"
      "th{background:#f3f3f3}</style></head><body>\n<h1>oess ablation grid</h1>\n" +
          render_html(s) + "</body></html>\n");
}

}  // namespace oess::report
