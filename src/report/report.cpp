#include "oess/report/report.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "oess/core/atomic_file.h"
#include "oess/data/image.h"
#include "oess/metrics/evaluate.h"
#include "oess/metrics/metrics.h"

namespace oess::report {
namespace {

// Text from configs (run name, description) shown in HTML.
std::string html_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    switch (ch) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += ch;
    }
  }
  return out;
}

namespace fs = std::filesystem;
using Json = nlohmann::json;

const cv::Scalar kInk(40, 40, 40), kGrid(220, 220, 220), kBlue(180, 110, 30), kOrange(40, 130, 230);

std::string png(const cv::Mat& m) {
  std::vector<uchar> buf;
  cv::imencode(".png", m, buf);
  return std::string(buf.begin(), buf.end());
}

void text(cv::Mat& m, const std::string& s, cv::Point at, double scale = 0.45, cv::Scalar c = kInk,
          int thick = 1) {
  cv::putText(m, s, at, cv::FONT_HERSHEY_SIMPLEX, scale, c, thick, cv::LINE_AA);
}

// Rows = truth; cell colour by the row's share, count and share written in.
cv::Mat heatmap(const std::vector<std::vector<long>>& cm, const std::vector<std::string>& names,
                const std::string& title) {
  const int k = static_cast<int>(cm.size()), cell = 78, left = 90, top = 60;
  cv::Mat m(top + k * cell + 40, left + k * cell + 20, CV_8UC3, cv::Scalar(255, 255, 255));
  text(m, title, {10, 22}, 0.55, kInk, 1);
  text(m, "prediction", {left + k * cell / 2 - 40, top - 10});
  for (int i = 0; i < k; ++i) {
    long row = 0;
    for (long v : cm[static_cast<size_t>(i)]) row += v;
    text(m, names[static_cast<size_t>(i)], {10, top + i * cell + cell / 2 + 5});
    text(m, names[static_cast<size_t>(i)], {left + i * cell + cell / 2 - 12, top + k * cell + 22});
    for (int j = 0; j < k; ++j) {
      const long v = cm[static_cast<size_t>(i)][static_cast<size_t>(j)];
      const double share = row ? static_cast<double>(v) / row : 0;
      const cv::Scalar fill(255 - share * (255 - 180), 255 - share * (255 - 110), 255 - share * (255 - 30));
      const cv::Rect r(left + j * cell, top + i * cell, cell, cell);
      cv::rectangle(m, r, fill, cv::FILLED);
      cv::rectangle(m, r, kGrid, 1);
      const cv::Scalar ink = share > 0.55 ? cv::Scalar(255, 255, 255) : kInk;
      text(m, std::to_string(v), {r.x + 8, r.y + 32}, 0.6, ink, 2);
      text(m, fmt::format("{:.1f}%", 100 * share), {r.x + 8, r.y + 56}, 0.42, ink);
    }
  }
  text(m, "truth", {10, top - 10});
  return m;
}

// A plot frame: x and y in [0, 1] (y may be scaled by the caller), with grid lines every 0.1.
struct Frame {
  cv::Mat m;
  cv::Rect area;
  cv::Point at(double x, double y) const {
    return {area.x + static_cast<int>(std::lround(x * area.width)),
            area.y + area.height - static_cast<int>(std::lround(y * area.height))};
  }
};

Frame frame(int w, int h, const std::string& title, const std::string& xlabel, const std::string& ylabel) {
  Frame f{cv::Mat(h, w, CV_8UC3, cv::Scalar(255, 255, 255)), cv::Rect(60, 40, w - 80, h - 90)};
  text(f.m, title, {10, 22}, 0.55);
  for (int i = 0; i <= 10; ++i) {
    cv::line(f.m, f.at(0, i / 10.0), f.at(1, i / 10.0), kGrid);
    text(f.m, fmt::format("{:.1f}", i / 10.0), f.at(0, i / 10.0) + cv::Point(-40, 4), 0.38);
  }
  cv::rectangle(f.m, f.area, kInk, 1);
  text(f.m, xlabel, {f.area.x + f.area.width / 2 - 40, h - 12});
  text(f.m, ylabel, {4, f.area.y - 8}, 0.42);
  return f;
}

cv::Mat roc_plot(const std::vector<int>& truth, const std::vector<double>& score, double auc) {
  Frame f = frame(460, 440, fmt::format("ROC, healthy (0-1) vs diseased (2-3): AUC {:.3f}", auc),
                  "1 - specificity", "sensitivity");
  cv::line(f.m, f.at(0, 0), f.at(1, 1), kGrid, 1, cv::LINE_AA);
  std::vector<size_t> order(score.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return score[a] > score[b]; });
  double pos = 0, neg = 0;
  for (int t : truth) (t >= 2 ? pos : neg) += 1;
  if (pos == 0 || neg == 0) return f.m;
  double tp = 0, fp = 0;
  cv::Point last = f.at(0, 0);
  for (size_t i = 0; i < order.size(); ++i) {
    (truth[order[i]] >= 2 ? tp : fp) += 1;
    if (i + 1 < order.size() && score[order[i + 1]] == score[order[i]]) continue;  // ties move diagonally
    const cv::Point p = f.at(fp / neg, tp / pos);
    cv::line(f.m, last, p, kBlue, 2, cv::LINE_AA);
    last = p;
  }
  return f.m;
}

cv::Mat tap_chart(const std::vector<TapRow>& taps) {
  const int w = std::max(480, 70 + 48 * static_cast<int>(taps.size()));
  Frame f =
      frame(w, 360, "Accuracy per tap: validation (orange), test with 95% CI (blue)", "tap", "accuracy");
  const double step = 1.0 / static_cast<double>(taps.size());
  for (size_t i = 0; i < taps.size(); ++i) {
    const double x = (static_cast<double>(i) + 0.5) * step;
    const auto& t = taps[i];
    cv::line(f.m, f.at(x, t.test_accuracy_ci[0]), f.at(x, t.test_accuracy_ci[1]), kBlue, 2, cv::LINE_AA);
    cv::circle(f.m, f.at(x, t.test_accuracy), 4, kBlue, cv::FILLED, cv::LINE_AA);
    cv::circle(f.m, f.at(x + step * 0.2, t.val_accuracy), 4, kOrange, cv::FILLED, cv::LINE_AA);
    text(f.m, t.tap + (t.best ? "*" : ""), f.at(x, 0) + cv::Point(-18, 18), 0.36);
  }
  return f.m;
}

cv::Mat curve_plot(const std::vector<Curve>& curves) {
  size_t epochs = 1;
  for (const auto& c : curves) epochs = std::max(epochs, c.val_accuracy.size());
  Frame f = frame(560, 360, "Validation accuracy per epoch, one line per tap", "epoch", "val accuracy");
  for (size_t k = 0; k < curves.size(); ++k) {
    const double hue =
        180.0 * static_cast<double>(k) / static_cast<double>(std::max<size_t>(1, curves.size()));
    cv::Mat hsv(1, 1, CV_8UC3, cv::Scalar(hue, 200, 200)), bgr;
    cv::cvtColor(hsv, bgr, cv::COLOR_HSV2BGR);
    const cv::Vec3b c = bgr.at<cv::Vec3b>(0, 0);
    const auto& v = curves[k].val_accuracy;
    for (size_t e = 1; e < v.size(); ++e)
      cv::line(f.m,
               f.at(static_cast<double>(e - 1) / static_cast<double>(epochs - 1 ? epochs - 1 : 1), v[e - 1]),
               f.at(static_cast<double>(e) / static_cast<double>(epochs - 1 ? epochs - 1 : 1), v[e]),
               cv::Scalar(c[0], c[1], c[2]), 2, cv::LINE_AA);
  }
  text(f.m, fmt::format("{} epochs at most", epochs), {f.area.x + f.area.width - 130, f.area.y + 16}, 0.38);
  return f.m;
}

// One example per confusion cell (truth row, prediction column), 4x4 thumbnails.
cv::Mat examples(const ReportInputs& in) {
  const int t = 96, left = 30, top = 30;
  cv::Mat m(top + 4 * t + 4, left + 4 * t + 4, CV_8UC3, cv::Scalar(255, 255, 255));
  text(m, "truth down, prediction across", {4, 18}, 0.42);
  for (int r = 0; r < 4; ++r) {
    text(m, std::to_string(r), {10, top + r * t + t / 2});
    for (int c = 0; c < 4; ++c) {
      const cv::Rect cell(left + c * t + 2, top + r * t + 2, t - 4, t - 4);
      cv::rectangle(m, cell, kGrid, 1);
      for (size_t i = 0; i < in.test_paths.size(); ++i) {
        if (in.test_truth[i] != r || in.test_pred[i] != c) continue;
        try {
          cv::Mat img = data::decode_image(in.test_paths[i]), small;
          cv::resize(img, small, cell.size(), 0, 0, cv::INTER_AREA);
          small.copyTo(m(cell));
        } catch (const std::exception&) {
        }
        break;
      }
    }
  }
  return m;
}

std::string fmt_pct(const Json& v) {
  return v.is_null() ? "–" : fmt::format("{:.1f}%", 100 * v.get<double>());
}
std::string fmt_num(const Json& v) { return v.is_null() ? "–" : fmt::format("{:.3f}", v.get<double>()); }
std::string fmt_ci(const Json& ci, bool pct) {
  if (!ci.is_array() || ci[0].is_null()) return "";
  return pct ? fmt::format(" ({:.1f}–{:.1f})", 100 * ci[0].get<double>(), 100 * ci[1].get<double>())
             : fmt::format(" ({:.3f}–{:.3f})", ci[0].get<double>(), ci[1].get<double>());
}

// A markdown table; html() renders the same rows.
struct Table {
  std::vector<std::string> head;
  std::vector<std::vector<std::string>> rows;
  std::string md() const {
    std::string s = "| " + fmt::format("{}", fmt::join(head, " | ")) + " |\n|";
    for (size_t i = 0; i < head.size(); ++i) s += "---|";
    s += "\n";
    for (const auto& r : rows) s += "| " + fmt::format("{}", fmt::join(r, " | ")) + " |\n";
    return s;
  }
  std::string html() const {
    auto esc = [](const std::string& x) {
      std::string o;
      for (char c : x) o += c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '&' ? "&amp;" : std::string(1, c);
      return o;
    };
    std::string s = "<table><tr>";
    for (const auto& h : head) s += "<th>" + esc(h) + "</th>";
    s += "</tr>";
    for (const auto& r : rows) {
      s += "<tr>";
      for (const auto& c : r) s += "<td>" + esc(c) + "</td>";
      s += "</tr>";
    }
    return s + "</table>";
  }
};

}  // namespace

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

void write_report(const std::string& dir, const ReportInputs& in) {
  fs::create_directories(fs::path(dir) / "plots");
  const Json m = Json::parse(in.metrics_json);
  const bool four = m.value("task", "oess4") != "binary";
  const Json& b = four ? m.at("binary") : m;
  const char* grades[] = {"0", "1", "2", "3"};

  Table t1{{"", "0", "1", "2", "3", "Total"}, {}};
  const char* parts[] = {"Training set", "Validation set", "Test set"};
  std::array<int, 4> total{};
  for (int p = 0; p < 3; ++p) {
    std::vector<std::string> row = {parts[p]};
    int sum = 0;
    for (int g = 0; g < 4; ++g) {
      row.push_back(std::to_string(in.split_counts[static_cast<size_t>(p)][static_cast<size_t>(g)]));
      sum += in.split_counts[static_cast<size_t>(p)][static_cast<size_t>(g)];
      total[static_cast<size_t>(g)] += in.split_counts[static_cast<size_t>(p)][static_cast<size_t>(g)];
    }
    row.push_back(std::to_string(sum));
    t1.rows.push_back(row);
  }
  t1.rows.push_back({"Total", std::to_string(total[0]), std::to_string(total[1]), std::to_string(total[2]),
                     std::to_string(total[3]), std::to_string(total[0] + total[1] + total[2] + total[3])});
  Table t2{{"", "0", "1", "2", "3", "Total"},
           {{"Training set", std::to_string(in.train_balanced[0]), std::to_string(in.train_balanced[1]),
             std::to_string(in.train_balanced[2]), std::to_string(in.train_balanced[3]),
             std::to_string(in.train_balanced[0] + in.train_balanced[1] + in.train_balanced[2] +
                            in.train_balanced[3])}}};

  // Table 4: 4-class confusion with the per-class accuracy row.
  Table t4{{"Rheumatologist \\ oess", "0", "1", "2", "3", "Total"}, {}};
  const Json cm = four ? m.at("confusion") : Json::array();
  for (int i = 0; four && i < 4; ++i) {
    std::vector<std::string> row = {grades[i]};
    long sum = 0;
    for (int j = 0; j < 4; ++j) {
      row.push_back(std::to_string(cm[i][j].get<long>()));
      sum += cm[i][j].get<long>();
    }
    row.push_back(std::to_string(sum));
    t4.rows.push_back(row);
  }
  std::vector<std::string> acc_row = {"Accuracy (95% CI)"};
  if (four) {
    for (int c = 0; c < 4; ++c)
      acc_row.push_back(fmt_pct(m["per_class_accuracy"][c]) + fmt_ci(m["per_class_accuracy_ci95"][c], true));
    acc_row.push_back(fmt_pct(m["accuracy"]) + fmt_ci(m["accuracy_ci95"], true));
    t4.rows.push_back(acc_row);
  }

  // Tables 3/5: healthy/diseased 2x2 with percentages (row shares), from the majority vote when given.
  std::vector<std::vector<long>> cb = b.at("confusion").get<std::vector<std::vector<long>>>();
  auto share = [&](int i, int j) {
    const long row = cb[static_cast<size_t>(i)][0] + cb[static_cast<size_t>(i)][1];
    return fmt::format("{} ({:.1f}%)", cb[static_cast<size_t>(i)][static_cast<size_t>(j)],
                       row ? 100.0 * cb[static_cast<size_t>(i)][static_cast<size_t>(j)] / row : 0.0);
  };
  Table t5{{"Rheumatologist \\ oess", "Healthy", "Diseased"},
           {{"Healthy", share(0, 0), share(0, 1)}, {"Diseased", share(1, 0), share(1, 1)}}};

  Table sup{four ? std::vector<std::string>{"tap", "val accuracy", "test accuracy (95% CI)", "0", "1", "2",
                                            "3", "quadratic kappa (95% CI)", "epoch"}
                 : std::vector<std::string>{"tap", "val accuracy", "test accuracy (95% CI)", "healthy",
                                            "diseased", "kappa (95% CI)", "epoch"},
            {}};
  // Which taps hold ImageNet weights, when the weights file says (imported Keras weights).
  const bool with_weights =
      std::any_of(in.taps.begin(), in.taps.end(), [](const TapRow& t) { return !t.weights.empty(); });
  if (with_weights) sup.head.push_back("weights");
  for (const auto& t : in.taps) {
    std::vector<std::string> row = {t.tap + (t.best ? " *" : ""),
                                    fmt::format("{:.1f}%", 100 * t.val_accuracy),
                                    fmt::format("{:.1f}% ({:.1f}–{:.1f})", 100 * t.test_accuracy,
                                                100 * t.test_accuracy_ci[0], 100 * t.test_accuracy_ci[1])};
    for (size_t c = 0; c < (four ? 4u : 2u); ++c) {
      std::string cell = c < t.per_class.size() && !std::isnan(t.per_class[c])
                             ? fmt::format("{:.1f}%", 100 * t.per_class[c])
                             : "–";
      if (c < t.per_class_ci.size() && !std::isnan(t.per_class_ci[c][0]))
        cell += fmt::format(" ({:.0f}–{:.0f})", 100 * t.per_class_ci[c][0], 100 * t.per_class_ci[c][1]);
      row.push_back(cell);
    }
    row.push_back(
        fmt::format("{:.3f}", t.kappa_quadratic) +
        (std::isnan(t.kappa_ci[0]) ? "" : fmt::format(" ({:.3f}–{:.3f})", t.kappa_ci[0], t.kappa_ci[1])));
    row.push_back(std::to_string(t.best_epoch));
    if (with_weights) row.push_back(t.weights.empty() ? "–" : t.weights);
    sup.rows.push_back(row);
  }

  // This run beside the study (different data: the comparison is of shape, not of value).
  Table pub{{"figure", "study, as published", "study, recomputed from its tables", "this run (95% CI)"}, {}};
  if (four)
    pub.rows = {
        {"4-class accuracy (Table 4)", "75.0%", "75.0%",
         fmt_pct(m["accuracy"]) + fmt_ci(m["accuracy_ci95"], true)},
        {"kappa, unweighted", "0.61", "0.667",
         fmt_num(m["kappa"]["unweighted"]) + fmt_ci(m["kappa_ci95"]["unweighted"], false)},
        {"kappa, linear", "0.74", "0.794",
         fmt_num(m["kappa"]["linear"]) + fmt_ci(m["kappa_ci95"]["linear"], false)},
        {"kappa, quadratic", "0.84", "0.891",
         fmt_num(m["kappa"]["quadratic"]) + fmt_ci(m["kappa_ci95"]["quadratic"], false)},
        {"binary accuracy (Table 5)", "86.9%", "86.9%",
         fmt_pct(b["accuracy"]) + fmt_ci(b["accuracy_ci95"], true)},
        {"sensitivity", "0.875", "0.875", fmt_num(b["sensitivity"]) + fmt_ci(b["sensitivity_ci95"], false)},
        {"specificity", "0.864", "0.864", fmt_num(b["specificity"]) + fmt_ci(b["specificity_ci95"], false)},
        {"binary kappa", "0.78", "0.739", fmt_num(b["kappa"]) + fmt_ci(b["kappa_ci95"], false)},
        {"AUC (P2 + P3)", "0.93 (VGG-16)", "–", fmt_num(b["auc"]) + fmt_ci(b["auc_ci95"], false)}};
  if (!four)
    pub.rows = {
        {"accuracy (Table 3, VGG-16)", "86.4%", "86.4%",
         fmt_pct(b["accuracy"]) + fmt_ci(b["accuracy_ci95"], true)},
        {"sensitivity", "0.864", "0.864", fmt_num(b["sensitivity"]) + fmt_ci(b["sensitivity_ci95"], false)},
        {"specificity", "0.864", "0.864", fmt_num(b["specificity"]) + fmt_ci(b["specificity_ci95"], false)},
        {"kappa", "–", "0.727", fmt_num(b["kappa"]) + fmt_ci(b["kappa_ci95"], false)},
        {"AUC", "0.93", "–", fmt_num(b["auc"]) + fmt_ci(b["auc_ci95"], false)}};

  // Plots.
  std::vector<std::pair<std::string, cv::Mat>> plots;
  if (four)
    plots.emplace_back("confusion_4class", heatmap(cm.get<std::vector<std::vector<long>>>(),
                                                   {"0", "1", "2", "3"}, "OESS 0-3, test set"));
  plots.emplace_back("confusion_binary",
                     heatmap(cb, {"healthy", "diseased"}, "Healthy / diseased, test set"));
  plots.emplace_back(
      "roc", roc_plot(in.test_truth, in.test_p_diseased, b["auc"].is_null() ? NAN : b["auc"].get<double>()));

  if (!in.taps.empty()) plots.emplace_back("taps", tap_chart(in.taps));
  if (!in.curves.empty()) plots.emplace_back("curves", curve_plot(in.curves));
  if (!in.test_paths.empty()) plots.emplace_back("examples", examples(in));
  std::string md_plots, html_plots;
  for (const auto& [name, img] : plots) {
    const std::string bytes = png(img);
    write_file_atomic((fs::path(dir) / "plots" / (name + ".png")).string(), bytes);
    md_plots += fmt::format("![{}](plots/{}.png)\n\n", name, name);
    html_plots += fmt::format("<figure><img alt=\"{}\" src=\"data:image/png;base64,{}\"></figure>\n", name,
                              base64(bytes));
  }

  std::string notes_md, notes_html;
  for (const auto& n : in.notes) {
    notes_md += "> **" + n + "**\n\n";
    notes_html += "<p class=\"note\">" + html_escape(n) + "</p>\n";
  }
  const std::string ci_note =
      fmt::format("95% CIs: percentile bootstrap, {} resamples by {}.",
                  m["bootstrap"]["resamples"].get<int>(), m["bootstrap"]["unit"].get<std::string>());
  auto section = [](const std::string& h, const std::string& body) {
    return "## " + h + "\n\n" + body + "\n";
  };
  std::string md = "# " + in.title + "\n\n" + notes_md;
  md += section("Table 1 — images per split and OESS grade", t1.md());
  md += section("Table 2 — training set after balancing (" + in.balance + ")", t2.md());
  md += section("Supplementary table — one classifier per tap (* = best on validation)", sup.md());
  if (four)
    md += section("Table 4 — " + in.final_label + ", OESS 0–3, test set", t4.md() + "\n" + ci_note + "\n");
  const std::string t35 = four ? "Tables 3/5 — healthy (0–1) / diseased (2–3) from the final grades, test set"
                               : "Table 3 — " + in.final_label + ", healthy (0–1) / diseased (2–3), test set";
  std::string vote;
  if (!in.test_binary_vote.empty()) {
    const auto cv = metrics::confusion(metrics::to_binary(in.test_truth), in.test_binary_vote, 2);
    vote = fmt::format(
        "\nMajority vote of the members' healthy/diseased calls (the study's Table 5): accuracy {:.1f}%, "
        "sensitivity "
        "{:.3f}, specificity {:.3f}, kappa {:.3f} (confusion {}/{}/{}/{}: TN/FP/FN/TP).\n",
        100 * metrics::accuracy(cv), metrics::sensitivity(cv), metrics::specificity(cv),
        metrics::kappa(cv, metrics::KappaWeights::kUnweighted), cv.m[0][0], cv.m[0][1], cv.m[1][0],
        cv.m[1][1]);
  }
  md += section(
      t35,
      t5.md() + vote +
          fmt::format("\nAccuracy {}{}, sensitivity {}{}, specificity {}{}, kappa {}{}, AUC {}{}.\n",
                      fmt_pct(b["accuracy"]), fmt_ci(b["accuracy_ci95"], true), fmt_num(b["sensitivity"]),
                      fmt_ci(b["sensitivity_ci95"], false), fmt_num(b["specificity"]),
                      fmt_ci(b["specificity_ci95"], false), fmt_num(b["kappa"]),
                      fmt_ci(b["kappa_ci95"], false), fmt_num(b["auc"]), fmt_ci(b["auc_ci95"], false)));
  if (m.contains("per_patient")) {
    const auto& pp = m["per_patient"];
    const std::string text = fmt::format(
        "Per patient ({} patients; per patient the {} over the test images): ICC(2,1) {} between the "
        "expert's and oess's sums; "
        "mean difference (oess - expert) {}; Wilcoxon signed-rank p = {} ({}, {} non-zero differences).\n",
        pp["patients"].get<int>(), pp["score"].get<std::string>(), fmt_num(pp["icc_2_1"]),
        fmt_num(pp["mean_difference"]), fmt_num(pp["wilcoxon"]["p"]),
        pp["wilcoxon"]["method"].get<std::string>(), pp["wilcoxon"]["n_nonzero"].get<int>());
    Table pt{{"patient", "expert sum", "oess sum", "difference"}, {}};
    for (const auto& r : pp["rows"])
      pt.rows.push_back({r["patient"].get<std::string>(), fmt::format("{:g}", r["truth"].get<double>()),
                         fmt::format("{:g}", r["pred"].get<double>()),
                         fmt::format("{:+g}", r["pred"].get<double>() - r["truth"].get<double>())});
    md += section("Per patient", text + "\n" + pt.md());
    vote += "</p><h2>Per patient</h2><p>" + text;
  }
  md += section("Beside the study (different data)",
                pub.md() +
                    "\nThe study's text reports kappas its own Table 4 does not give (recomputed: "
                    "0.667 / 0.794 / 0.891), and a binary kappa its Table 5 counts do not give (0.739). "
                    "Both are shown; nothing is forced to agree.\n");
  md += section("Plots", md_plots);
  if (in.write_md) write_file_atomic((fs::path(dir) / "report.md").string(), md);
  if (!in.write_html) return;

  std::string html =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + html_escape(in.title) +
      "</title>\n<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
      "table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;padding:4px 8px;"
      "text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}"
      ".note{background:#fff4d6;border-left:4px solid #e0a000;padding:8px;font-weight:bold}"
      "figure{display:inline-block;margin:8px}</style></head><body>\n";
  html += "<h1>" + html_escape(in.title) + "</h1>\n" + notes_html;
  html += "<h2>Table 1 — images per split and OESS grade</h2>" + t1.html();
  html += "<h2>Table 2 — training set after balancing (" + in.balance + ")</h2>" + t2.html();
  html += "<h2>Supplementary table — one classifier per tap (* = best on validation)</h2>" + sup.html();
  if (four)
    html += "<h2>Table 4 — " + in.final_label + ", OESS 0–3, test set</h2>" + t4.html() + "<p>" + ci_note +
            "</p>";
  html += "<h2>" + t35 + "</h2>" + t5.html() + (four ? "" : "<p>" + ci_note + "</p>") + "<p>" + vote + "</p>";
  html +=
      "<h2>Beside the study (different data)</h2>" + pub.html() +
      "<p>The study's text reports kappas its own Table 4 does not give (recomputed: 0.667 / 0.794 / 0.891), "
      "and a "
      "binary kappa its Table 5 counts do not give (0.739). Both are shown; nothing is forced to agree.</p>";
  html += "<h2>Plots</h2>\n" + html_plots + "</body></html>\n";
  write_file_atomic((fs::path(dir) / "report.html").string(), html);
}

}  // namespace oess::report
