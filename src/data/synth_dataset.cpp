// The synthetic dataset on disk and the montage of examples (data/synth.h).
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>
#include <vector>

#include "oess/core/error.h"
#include "oess/core/parallel.h"
#include "oess/core/random.h"
#include "oess/data/image.h"
#include "oess/data/synth.h"
#include "oess/io/csv.h"

namespace oess::data {
namespace {

namespace fs = std::filesystem;
const char* const kJoints[] = {"wrist_rc", "wrist_ru", "mcp", "pip"};

}  // namespace

namespace {

// Frames to `path` as a lossless FFV1 AVI at 25 frames/s, written beside it first and renamed into place.
void write_clip(const std::string& path, const std::vector<cv::Mat>& frames) {
  const std::string tmp = path + ".part.avi";
  {
    cv::VideoWriter w(tmp, cv::CAP_FFMPEG, cv::VideoWriter::fourcc('F', 'F', 'V', '1'), 25.0,
                      frames.at(0).size());
    if (!w.isOpened())
      throw Error(fmt::format("{}: cannot write an FFV1 video (OpenCV's FFmpeg backend)", tmp));
    for (const auto& f : frames) w.write(f);
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) throw Error(fmt::format("{}: cannot move the clip into place: {}", path, ec.message()));
}

// One row's picture (a still PNG, or with clip_frames a clip) written to `path`; its Doppler fraction.
double render_row(const SynthOptions& o, int grade, const std::string& joint, const PatientStyle& style,
                  uint64_t seed, const std::string& path) {
  if (o.clip_frames > 0) {
    const SynthClip clip = render_clip(grade, joint, style, seed, o.clip_frames, o.width, o.height);
    write_clip(path, clip.frames);
    return clip.doppler_fraction;
  }
  const SynthImage img = render_synthetic(grade, joint, style, seed, o.width, o.height);
  write_image_atomic(path, img.bgr, {cv::IMWRITE_PNG_COMPRESSION, 1});
  return img.doppler_fraction;
}

}  // namespace

SynthReader parse_synth_reader(const std::string& text) {
  SynthReader r;
  char name[64] = {0};
  double missing = 0;
  const int got = std::sscanf(text.c_str(), "%63[^:]:%lf:%lf:%lf", name, &r.bias, &r.noise, &missing);
  if (got < 3 || !(r.noise >= 0) || !(missing >= 0 && missing < 1) || std::string(name).empty())
    throw UsageError(
        fmt::format("--reader \"{}\": expected NAME:BIAS:NOISE[:MISSING] (noise >= 0, missing in [0, 1)), "
                    "e.g. strict:0.6:0.4",
                    text));
  r.name = name;
  r.missing = got == 4 ? missing : 0;
  return r;
}

int synth_reader_grade(const SynthReader& r, int truth, uint64_t seed) {
  Rng rng(seed);
  if (rng.uniform() < r.missing) return -1;
  const double u1 = std::max(rng.uniform(), 1e-300), u2 = rng.uniform();  // Box-Muller
  const double z = std::sqrt(-2 * std::log(u1)) * std::cos(2 * M_PI * u2);
  return std::clamp(static_cast<int>(std::lround(truth + r.bias + r.noise * z)), 0, 3);
}

namespace {

void validate_synth(const SynthOptions& o) {
  if (o.out_dir.empty()) throw UsageError("synth: --out is required");
  for (int c : o.counts)
    if (c < 0) throw UsageError("synth: --counts must be >= 0");
  if (!(o.label_noise >= 0 && o.label_noise <= 1)) throw UsageError("synth: --noise must be in [0, 1]");
  if (o.patients < 1) throw UsageError("synth: --patients must be >= 1");
  for (const auto& r : o.readers)
    if (r.name == "path" || r.name == "score" || r.name == "patient" || r.name == "joint" ||
        r.name == "true_score" || r.name == "doppler_fraction")
      throw UsageError(fmt::format("--reader {}: the name is one of labels.csv's own columns", r.name));
  if (o.clip_frames < 0) throw UsageError("synth: --clips must be >= 0 (frames per clip; 0: stills)");
}

}  // namespace

SynthSummary generate_dataset(const SynthOptions& o, const std::function<void(int, int)>& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  validate_synth(o);
  const fs::path dir(o.out_dir);
  const fs::path labels = dir / "labels.csv";
  std::error_code ec;
  if (fs::exists(labels, ec) && !o.force)
    throw Error(fmt::format("{} already holds a dataset (labels.csv); use --force to replace it", o.out_dir));
  fs::create_directories(dir / "images", ec);
  if (ec) throw Error(fmt::format("cannot create {}: {}", (dir / "images").string(), ec.message()));

  std::vector<PatientStyle> styles;
  for (int p = 0; p < o.patients; ++p)
    styles.push_back(patient_style(mix_seed(o.seed, 1, static_cast<uint64_t>(p))));
  struct Item {
    int grade, patient, recorded;
    std::string joint;
  };
  std::vector<Item> items;
  Rng assign(mix_seed(o.seed, 2));
  for (int g = 0; g < 4; ++g) {
    for (int i = 0; i < o.counts[static_cast<size_t>(g)]; ++i) {
      // Active patients have more high-grade images: weight exp(2 (activity - 0.5) (grade - 1.5)).
      std::vector<double> cum;
      double total = 0;
      for (const auto& s : styles) cum.push_back(total += std::exp(2.0 * (s.activity - 0.5) * (g - 1.5)));
      const double r = assign.uniform() * total;
      const int p = static_cast<int>(std::upper_bound(cum.begin(), cum.end(), r) - cum.begin());
      items.push_back({g, std::min(p, o.patients - 1), g, kJoints[assign.below(4)]});
    }
  }
  assign.shuffle(items);
  SynthSummary summary;
  for (size_t i = 0; i < items.size(); ++i) {
    Rng noise(mix_seed(o.seed, 4, i));
    if (noise.uniform() < o.label_noise) {
      const int g = items[i].grade;
      const int up = g == 3 ? -1 : g == 0 ? 1 : (noise.below(2) ? 1 : -1);
      items[i].recorded = g + up;
      ++summary.relabelled;
    }
  }

  std::vector<std::string> names(items.size());
  std::vector<double> fractions(items.size());
  std::atomic<int> done{0};
  std::mutex progress_mutex;
  parallel_for(items.size(), o.threads, [&](size_t i) {
    const Item& it = items[i];
    names[i] = fmt::format("images/{:05d}_p{:02d}_{}.{}", i, it.patient + 1, it.joint,
                           o.clip_frames > 0 ? "avi" : "png");
    fractions[i] = render_row(o, it.grade, it.joint, styles[static_cast<size_t>(it.patient)],
                              mix_seed(o.seed, 3, i), (dir / names[i]).string());
    const int d = ++done;
    if (progress) {
      std::lock_guard<std::mutex> lock(progress_mutex);
      progress(d, static_cast<int>(items.size()));
    }
  });

  std::vector<std::string> header{"path", "score", "patient", "joint", "true_score", "doppler_fraction"};
  for (const auto& r : o.readers) header.push_back(r.name);
  io::CsvWriter csv(header);
  for (size_t i = 0; i < items.size(); ++i) {
    std::vector<std::string> row{
        names[i],       std::to_string(items[i].recorded), fmt::format("P{:02d}", items[i].patient + 1),
        items[i].joint, std::to_string(items[i].grade),    fmt::format("{:.4f}", fractions[i])};
    for (size_t r = 0; r < o.readers.size(); ++r) {
      const int g = synth_reader_grade(o.readers[r], items[i].grade, mix_seed(o.seed, 5, r, i));
      row.push_back(g < 0 ? "" : std::to_string(g));
    }
    csv.row(row);
    ++summary.recorded[static_cast<size_t>(items[i].recorded)];
    ++summary.truth[static_cast<size_t>(items[i].grade)];
  }
  csv.write(labels.string());
  summary.images = static_cast<int>(items.size());
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return summary;
}

cv::Mat synth_montage(int per_grade, uint64_t seed, int tile_width) {
  const int tile_h = tile_width * kSynthHeight / kSynthWidth, label_w = 70;
  cv::Mat m(4 * tile_h, label_w + per_grade * tile_width, CV_8UC3, cv::Scalar(255, 255, 255));
  for (int g = 0; g < 4; ++g) {
    cv::putText(m, fmt::format("grade {}", g), cv::Point(6, g * tile_h + tile_h / 2 + 5),
                cv::FONT_HERSHEY_SIMPLEX, 0.5, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
    for (int i = 0; i < per_grade; ++i) {
      const auto style = patient_style(mix_seed(seed, 7, static_cast<uint64_t>(g * per_grade + i)));
      const SynthImage s = render_synthetic(
          g, kJoints[i % 4], style, mix_seed(seed, 8, static_cast<uint64_t>(g), static_cast<uint64_t>(i)));
      cv::Mat tile;
      cv::resize(s.bgr, tile, cv::Size(tile_width, tile_h), 0, 0, cv::INTER_AREA);
      tile.copyTo(m(cv::Rect(label_w + i * tile_width, g * tile_h, tile_width, tile_h)));
    }
  }
  return m;
}

}  // namespace oess::data
