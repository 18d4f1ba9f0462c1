#include "oess/data/dataset_check.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <bitset>
#include <cmath>
#include <filesystem>
#include <mutex>
#include <numeric>
#include <opencv2/imgproc.hpp>
#include <set>

#include "oess/core/atomic_file.h"
#include "oess/core/parallel.h"
#include "oess/core/sha256.h"
#include "oess/data/clip.h"
#include "oess/data/image.h"

namespace oess::data {

std::array<uint64_t, 4> gradient_hash(const cv::Mat& bgr8) {
  cv::Mat grey, small;
  cv::cvtColor(bgr8, grey, cv::COLOR_BGR2GRAY);
  cv::resize(grey, small, cv::Size(17, 16), 0, 0, cv::INTER_AREA);
  std::array<uint64_t, 4> h{};
  int bit = 0;
  for (int y = 0; y < 16; ++y)
    for (int x = 0; x < 16; ++x, ++bit)
      if (small.at<uint8_t>(y, x + 1) > small.at<uint8_t>(y, x))
        h[static_cast<size_t>(bit / 64)] |= uint64_t{1} << (bit % 64);
  return h;
}

int hash_distance(const std::array<uint64_t, 4>& a, const std::array<uint64_t, 4>& b) {
  int d = 0;
  for (size_t i = 0; i < 4; ++i) d += static_cast<int>(std::bitset<64>(a[i] ^ b[i]).count());
  return d;
}

namespace {

ImageFacts inspect(const Sample& s) {
  ImageFacts f;
  try {
    f.sha256 = sha256_file(s.path);
    DecodeNotes notes;
    cv::Mat img;
    if (is_video_file(s.path)) {
      ClipSampling middle;
      middle.frames = 1;
      auto c = decode_clip(s.path, middle, &notes);
      img = c.frames.front();
      f.frames = c.info.frames;
      f.fps = c.info.fps;
    } else {
      img = decode_image(s.path, &notes);
    }
    f.width = img.cols;
    f.height = img.rows;
    bool grey = notes.grey > 0;
    if (!grey) {  // three equal channels are grey too
      std::vector<cv::Mat> ch;
      cv::split(img, ch);
      grey = cv::countNonZero(ch[0] != ch[1]) == 0 && cv::countNonZero(ch[1] != ch[2]) == 0;
    }
    f.mode = (notes.sixteen_bit > 0 ? "16-bit " : "") + std::string(grey ? "grey" : "colour");
    f.colour_box = !grey && !find_colour_box(img).empty();
    f.hash = gradient_hash(img);
    cv::Mat thumb;
    cv::resize(img, thumb, cv::Size(32, 32), 0, 0, cv::INTER_AREA);
    f.thumb.assign(thumb.data, thumb.data + thumb.total() * 3);
  } catch (const std::exception& e) {
    f = ImageFacts{};
    f.error = e.what();
  }
  return f;
}

double thumb_difference(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  long sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += std::abs(static_cast<int>(a[i]) - static_cast<int>(b[i]));
  return static_cast<double>(sum) / static_cast<double>(a.size());
}

cv::Mat detail(const cv::Mat& bgr, cv::Size size) {
  cv::Mat grey, f, blur;
  cv::cvtColor(bgr, grey, cv::COLOR_BGR2GRAY);
  if (grey.size() != size) cv::resize(grey, grey, size, 0, 0, cv::INTER_LINEAR);
  grey.convertTo(f, CV_64F);
  cv::GaussianBlur(f, blur, cv::Size(0, 0), 2.0);
  return f - blur;
}

size_t find_root(std::vector<size_t>& parent, size_t i) {
  while (parent[i] != i) i = parent[i] = parent[parent[i]];
  return i;
}

}  // namespace

double detail_correlation(const cv::Mat& a, const cv::Mat& b) {
  cv::Mat da = detail(a, a.size()), db = detail(b, a.size());
  da -= cv::mean(da)[0];
  db -= cv::mean(db)[0];
  const double ab = da.dot(db), aa = da.dot(da), bb = db.dot(db);
  return aa > 0 && bb > 0 ? ab / std::sqrt(aa * bb) : 0.0;
}

std::vector<ImageFacts> inspect_images(const Manifest& m, int threads,
                                       const std::function<void(int64_t, int64_t)>& progress) {
  std::vector<ImageFacts> out(m.samples.size());
  std::mutex mu;
  int64_t done = 0;
  const auto total = static_cast<int64_t>(m.samples.size());
  parallel_for(m.samples.size(), std::max(1, threads), [&](size_t i) {
    out[i] = inspect(m.samples[i]);
    std::lock_guard<std::mutex> lock(mu);
    ++done;
    if (progress) progress(done, total);
  });
  return out;
}

std::vector<DuplicateGroup> find_duplicates(const Manifest& m, const std::vector<ImageFacts>& images,
                                            const std::vector<int>& part) {
  const size_t n = images.size();
  std::vector<size_t> parent(n);
  std::iota(parent.begin(), parent.end(), size_t{0});
  auto join = [&](size_t a, size_t b) { parent[find_root(parent, a)] = find_root(parent, b); };
  std::map<size_t, cv::Mat> decoded;  // the candidates' pictures, decoded once
  auto picture = [&](size_t i) -> const cv::Mat& {
    auto it = decoded.find(i);
    if (it == decoded.end()) it = decoded.emplace(i, decode_picture(m.samples[i].path)).first;
    return it->second;
  };
  std::map<std::pair<size_t, size_t>, double> confirmed;  // near pairs and their detail correlation
  for (size_t i = 0; i < n; ++i) {
    if (!images[i].error.empty()) continue;
    for (size_t j = i + 1; j < n; ++j) {
      if (!images[j].error.empty()) continue;
      if (images[i].sha256 == images[j].sha256) {
        join(i, j);
      } else if (hash_distance(images[i].hash, images[j].hash) <= kNearHashBits &&
                 thumb_difference(images[i].thumb, images[j].thumb) <= kNearThumbDiff) {
        const double r = detail_correlation(picture(i), picture(j));
        if (r >= kNearDetailCorrelation) {
          confirmed[{i, j}] = r;
          join(i, j);
        }
      }
    }
  }
  std::map<size_t, std::vector<size_t>> members;
  for (size_t i = 0; i < n; ++i)
    if (images[i].error.empty()) members[find_root(parent, i)].push_back(i);
  std::vector<DuplicateGroup> groups;
  for (auto& [root, list] : members) {
    if (list.size() < 2) continue;
    DuplicateGroup g;
    g.samples = list;
    std::set<int> grades, parts;
    std::set<std::string> patients;
    for (size_t i : list) {
      g.exact = g.exact && images[i].sha256 == images[list[0]].sha256;
      grades.insert(m.samples[i].score);
      if (m.has_patient) patients.insert(m.samples[i].patient);
      if (!part.empty()) parts.insert(part[i]);
    }
    for (const auto& [pair, r] : confirmed)
      if (std::binary_search(list.begin(), list.end(), pair.first))
        g.detail_correlation = std::min(g.detail_correlation, r);
    g.across_grades = grades.size() > 1;
    g.across_patients = patients.size() > 1;
    g.across_parts = parts.size() > 1;
    groups.push_back(std::move(g));
  }
  return groups;  // ordered by their first member's manifest position
}

DatasetSummary summarise(const Manifest& m, const std::vector<ImageFacts>& images,
                         std::vector<DuplicateGroup> duplicates) {
  DatasetSummary s;
  s.images = static_cast<int>(m.samples.size());
  std::array<std::set<std::string>, kNumGrades> patients;
  for (size_t i = 0; i < m.samples.size(); ++i) {
    const auto g = static_cast<size_t>(m.samples[i].score);
    ++s.per_grade[g];
    if (m.has_patient) patients[g].insert(m.samples[i].patient);
    const ImageFacts& f = images[i];
    if (!f.error.empty()) {
      ++s.unreadable;
      s.errors.push_back(fmt::format("{}:{}: {}", m.file, m.samples[i].line, f.error));
      continue;
    }
    ++s.sizes[fmt::format("{} x {}", f.width, f.height)];
    ++s.modes[f.mode];
    s.colour_boxes += f.colour_box ? 1 : 0;
    if (f.frames > 0) {
      const double sec = f.fps > 0 ? f.frames / f.fps : 0;
      s.clip_frames_min = s.clips ? std::min(s.clip_frames_min, f.frames) : f.frames;
      s.clip_frames_max = std::max(s.clip_frames_max, f.frames);
      s.clip_seconds_min = s.clips ? std::min(s.clip_seconds_min, sec) : sec;
      s.clip_seconds_max = std::max(s.clip_seconds_max, sec);
      ++s.clips;
    }
  }
  for (size_t g = 0; g < kNumGrades; ++g) s.patients_per_grade[g] = static_cast<int>(patients[g].size());
  s.duplicates = std::move(duplicates);
  return s;
}

int DatasetSummary::groups_across(bool DuplicateGroup::*flag) const {
  return static_cast<int>(std::count_if(duplicates.begin(), duplicates.end(),
                                        [flag](const DuplicateGroup& g) { return g.*flag; }));
}

std::vector<std::string> DatasetSummary::lines(const Manifest& m, const std::vector<std::string>& part_names,
                                               const std::vector<int>& part) const {
  std::vector<std::string> out;
  out.push_back(fmt::format("{} images: grade 0: {}, 1: {}, 2: {}, 3: {}", images, per_grade[0], per_grade[1],
                            per_grade[2], per_grade[3]));
  if (m.has_patient)
    out.push_back(fmt::format("patients per grade (column \"{}\"): 0: {}, 1: {}, 2: {}, 3: {}",
                              m.patient_column, patients_per_grade[0], patients_per_grade[1],
                              patients_per_grade[2], patients_per_grade[3]));
  std::vector<std::pair<int, std::string>> by_count;
  for (const auto& [size, n] : sizes) by_count.emplace_back(-n, size);
  std::sort(by_count.begin(), by_count.end());
  std::string size_text;
  int shown = 0, rest = 0;
  for (const auto& [neg, size] : by_count) {
    if (shown < 6)
      size_text += fmt::format("{}{} ({})", shown ? ", " : "", size, -neg);
    else
      rest += -neg;
    ++shown;
  }
  if (rest) size_text += fmt::format(", {} other size(s): {} image(s)", shown - 6, rest);
  out.push_back(fmt::format("image sizes (W x H): {}", size_text.empty() ? "none readable" : size_text));
  std::string mode_text;
  for (const auto& [mode, n] : modes)
    mode_text += fmt::format("{}{} {}", mode_text.empty() ? "" : ", ", n, mode);
  out.push_back(
      fmt::format("colour modes: {}; a Doppler colour box found in {} of {} readable image(s){}",
                  mode_text.empty() ? "none" : mode_text, colour_boxes, images - unreadable,
                  modes.count("grey") ? " (grey images have no Doppler colour, so none is looked for)" : ""));
  if (clips)
    out.push_back(
        fmt::format("{} clip(s) (video): {}-{} frames, {:.1f}-{:.1f} s; sizes and modes above are "
                    "their middle frames'",
                    clips, clip_frames_min, clip_frames_max, clip_seconds_min, clip_seconds_max));
  if (unreadable) {
    out.push_back(fmt::format("{} image(s) cannot be read:", unreadable));
    for (const auto& e : errors) out.push_back("  " + e);
  }
  if (duplicates.empty()) {
    out.push_back("duplicates: none (exact: same bytes; near: docs/data.md)");
    return out;
  }
  out.push_back(fmt::format(
      "duplicates: {} group(s) ({} across grades, {} across patients, {} across parts of the split)",
      duplicates.size(), groups_across(&DuplicateGroup::across_grades),
      groups_across(&DuplicateGroup::across_patients), groups_across(&DuplicateGroup::across_parts)));
  for (size_t k = 0; k < duplicates.size(); ++k) {
    const auto& g = duplicates[k];
    std::vector<std::string> flags;
    if (g.across_grades) flags.push_back("different grades");
    if (g.across_patients) flags.push_back("different patients");
    if (g.across_parts) flags.push_back("different parts of the split");
    out.push_back(
        fmt::format("  group {} ({}{}{}):", k + 1,
                    g.exact ? "exact" : fmt::format("near, detail correlation {:.2f}", g.detail_correlation),
                    flags.empty() ? "" : ": ", fmt::join(flags, ", ")));
    for (size_t i : g.samples) {
      const auto& s = m.samples[i];
      std::string where = fmt::format("grade {}", s.score);
      if (m.has_patient) where += ", patient " + s.patient;
      if (!part.empty() && static_cast<size_t>(part[i]) < part_names.size())
        where += ", " + part_names[static_cast<size_t>(part[i])];
      out.push_back(fmt::format("    {} (line {}; {})", s.rel_path, s.line, where));
    }
  }
  return out;
}

std::vector<std::string> write_duplicate_pairs(const Manifest& m, const std::vector<DuplicateGroup>& groups,
                                               const std::string& dir) {
  std::vector<std::string> files;
  if (groups.empty()) return files;
  std::filesystem::create_directories(dir);
  constexpr int kHeight = 360, kCaption = 44;
  for (size_t k = 0; k < groups.size(); ++k) {
    std::vector<cv::Mat> tiles;
    for (size_t t = 0; t < 2 && t < groups[k].samples.size(); ++t) {
      const auto& s = m.samples[groups[k].samples[t]];
      cv::Mat img = decode_picture(s.path), scaled;
      cv::resize(img, scaled, cv::Size(std::max(1, img.cols * kHeight / std::max(1, img.rows)), kHeight), 0,
                 0, cv::INTER_AREA);
      cv::Mat tile(kHeight + kCaption, scaled.cols + 8, CV_8UC3, cv::Scalar(255, 255, 255));
      scaled.copyTo(tile(cv::Rect(4, 0, scaled.cols, kHeight)));
      const std::string name = std::filesystem::path(s.rel_path).filename().string();
      cv::putText(tile, name.substr(0, 40), {6, kHeight + 18}, cv::FONT_HERSHEY_SIMPLEX, 0.45,
                  cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
      cv::putText(tile, fmt::format("grade {}{}", s.score, m.has_patient ? ", patient " + s.patient : ""),
                  {6, kHeight + 38}, cv::FONT_HERSHEY_SIMPLEX, 0.45, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
      tiles.push_back(tile);
    }
    cv::Mat pair;
    cv::hconcat(tiles, pair);
    const std::string file = (std::filesystem::path(dir) / fmt::format("duplicate_{}.png", k + 1)).string();
    write_image_atomic(file, pair);
    files.push_back(file);
  }
  return files;
}

}  // namespace oess::data
