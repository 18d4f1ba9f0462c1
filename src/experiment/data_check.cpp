// The data stage's look at every image before extraction (experiment/chain.h, check_data).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <set>

#include "oess/core/error.h"
#include "oess/core/progress.h"
#include "oess/data/clip.h"
#include "oess/data/dataset_check.h"
#include "oess/data/dicom.h"
#include "oess/experiment/chain.h"
#include "oess/experiment/kfold.h"

namespace oess::experiment {

namespace {

namespace fs = std::filesystem;

// "a.png (grade 1, train), b.png (grade 2, test)" for a group, at most 4 members named.
std::string members(const data::Manifest& m, const data::DuplicateGroup& g, const std::vector<int>& part,
                    const std::vector<std::string>& part_names) {
  std::vector<std::string> named;
  for (size_t k = 0; k < g.samples.size() && k < 4; ++k) {
    const size_t i = g.samples[k];
    const size_t p = part.empty() ? part_names.size() : static_cast<size_t>(part[i]);
    named.push_back(fmt::format("{} (grade {}{}{})", m.samples[i].rel_path, m.samples[i].score,
                                m.has_patient ? ", patient " + m.samples[i].patient : "",
                                p < part_names.size() ? ", " + part_names[p] : ""));
  }
  return fmt::format("{}{}", fmt::join(named, ", "),
                     g.samples.size() > 4 ? fmt::format(" and {} more", g.samples.size() - 4) : "");
}

// What every image of the manifest looks like, decoded once per process: a grid's variants that read the same
// manifest (the same files, unchanged: path, size and modification time) share one inspection; only the
// comparison, which depends on each variant's split, runs again.
const std::vector<data::ImageFacts>& inspected(const Chain& c,
                                               const std::function<void(const std::string&)>& say) {
  static std::mutex mutex;
  static std::map<std::string, std::vector<data::ImageFacts>> memo;
  const auto& m = c.manifest;
  std::string key = m.file + "\n";
  for (const auto& smp : m.samples) {
    std::error_code ec;
    const auto size = fs::file_size(smp.path, ec);
    const auto time = fs::last_write_time(smp.path, ec).time_since_epoch().count();
    key += fmt::format("{}\t{}\t{}\n", smp.path, ec ? 0 : size, ec ? 0 : time);
  }
  std::lock_guard<std::mutex> lock(mutex);
  if (auto it = memo.find(key); it != memo.end()) {
    say(
        fmt::format("  data check: the {} images were decoded and inspected earlier in this process (same "
                    "manifest, files unchanged): not again\n",
                    m.samples.size()));
    return it->second;
  }
  Progress bar("data check", static_cast<int64_t>(m.samples.size()));
  auto images = data::inspect_images(m, c.s.extract.threads, [&bar](int64_t d, int64_t) { bar.update(d); });
  bar.finish();
  return memo.emplace(std::move(key), std::move(images)).first->second;
}

}  // namespace

std::vector<int> split_parts(const data::Split& split) {
  std::vector<int> out;
  for (const auto p : split.part) out.push_back(static_cast<int>(p));
  return out;
}

std::vector<int> fold_parts(const Kfold& k) {
  // Samples share a part when every repeat put them in the same fold: the tuple of folds, numbered densely.
  if (k.folds.size() == 1) return k.folds[0].fold;  // the fold itself (fold_part_names names it)
  const size_t n = k.folds.empty() ? 0 : k.folds[0].fold.size();
  std::map<std::vector<int>, int> id;
  std::vector<int> out(n);
  for (size_t i = 0; i < n; ++i) {
    std::vector<int> key;
    for (const auto& f : k.folds) key.push_back(f.fold[i]);
    out[i] = id.emplace(key, static_cast<int>(id.size())).first->second;
  }
  return out;
}

std::vector<std::string> fold_part_names(const Kfold& k) {
  // Names only with one repeat; with more, a part is a tuple of folds, not one fold.
  std::vector<std::string> names;
  if (k.folds.size() == 1)
    for (int f = 0; f < k.folds[0].k; ++f) names.push_back(fmt::format("fold {}", f + 1));
  return names;
}

void short_clip_warning(Chain& c, const std::vector<int>& frames) {
  const auto& sampling = c.s.extract.clip.sampling;
  std::vector<std::string> short_clips;
  for (size_t i = 0; i < frames.size() && sampling.every == 0; ++i)
    if (frames[i] > 0 && frames[i] < sampling.frames)
      short_clips.push_back(fmt::format("{} ({} frames)", c.manifest.samples[i].rel_path, frames[i]));
  if (!short_clips.empty())
    add_warning(c.warnings, {"clip_short",
                             fmt::format("{} clip(s) have fewer frames than data.clip.frames {} "
                                         "asks for, and are read whole: {}",
                                         short_clips.size(), sampling.frames, fmt::join(short_clips, ", "))});
}

void short_clip_warning(Chain& c) {
  std::vector<int> frames;
  for (const auto& smp : c.manifest.samples) {
    int n = 0;  // a still image
    if (data::is_video_file(smp.path)) {
      n = data::clip_frame_count_hint(smp.path);
    } else if (c.s.extract.clip.dicom && data::is_dicom_file(smp.path)) {
      const int h = data::clip_frame_count_hint(smp.path);  // the header once: it also says whether a clip
      n = h > 1 ? h : 0;
    }
    frames.push_back(n);
  }
  short_clip_warning(c, frames);
}

void check_data(Chain& c, const std::vector<int>& part, const std::vector<std::string>& part_names,
                const std::function<void(const std::string&)>& say, const std::string& pairs_dir) {
  const auto& m = c.manifest;
  const auto& images = inspected(c, say);
  const auto s = data::summarise(m, images, data::find_duplicates(m, images, part));
  c.dataset = s.lines(m, part_names, part);
  for (const auto& line : c.dataset) say("  " + line + "\n");
  if (!pairs_dir.empty() && !s.duplicates.empty()) {
    const auto files = data::write_duplicate_pairs(m, s.duplicates, pairs_dir);
    say(fmt::format("  side by side, to look at: {}\n", fmt::join(files, ", ")));
  }
  if (s.unreadable)
    throw Error(fmt::format("{}: {} image(s) cannot be read (all listed above): fix or remove their rows",
                            m.file, s.unreadable));
  std::vector<int> frames;
  for (const auto& im : images) frames.push_back(im.frames);
  short_clip_warning(c, frames);
  std::vector<std::string> across_parts, across_grades, across_patients;
  for (const auto& g : s.duplicates) {
    const std::string text =
        fmt::format("{} duplicate: {}", g.exact ? "exact" : "near", members(m, g, part, part_names));
    if (g.across_parts) across_parts.push_back(text);
    if (g.across_grades) across_grades.push_back(text);
    if (g.across_patients) across_patients.push_back(text);
  }
  if (!across_parts.empty()) {
    const std::string what = fmt::format(
        "{} group(s) of the same picture in different parts of the split (leakage: test images seen in "
        "training or validation): {}",
        across_parts.size(), fmt::join(across_parts, "; "));
    if (!c.s.allow_duplicates)
      throw Error(
          fmt::format("{}: {}. Remove the copies from the manifest, or allow it knowingly "
                      "(data.allow_duplicates: true)",
                      m.file, what));
    add_warning(c.warnings, {"duplicate_across_split", what + " (allowed by data.allow_duplicates)"});
  }
  if (!across_grades.empty())
    add_warning(c.warnings, {"duplicate_conflicting_grades",
                             fmt::format("{} group(s) of the same picture with different grades (a labelling "
                                         "conflict): {}",
                                         across_grades.size(), fmt::join(across_grades, "; "))});
  if (!across_patients.empty())
    add_warning(c.warnings, {"duplicate_across_patients",
                             fmt::format("{} group(s) of the same picture under different patients: {}",
                                         across_patients.size(), fmt::join(across_patients, "; "))});
}

}  // namespace oess::experiment
