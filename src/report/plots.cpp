// The report's plots (src/report/plots.h).
#include "plots.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "oess/data/clip.h"
#include "oess/data/image.h"

namespace oess::report {
namespace {

const cv::Scalar kInk(40, 40, 40), kGrid(220, 220, 220), kBlue(180, 110, 30), kOrange(40, 130, 230);

void text(cv::Mat& m, const std::string& s, cv::Point at, double scale = 0.45, cv::Scalar c = kInk,
          int thick = 1) {
  cv::putText(m, s, at, cv::FONT_HERSHEY_SIMPLEX, scale, c, thick, cv::LINE_AA);
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

}  // namespace

std::string png(const cv::Mat& m) {
  std::vector<uchar> buf;
  cv::imencode(".png", m, buf);
  return std::string(buf.begin(), buf.end());
}

// Rows = truth; cell colour by the row's share, count and share written in.
cv::Mat confusion_plot(const std::vector<std::vector<long>>& cm, const std::vector<std::string>& names,
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

cv::Mat roc_plot(const std::vector<int>& truth, const std::vector<double>& score, double auc,
                 const std::string& what) {
  Frame f = frame(460, 440, fmt::format("ROC, {}: AUC {:.3f}", what, auc), "1 - specificity", "sensitivity");
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

cv::Mat reliability_plot(const std::vector<metrics::ReliabilityBin>& bins, double ece,
                         const std::string& what, const std::vector<metrics::ReliabilityBin>& before,
                         double ece_before) {
  Frame f = frame(460, 440,
                  before.empty() ? fmt::format("Reliability, {}: ECE {:.3f}", what, ece)
                                 : fmt::format("Reliability, {}: ECE {:.3f} (before calibration {:.3f})",
                                               what, ece, ece_before),
                  "confidence", "share right");
  cv::line(f.m, f.at(0, 0), f.at(1, 1), kGrid, 1, cv::LINE_AA);
  long most = 1;
  for (const auto& b : bins) most = std::max(most, b.n);
  for (const auto& b : before) most = std::max(most, b.n);
  for (const auto& b : before) {
    if (b.n == 0) continue;
    const int r = 3 + static_cast<int>(std::lround(9.0 * std::sqrt(static_cast<double>(b.n) / most)));
    cv::circle(f.m, f.at(b.confidence, b.accuracy), r, cv::Scalar(150, 150, 150), 2, cv::LINE_AA);
  }
  for (const auto& b : bins) {
    if (b.n == 0) continue;
    cv::rectangle(f.m, f.at(b.lo, 0), f.at(b.hi, b.accuracy), cv::Scalar(235, 215, 190), cv::FILLED);
    cv::line(f.m, f.at(b.confidence, b.confidence), f.at(b.confidence, b.accuracy), kOrange, 1, cv::LINE_AA);
    const int r = 3 + static_cast<int>(std::lround(9.0 * std::sqrt(static_cast<double>(b.n) / most)));
    cv::circle(f.m, f.at(b.confidence, b.accuracy), r, kBlue, cv::FILLED, cv::LINE_AA);
  }
  return f.m;
}

cv::Mat clip_plot(const std::vector<int>& frames, const std::vector<std::vector<double>>& p, int key_frame,
                  const std::string& title) {
  Frame f = frame(560, 340, title.size() > 70 ? "..." + title.substr(title.size() - 67) : title, "frame",
                  "probability");
  if (frames.empty()) return f.m;
  const double first = frames.front(), span = std::max(1, frames.back() - frames.front());
  auto x = [&](int frame) { return (frame - first) / span; };
  const size_t k = p.front().size();
  const cv::Scalar colour[4] = {cv::Scalar(120, 160, 60), cv::Scalar(40, 180, 220), kOrange,
                                cv::Scalar(40, 40, 200)};
  const cv::Scalar binary[2] = {cv::Scalar(120, 160, 60), cv::Scalar(40, 40, 200)};
  if (key_frame >= 0)
    cv::line(f.m, f.at(x(key_frame), 0), f.at(x(key_frame), 1), cv::Scalar(150, 150, 150), 1, cv::LINE_AA);
  for (size_t c = 0; c < k; ++c) {
    const cv::Scalar col = k == 4 ? colour[c] : binary[c % 2];
    for (size_t i = 0; i < frames.size(); ++i) {
      const cv::Point pt = f.at(x(frames[i]), p[i][c]);
      if (i > 0) cv::line(f.m, f.at(x(frames[i - 1]), p[i - 1][c]), pt, col, 2, cv::LINE_AA);
      cv::circle(f.m, pt, 3, col, cv::FILLED, cv::LINE_AA);
    }
    text(f.m, k == 4 ? fmt::format("P({})", c) : (c ? "P(2-3)" : "P(0-1)"),
         {f.area.x + f.area.width - 60, f.area.y + 16 + 16 * static_cast<int>(c)}, 0.42);
    cv::circle(f.m, {f.area.x + f.area.width - 70, f.area.y + 12 + 16 * static_cast<int>(c)}, 4, col,
               cv::FILLED);
  }
  text(f.m, fmt::format("{}", frames.front()), f.at(0, 0) + cv::Point(-4, 16), 0.38);
  text(f.m, fmt::format("{}", frames.back()), f.at(1, 0) + cv::Point(-8, 16), 0.38);
  if (key_frame >= 0)
    text(f.m, fmt::format("key frame {}", key_frame), f.at(x(key_frame), 1) + cv::Point(4, 14), 0.4);
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

cv::Mat tap_fold_chart(const std::vector<TapRow>& taps) {
  const int w = std::max(480, 70 + 48 * static_cast<int>(taps.size()));
  Frame f =
      frame(w, 360, "Per tap over folds: validation mean (orange), test mean +- sd (blue), folds (grey)",
            "tap", "accuracy");
  const double step = 1.0 / static_cast<double>(taps.size());
  const cv::Scalar grey(150, 150, 150);
  for (size_t i = 0; i < taps.size(); ++i) {
    const double x = (static_cast<double>(i) + 0.5) * step;
    const auto& t = taps[i];
    for (double a : t.fold_test_accuracy) cv::circle(f.m, f.at(x - step * 0.2, a), 2, grey, cv::FILLED);
    cv::line(f.m, f.at(x, std::max(0.0, t.test_mean - t.test_sd)),
             f.at(x, std::min(1.0, t.test_mean + t.test_sd)), kBlue, 2, cv::LINE_AA);
    cv::circle(f.m, f.at(x, t.test_mean), 4, kBlue, cv::FILLED, cv::LINE_AA);
    cv::circle(f.m, f.at(x + step * 0.2, t.val_accuracy), 4, kOrange, cv::FILLED, cv::LINE_AA);
    text(f.m, t.tap + (t.best ? "*" : ""), f.at(x, 0) + cv::Point(-18, 18), 0.36);
  }
  return f.m;
}

cv::Mat curve_plot(const std::vector<Curve>& curves) {
  size_t epochs = 1;
  for (const auto& c : curves) epochs = std::max(epochs, c.val_accuracy.size());
  Frame f = frame(560, 360, "Validation accuracy per epoch, one line each", "epoch", "val accuracy");
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
    if (v.empty()) continue;
    // Each line named at its last epoch: right of it, or left of it near the right edge.
    const cv::Point end =
        f.at(static_cast<double>(v.size() - 1) / static_cast<double>(epochs - 1 ? epochs - 1 : 1), v.back());
    const int width = 7 * static_cast<int>(curves[k].tap.size());
    text(f.m, curves[k].tap,
         end + cv::Point(end.x + width + 4 > f.area.x + f.area.width ? -width - 3 : 3, -4), 0.34);
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
          cv::Mat img = data::decode_picture(in.test_paths[i]), small;
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

}  // namespace oess::report
