#include "oess/data/synth.h"

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <mutex>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <vector>

#include "oess/core/atomic_file.h"
#include "oess/core/error.h"
#include "oess/core/parallel.h"
#include "oess/core/random.h"
#include "oess/io/csv.h"

namespace oess::data {
namespace {

namespace fs = std::filesystem;

constexpr int kChroma = 60;  // a pixel is flow when max - min channel >= this

struct Geometry {
  cv::Rect field;
  double y0 = 0, xj = 0, gap = 0, dip = 0, dip_w = 0;
  double recess_h = 0, recess_w = 0, recess_shift = 0;
  double bone_y(double x) const { return y0 + dip * std::exp(-std::pow((x - xj) / dip_w, 2)); }
  bool in_gap(double x) const { return std::abs(x - xj) < gap / 2; }
};

Geometry make_geometry(const std::string& joint, const PatientStyle& st, Rng& rng, int w, int h) {
  Geometry g;
  g.field = cv::Rect(32, 16, w - 80, h - 32);
  const double s = h / static_cast<double>(kSynthHeight);
  g.y0 = g.field.y + g.field.height * (0.42 + 0.25 * st.depth + rng.uniform(-0.04, 0.04));
  g.xj = g.field.x + g.field.width * rng.uniform(0.40, 0.55);
  // gap, dip, dip width, recess thickness, recess half-width (px at 384x288)
  double p[5];
  if (joint == "wrist_rc") {
    const double q[5] = {6, 10, 40, 24, 90};
    std::copy(q, q + 5, p);
  } else if (joint == "wrist_ru") {
    const double q[5] = {8, 14, 30, 22, 78};
    std::copy(q, q + 5, p);
  } else if (joint == "mcp") {
    const double q[5] = {5, 22, 26, 27, 82};
    std::copy(q, q + 5, p);
  } else if (joint == "pip") {
    const double q[5] = {4, 16, 18, 20, 64};
    std::copy(q, q + 5, p);
  } else {
    throw UsageError(fmt::format("unknown joint \"{}\": expected wrist_rc, wrist_ru, mcp or pip", joint));
  }
  g.gap = p[0] * s;
  g.dip = p[1] * s;
  g.dip_w = p[2] * s;
  g.recess_h = p[3] * s * st.recess * rng.uniform(0.85, 1.15);
  g.recess_w = p[4] * s * st.recess * rng.uniform(0.85, 1.15);
  g.recess_shift = rng.uniform(-0.15, 0.15) * g.recess_w;
  return g;
}

cv::Mat synovium_mask(const Geometry& g, int w, int h) {
  std::vector<cv::Point> poly;
  const double c = g.xj + g.recess_shift;
  for (double x = c - g.recess_w; x <= c + g.recess_w; x += 1) {
    const double t = (x - c) / g.recess_w;
    const double thick = g.recess_h * std::pow(std::cos(t * M_PI / 2), 2);
    poly.emplace_back(static_cast<int>(std::lround(x)),
                      static_cast<int>(std::lround(g.bone_y(x) - 3 - thick)));
  }
  for (double x = c + g.recess_w; x >= c - g.recess_w; x -= 1)
    poly.emplace_back(static_cast<int>(std::lround(x)), static_cast<int>(std::lround(g.bone_y(x) - 3)));
  cv::Mat m = cv::Mat::zeros(h, w, CV_8U);
  cv::fillPoly(m, std::vector<std::vector<cv::Point>>{poly}, cv::Scalar(255));
  return m;
}

cv::Mat render_bmode(const Geometry& g, const cv::Mat& synovium, const PatientStyle& st, Rng& rng, int w,
                     int h) {
  cv::RNG cvrng(rng.next());
  cv::Mat n1(h, w, CV_32F), n2(h, w, CV_32F);
  cvrng.fill(n1, cv::RNG::NORMAL, 0, 1);
  cvrng.fill(n2, cv::RNG::NORMAL, 0, 1);
  // Lateral correlation longer than axial, as a linear probe's point-spread function is.
  cv::GaussianBlur(n1, n1, cv::Size(7, 3), 1.6, 0.7);
  cv::GaussianBlur(n2, n2, cv::Size(7, 3), 1.6, 0.7);
  cv::Mat speckle;
  cv::magnitude(n1, n2, speckle);
  speckle /= cv::mean(speckle)[0];

  const double phase = rng.uniform(0, 2 * M_PI), layer = rng.uniform(5, 9);
  const double bone_thick = 2.5 * h / kSynthHeight;
  const double gain = st.gain, dr = st.dynamic_range, norm = std::log1p(dr * 1.6);
  cv::Mat grey = cv::Mat::zeros(h, w, CV_8U);
  for (int y = g.field.y; y < g.field.y + g.field.height; ++y) {
    const double depth = (y - g.field.y) / static_cast<double>(g.field.height);
    const double att = std::exp(-0.8 * depth);
    const float* sp = speckle.ptr<float>(y);
    const uchar* syn = synovium.ptr<uchar>(y);
    uchar* out = grey.ptr<uchar>(y);
    for (int x = g.field.x; x < g.field.x + g.field.width; ++x) {
      const double by = g.bone_y(x);
      const bool gap = g.in_gap(x);
      double e;
      if (y < g.field.y + 4)
        e = 0.75;  // skin line
      else if (syn[x])
        e = 0.10;  // hypoechoic synovial recess
      else if (!gap && std::abs(y - by) <= bone_thick)
        e = 0.95;  // cortical bone surface
      else if (!gap && y > by)
        e = 0.05 * std::exp(-(y - by) / 25.0);  // acoustic shadow
      else if (gap && y > by)
        e = 0.14 * std::exp(-(y - by) / 18.0);  // joint space, fading into the shadow
      else
        e = 0.32 + 0.07 * std::sin(y / layer + phase + 0.02 * x);  // subcutaneous layers
      const double v = 255.0 * std::log1p(dr * gain * e * sp[x] * att) / norm;
      out[x] = cv::saturate_cast<uchar>(v);
    }
  }
  cv::Mat bgr;
  cv::cvtColor(grey, bgr, cv::COLOR_GRAY2BGR);
  // Display furniture: depth ticks and a caption (dim grey, so never mistaken for the colour box outline).
  for (int y = g.field.y; y < g.field.y + g.field.height; y += h / 14)
    cv::rectangle(bgr, cv::Rect(g.field.x - 7, y, 3, 2), cv::Scalar(140, 140, 140), cv::FILLED);
  cv::putText(bgr, "OESS synth  L12  CFM", cv::Point(4, 11), cv::FONT_HERSHEY_PLAIN, 0.7,
              cv::Scalar(130, 130, 130));
  // Colour bar right of the field: red (towards the probe) over blue (away).
  const int bx = g.field.x + g.field.width + 14, bh = h / 3, by0 = g.field.y + 8;
  for (int i = 0; i < bh; ++i) {
    const double t = i / static_cast<double>(bh - 1);
    const cv::Scalar c = t < 0.5 ? cv::Scalar(30, 40 + 160 * (0.5 - t), 120 + 260 * (0.5 - t))
                                 : cv::Scalar(120 + 260 * (t - 0.5), 40 + 160 * (t - 0.5), 30);
    cv::line(bgr, cv::Point(bx, by0 + i), cv::Point(bx + 7, by0 + i), c);
  }
  return bgr;
}

cv::Scalar flow_colour(Rng& rng) {
  switch (rng.below(5)) {
    case 0:
      return cv::Scalar(rng.uniform(20, 50), rng.uniform(20, 60), rng.uniform(170, 255));  // red
    case 1:
      return cv::Scalar(rng.uniform(20, 50), rng.uniform(40, 90), rng.uniform(200, 255));  // red
    case 2:
      return cv::Scalar(rng.uniform(30, 60), rng.uniform(180, 230), 255);  // yellow
    case 3:
      return cv::Scalar(rng.uniform(170, 255), rng.uniform(60, 110), rng.uniform(10, 40));  // blue
    default:
      return cv::Scalar(255, rng.uniform(180, 230), rng.uniform(40, 80));  // cyan
  }
}

// Random point of `where` (CV_8U, non-zero = allowed), or (-1, -1).
cv::Point random_point(const cv::Mat& where, Rng& rng) {
  std::vector<cv::Point> pts;
  cv::findNonZero(where, pts);
  if (pts.empty()) return {-1, -1};
  return pts[rng.below(pts.size())];
}

struct Blob {
  double a, b;  // semi-axes
};

// Draws an ellipse blob into `flow` (CV_8U) restricted to `allowed`, not touching existing flow when
// `separate`; returns false when no place was found.
bool place_blob(cv::Mat& flow, const cv::Mat& allowed, const Blob& blob, bool separate, Rng& rng) {
  cv::Mat room;
  const int margin = static_cast<int>(std::ceil(std::max(blob.b, 1.0)));
  cv::erode(allowed, room,
            cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(2 * margin + 1, 2 * margin + 1)));
  if (separate) {
    cv::Mat near;
    cv::dilate(flow, near,
               cv::getStructuringElement(cv::MORPH_ELLIPSE,
                                         cv::Size(2 * (int(blob.a) + 4) + 1, 2 * (int(blob.a) + 4) + 1)));
    room &= ~near;
  }
  const cv::Point c = random_point(room, rng);
  if (c.x < 0) return false;
  cv::Mat one = cv::Mat::zeros(flow.size(), CV_8U);
  cv::ellipse(one, c, cv::Size(std::max(1, int(std::lround(blob.a))), std::max(1, int(std::lround(blob.b)))),
              rng.uniform(0, 180), 0, 360, cv::Scalar(255), cv::FILLED);
  flow |= one & allowed;
  return true;
}

double scale_area(int w, int h) { return (w * static_cast<double>(h)) / (kSynthWidth * kSynthHeight); }

}  // namespace

PatientStyle patient_style(uint64_t seed) {
  Rng rng(seed);
  PatientStyle s;
  s.gain = rng.uniform(0.75, 1.25);
  s.dynamic_range = rng.uniform(25, 60);
  s.depth = rng.uniform(0, 1);
  s.recess = rng.uniform(0.85, 1.2);
  s.activity = rng.uniform(0, 1);
  return s;
}

DopplerEvidence measure_doppler(const cv::Mat& bgr, const cv::Mat& synovium, int w, int h) {
  CV_Assert(bgr.type() == CV_8UC3 && synovium.type() == CV_8U && bgr.size() == synovium.size());
  cv::Mat flow = cv::Mat::zeros(bgr.size(), CV_8U);
  for (int y = 0; y < bgr.rows; ++y) {
    const auto* p = bgr.ptr<cv::Vec3b>(y);
    const uchar* s = synovium.ptr<uchar>(y);
    uchar* f = flow.ptr<uchar>(y);
    for (int x = 0; x < bgr.cols; ++x) {
      const int lo = std::min({p[x][0], p[x][1], p[x][2]}), hi = std::max({p[x][0], p[x][1], p[x][2]});
      f[x] = (s[x] && hi - lo >= kChroma) ? 255 : 0;
    }
  }
  DopplerEvidence e;
  e.synovium_pixels = cv::countNonZero(synovium);
  e.flow_pixels = cv::countNonZero(flow);
  e.fraction = e.synovium_pixels ? e.flow_pixels / static_cast<double>(e.synovium_pixels) : 0;
  cv::Mat labels, stats, centroids;
  const int n = cv::connectedComponentsWithStats(flow, labels, stats, centroids, 8);
  const double k = scale_area(w, h);
  for (int i = 1; i < n; ++i) {
    const int area = stats.at<int>(i, cv::CC_STAT_AREA);
    if (area <= kSingleSpotArea * k)
      ++e.singles;
    else if (area <= kConfluentSpotArea * k)
      ++e.confluents;
    else
      ++e.larger;
  }
  return e;
}

int grade_of(const DopplerEvidence& e) {
  if (e.flow_pixels == 0) return 0;
  if (e.fraction >= 0.5) return 3;
  const bool grade1 =
      e.larger == 0 && ((e.confluents == 0 && e.singles <= 3) || (e.confluents == 1 && e.singles <= 2) ||
                        (e.confluents == 2 && e.singles == 0));
  return grade1 ? 1 : 2;
}

namespace {

// The colour box: around the recess, from well above it to just below the bone, at least 30% of the height;
// its frame drawn at `frame`, the box proper one pixel inside.
cv::Rect colour_box(const Geometry& g, const cv::Mat& synovium, int h, cv::Rect& frame) {
  const cv::Rect sr = cv::boundingRect(synovium);
  const int s = h / 24;
  int top = sr.y - 2 * s, bottom = static_cast<int>(g.y0 + g.dip) + s;
  if (bottom - top < 0.3 * h) top = bottom - static_cast<int>(0.3 * h);
  frame = cv::Rect(sr.x - 3 * s / 2, top, sr.width + 3 * s, bottom - top);
  frame &= cv::Rect(g.field.x + 1, g.field.y + 5, g.field.width - 2, g.field.height - 6);
  return cv::Rect(frame.x + 1, frame.y + 1, frame.width - 2, frame.height - 2);
}

// Flow inside the synovium in the pattern of the grade; false when a grade-1 pattern did not fit.
bool draw_flow(int grade, const cv::Mat& synovium, double rk, Rng& rng, cv::Mat& flow) {
  auto single = [&] { return Blob{rng.uniform(1.4, 2.6) * rk, rng.uniform(1.0, 1.8) * rk}; };
  auto confluent = [&] { return Blob{rng.uniform(5, 9) * rk, rng.uniform(2.2, 3.6) * rk}; };
  bool placed = true;
  if (grade == 1) {
    const int pattern = static_cast<int>(rng.below(3));
    const int n_conf = pattern == 0 ? 0 : pattern == 1 ? 1 : 2;
    const int n_single = pattern == 0   ? 1 + static_cast<int>(rng.below(3))
                         : pattern == 1 ? static_cast<int>(rng.below(3))
                                        : 0;
    for (int i = 0; i < n_conf && placed; ++i) placed = place_blob(flow, synovium, confluent(), true, rng);
    for (int i = 0; i < n_single && placed; ++i) placed = place_blob(flow, synovium, single(), true, rng);
  } else if (grade >= 2) {
    const double target = grade == 2 ? rng.uniform(0.12, 0.45) : rng.uniform(0.52, 0.9);
    const double syn = cv::countNonZero(synovium);
    for (int i = 0; i < 400 && cv::countNonZero(flow) < target * syn; ++i) {
      Blob b = grade == 3            ? Blob{rng.uniform(10, 26) * rk, rng.uniform(4, 10) * rk}
               : rng.uniform() < 0.6 ? Blob{rng.uniform(4, 12) * rk, rng.uniform(2, 5) * rk}
                                     : single();
      place_blob(flow, synovium, b, false, rng);
    }
  }
  return placed;
}

// Vessels outside the synovium, which must not count.
cv::Mat draw_vessels(const cv::Mat& vessel_room, double rk, Rng& rng) {
  cv::Mat vessels = cv::Mat::zeros(vessel_room.rows, vessel_room.cols, CV_8U);
  for (int v = 0, nv = static_cast<int>(rng.below(3)); v < nv; ++v) {
    const cv::Point a = random_point(vessel_room, rng);
    if (a.x < 0) break;
    std::vector<cv::Point> line{a};
    for (int j = 0; j < 3; ++j)
      line.emplace_back(line.back().x + static_cast<int>(rng.uniform(-14, 14) * rk),
                        line.back().y + static_cast<int>(rng.uniform(-4, 4) * rk));
    cv::polylines(vessels, line, false, cv::Scalar(255), std::max(1, static_cast<int>(std::lround(2 * rk))));
  }
  return vessels & vessel_room;
}

// Colours each connected region of the mask in one shade, as a Doppler map of one vessel would be.
void paint_flow(cv::Mat& img, const cv::Mat& mask, Rng& rng) {
  cv::Mat labels;
  const int n = cv::connectedComponents(mask, labels, 8);
  std::vector<cv::Vec3b> shade(static_cast<size_t>(n));
  for (auto& c : shade) {
    const cv::Scalar sc = flow_colour(rng);
    c = cv::Vec3b(cv::saturate_cast<uchar>(sc[0]), cv::saturate_cast<uchar>(sc[1]),
                  cv::saturate_cast<uchar>(sc[2]));
  }
  for (int y = 0; y < img.rows; ++y) {
    const int* l = labels.ptr<int>(y);
    auto* p = img.ptr<cv::Vec3b>(y);
    for (int x = 0; x < img.cols; ++x)
      if (l[x] > 0) p[x] = shade[static_cast<size_t>(l[x])];
  }
}

}  // namespace

SynthImage render_synthetic(int grade, const std::string& joint, const PatientStyle& style, uint64_t seed,
                            int w, int h, uint64_t flow_seed) {
  if (grade < 0 || grade > 3) throw UsageError(fmt::format("grade {} is not an OESS grade 0..3", grade));
  if (w < 192 || h < 144) throw UsageError(fmt::format("synthetic image size {}x{} is below 192x144", w, h));
  Rng rng(seed);
  const Geometry g = make_geometry(joint, style, rng, w, h);
  SynthImage out;
  out.grade = grade;
  out.synovium = synovium_mask(g, w, h);
  const cv::Mat base = render_bmode(g, out.synovium, style, rng, w, h);
  if (flow_seed != 0) rng = Rng(flow_seed);
  cv::Rect frame;
  out.colour_box = colour_box(g, out.synovium, h, frame);

  const double rk = std::sqrt(scale_area(w, h));
  cv::Mat box_mask = cv::Mat::zeros(h, w, CV_8U);
  box_mask(out.colour_box).setTo(255);
  cv::Mat keep_out;  // vessels stay clear of the synovium
  cv::dilate(out.synovium, keep_out, cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(13, 13)));
  const cv::Mat vessel_room = box_mask & ~keep_out;

  for (int attempt = 0; attempt < 40; ++attempt) {
    cv::Mat flow = cv::Mat::zeros(h, w, CV_8U);
    if (!draw_flow(grade, out.synovium, rk, rng, flow)) continue;
    const cv::Mat vessels = draw_vessels(vessel_room, rk, rng);
    cv::Mat img = base.clone();
    cv::rectangle(img, frame, cv::Scalar(200, 200, 200), 1);
    paint_flow(img, flow, rng);
    paint_flow(img, vessels, rng);
    const DopplerEvidence e = measure_doppler(img, out.synovium, w, h);
    if (grade_of(e) != grade) continue;  // re-draw until the measured pattern is the intended grade
    out.bgr = img;
    out.doppler_fraction = e.fraction;
    return out;
  }
  throw Error(fmt::format("synthetic generator: no grade-{} {} image after 40 attempts (seed {})", grade,
                          joint, seed));
}

SynthClip render_clip(int grade, const std::string& joint, const PatientStyle& style, uint64_t seed,
                      int frames, int w, int h) {
  if (frames < 1) throw UsageError("synthetic clip: frames must be >= 1");
  SynthClip c;
  const int phase = static_cast<int>(Rng(mix_seed(seed, 11)).below(kPulsePeriod));
  for (int t = 0; t < frames; ++t) {
    const bool peak = (t + phase) % kPulsePeriod < kPulsePeak;
    const auto f = render_synthetic(peak ? grade : 0, joint, style, seed, w, h,
                                    mix_seed(seed, 12, static_cast<uint64_t>(t)));
    c.frames.push_back(f.bgr);
    c.peak.push_back(peak);
    c.doppler_fraction = std::max(c.doppler_fraction, f.doppler_fraction);
  }
  return c;
}

}  // namespace oess::data
