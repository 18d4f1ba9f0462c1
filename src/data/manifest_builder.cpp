#include "oess/data/manifest_builder.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>

#include "oess/core/atomic_file.h"
#include "oess/core/error.h"
#include "oess/core/text.h"
#include "oess/data/clip.h"
#include "oess/data/dicom.h"
#include "oess/data/manifest.h"
#include "oess/io/csv.h"

namespace oess::data {
namespace {

namespace fs = std::filesystem;

// Problems are collected, then thrown together: first 20 and the count.
struct Problems {
  std::vector<std::string> list;
  void add(std::string p) { list.push_back(std::move(p)); }
  void throw_if_any(const std::string& what) const {
    if (list.empty()) return;
    const size_t shown = std::min<size_t>(list.size(), 20);
    throw Error(fmt::format("{}:\n  {}{}", what, fmt::join(list.begin(), list.begin() + shown, "\n  "),
                            list.size() > shown ? fmt::format("\n  ... {} problem(s) in all", list.size())
                                                : fmt::format("\n{} problem(s) in all", list.size())));
  }
};

struct Image {
  fs::path file;    // absolute
  std::string rel;  // relative to dir, '/' separators
  int score = -1;
  std::string patient, source;
  std::vector<std::string> extra;  // the labels file's other columns (BuiltManifest::extra_columns)
};

// --grade-map "2=0,3=1,4=2,5=3": label text -> grade. Empty map: the labels are grades.
std::map<std::string, int> parse_grade_map(const std::string& text) {
  std::map<std::string, int> map;
  if (text.empty()) return map;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const auto eq = item.find('=');
    const std::string from = eq == std::string::npos ? "" : trim(item.substr(0, eq));
    const int to = eq == std::string::npos ? -1 : parse_grade(item.substr(eq + 1));
    if (from.empty() || to < 0)
      throw UsageError(
          fmt::format("--grade-map \"{}\": \"{}\" is not LABEL=GRADE with a grade 0..3 (e.g. "
                      "--grade-map 2=0,3=1,4=2,5=3)",
                      text, item));
    if (!map.emplace(from, to).second)
      throw UsageError(fmt::format("--grade-map \"{}\": label \"{}\" is mapped twice", text, from));
  }
  return map;
}

bool is_image(const fs::path& p) {
  static const std::set<std::string> ext = {".png", ".jpg",  ".jpeg", ".bmp",
                                            ".tif", ".tiff", ".dcm",  ".dicom"};
  const std::string e = ascii_lower(p.extension().string());
  if (is_video_file(p.string())) return true;  // clips (issue #33): one row each
  if (!e.empty()) return ext.count(e) > 0;
  return is_dicom_file(p.string());
}

// Every image under dir (hidden names skipped), sorted by relative path; *ignored counts other files.
std::vector<Image> list_images(const fs::path& dir, int* ignored) {
  std::vector<Image> out;
  for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator(); ++it) {
    const std::string name = it->path().filename().string();
    if (!name.empty() && name[0] == '.') {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file()) continue;
    if (!is_image(it->path())) {
      ++*ignored;
      continue;
    }
    Image im;
    im.file = fs::absolute(it->path()).lexically_normal();
    im.rel = it->path().lexically_relative(dir).generic_string();
    out.push_back(std::move(im));
  }
  std::sort(out.begin(), out.end(), [](const Image& a, const Image& b) { return a.rel < b.rel; });
  return out;
}

// The grade a folder name stands for: 0..3 (grade, oess prefixes), 10 healthy, 12 diseased, -1 none.
int folder_grade(const std::string& name) {
  static const std::regex grade(R"(^(grade|oess)?[ _-]?([0-3])$)");
  const std::string n = ascii_lower(name);
  std::smatch m;
  if (std::regex_match(n, m, grade)) return m[2].str()[0] - '0';
  if (n == "healthy") return 10;
  if (n == "diseased") return 12;
  return -1;
}

// Grade folders: each image's grade from the first component of its path. Returns the layout name.
std::string grades_from_folders(const fs::path& dir, std::vector<Image>& images, BuiltManifest& b) {
  std::set<int> kinds;
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory() && folder_grade(e.path().filename().string()) >= 0) {
      kinds.insert(folder_grade(e.path().filename().string()) >= 10 ? 1 : 0);
      names.push_back(e.path().filename().string());
    }
  if (names.empty())
    throw Error(fmt::format(
        "{}: no grade folders (0..3, grade0..grade3, oess0..oess3, or healthy/diseased) and no --labels "
        "file: oess cannot tell the images' grades",
        dir.string()));
  if (kinds.size() > 1)
    throw Error(fmt::format("{}: both grade folders and healthy/diseased folders ({}): use one layout",
                            dir.string(), fmt::join(names, ", ")));
  const bool binary = *kinds.begin() == 1;
  std::vector<Image> kept;
  int outside = 0;
  for (auto& im : images) {
    const size_t slash = im.rel.find('/');
    const int g = slash == std::string::npos ? -1 : folder_grade(im.rel.substr(0, slash));
    if (g < 0) {
      ++outside;
      continue;
    }
    im.score = g >= 10 ? g - 10 : g;
    if (binary) im.source = g == 10 ? "binary:healthy" : "binary:diseased";
    kept.push_back(im);
  }
  if (outside) b.notes.push_back(fmt::format("{} image(s) outside the grade folders left out", outside));
  images = std::move(kept);
  return binary ? "binary folders (healthy -> score 0, diseased -> score 2; classifier.task: binary)"
                : "grade folders";
}

int labels_column(const io::CsvTable& t, const std::string& want, const std::vector<std::string>& names,
                  const char* option, const char* noun) {
  if (const int c = t.find_column(want, names); c >= 0) return c;
  if (!want.empty())
    throw Error(fmt::format("{}: no column \"{}\" ({}); columns: {}", t.path, want, option,
                            fmt::join(t.header, ", ")));
  throw Error(fmt::format("{}: no {} column (looked for {}; name it with {}); columns: {}", t.path, noun,
                          fmt::join(names, ", "), option, fmt::join(t.header, ", ")));
}

// The labels' columns carried into the manifest (scanner, centre, fold ...), in the file's order: all but
// the key, the patient column and the grade column (kept when mapped: its raw values differ from the score),
// and names the manifest has itself (noted).
std::vector<size_t> carried_columns(const ManifestBuildOptions& o, const io::CsvTable& t,
                                    const std::array<int, 3>& key_grade_patient, bool mapped,
                                    BuiltManifest& b) {
  std::vector<size_t> keep;
  for (size_t c = 0; c < t.header.size(); ++c) {
    const std::string name = ascii_lower(t.header[c]);
    const int ci = static_cast<int>(c);
    if (ci == key_grade_patient[0] || ci == key_grade_patient[2] || (ci == key_grade_patient[1] && !mapped))
      continue;
    if (name == "path" || name == "score" || name == "patient" || name == "label_source") {
      b.notes.push_back(fmt::format("{}: column \"{}\" not carried over (the manifest has its own)", o.labels,
                                    t.header[c]));
      continue;
    }
    keep.push_back(c);
    b.extra_columns.push_back(t.header[c]);
  }
  return keep;
}

// A row's grade: the text itself (0..3), or its --grade-map value; -1 with a problem noted otherwise.
int grade_of(const std::string& text, const std::map<std::string, int>& grade_map, const std::string& where,
             Problems& problems) {
  if (grade_map.empty()) {
    const int grade = parse_grade(text);
    if (grade < 0) problems.add(fmt::format("{}: grade \"{}\" is not 0, 1, 2 or 3", where, text));
    return grade;
  }
  if (const auto g = grade_map.find(trim(text)); g != grade_map.end()) return g->second;
  std::vector<std::string> labels;
  for (const auto& [k, v] : grade_map) labels.push_back(k);
  problems.add(
      fmt::format("{}: label \"{}\" is not in --grade-map ({})", where, text, fmt::join(labels, ", ")));
  return -1;
}

// A labels file: every row names an image (relative path or file name) and gives its grade.
std::string grades_from_labels(const ManifestBuildOptions& o, std::vector<Image>& images, BuiltManifest& b) {
  const std::string text = read_file(o.labels);
  const char delimiter = io::detect_delimiter(text);
  const io::CsvTable t = io::parse_csv(text, o.labels, delimiter);
  const int c_key = labels_column(t, o.key_column, {"path", "file", "filename", "file_name", "image", "name"},
                                  "--key-column", "file");
  const int c_grade =
      labels_column(t, o.label_column, {"score", "grade", "oess", "label"}, "--label-column", "grade");
  const auto grade_map = parse_grade_map(o.grade_map);
  int c_patient = -1;
  if (o.patient_from.rfind("column:", 0) == 0)
    c_patient = labels_column(t, o.patient_from.substr(7), {}, "--patient-from column:COL", "patient");
  const auto keep = carried_columns(o, t, {c_key, c_grade, c_patient}, !grade_map.empty(), b);
  std::map<std::string, size_t> by_rel;
  std::map<std::string, std::vector<size_t>> by_name;
  for (size_t i = 0; i < images.size(); ++i) {
    by_rel[images[i].rel] = i;
    by_name[images[i].file.filename().string()].push_back(i);
  }
  Problems problems;
  std::vector<bool> labelled(images.size(), false);
  for (size_t r = 0; r < t.rows.size(); ++r) {
    const std::string where = fmt::format("{}:{}", o.labels, t.lines[r]);
    std::string key = t.rows[r][static_cast<size_t>(c_key)];
    std::replace(key.begin(), key.end(), '\\', '/');
    const int grade = grade_of(t.rows[r][static_cast<size_t>(c_grade)], grade_map, where, problems);
    std::optional<size_t> hit;
    if (auto it = by_rel.find(fs::path(key).lexically_normal().generic_string()); it != by_rel.end())
      hit = it->second;
    else if (auto n = by_name.find(key); n != by_name.end() && n->second.size() == 1)
      hit = n->second[0];
    else if (n != by_name.end())
      problems.add(fmt::format("{}: \"{}\" names {} images ({}, ...): give the path relative to {}", where,
                               key, n->second.size(), images[n->second[0]].rel, o.dir));
    if (!hit) {
      if (by_name.count(key) == 0)
        problems.add(fmt::format("{}: \"{}\": no such image under {}", where, key, o.dir));
      continue;
    }
    if (labelled[*hit]) problems.add(fmt::format("{}: \"{}\" has a second row", where, key));
    labelled[*hit] = true;
    images[*hit].score = grade;
    for (size_t c : keep) images[*hit].extra.push_back(t.rows[r][c]);
    if (c_patient >= 0) {
      images[*hit].patient = trim(t.rows[r][static_cast<size_t>(c_patient)]);
      if (images[*hit].patient.empty()) problems.add(fmt::format("{}: \"{}\" has no patient id", where, key));
    }
  }
  problems.throw_if_any(fmt::format("{}: the labels cannot be used", o.labels));
  std::vector<Image> kept;
  for (size_t i = 0; i < images.size(); ++i)
    if (labelled[i]) kept.push_back(images[i]);
  b.unlabelled_images = static_cast<int>(images.size() - kept.size());
  if (b.unlabelled_images)
    b.notes.push_back(fmt::format("{} image(s) under {} have no row in {}: left out", b.unlabelled_images,
                                  o.dir, o.labels));
  images = std::move(kept);
  const char* names[] = {",", ";", "TAB"};
  return fmt::format("labels file {} ('{}'-separated)", o.labels,
                     names[delimiter == ','   ? 0
                           : delimiter == ';' ? 1
                                              : 2]);
}

void find_patients(const ManifestBuildOptions& o, bool grade_folders, std::vector<Image>& images) {
  const std::string& from = o.patient_from;
  if (from.empty()) return;
  if (from.rfind("column:", 0) == 0) {  // read with the labels
    if (o.labels.empty())
      throw UsageError(fmt::format("--patient-from {}: a column needs a --labels file", from));
    return;
  }
  std::optional<std::regex> re;
  if (from.rfind("regex:", 0) == 0) {
    try {
      re.emplace(from.substr(6));
    } catch (const std::regex_error& e) {
      throw UsageError(fmt::format("--patient-from {}: not a valid regular expression ({})", from, e.what()));
    }
  } else if (from != "folder" && from != "dicom") {
    throw UsageError(
        fmt::format("--patient-from \"{}\": expected dicom, folder, regex:RE or column:COL", from));
  }
  Problems problems;
  for (auto& im : images) {
    if (from == "folder") {
      std::vector<std::string> parts;
      for (const auto& p : fs::path(im.rel)) parts.push_back(p.string());
      const size_t level = grade_folders ? 1 : 0;
      if (parts.size() > level + 1) im.patient = parts[level];
    } else if (from == "dicom") {
      try {
        im.patient = read_dicom_patient_id(im.file.string());
      } catch (const Error& e) {
        problems.add(e.what());
        continue;
      }
    } else {
      std::smatch m;
      if (std::regex_search(im.rel, m, *re))
        im.patient = m.size() > 1 && m[1].matched ? m[1].str() : m[0].str();
    }
    if (im.patient.empty())
      problems.add(fmt::format("{}: no patient ({})", im.rel,
                               from == "folder"  ? "no folder level for it"
                               : from == "dicom" ? "the DICOM file has no PatientID"
                                                 : "the regex does not match"));
  }
  problems.throw_if_any(fmt::format("--patient-from {}: images without a patient", from));
}

}  // namespace

BuiltManifest build_manifest(const ManifestBuildOptions& o) {
  const fs::path dir = fs::absolute(o.dir).lexically_normal();
  if (!fs::is_directory(dir)) throw Error(fmt::format("{}: no such folder", o.dir));
  BuiltManifest b;
  std::vector<Image> images = list_images(dir, &b.ignored_files);
  if (images.empty())
    throw Error(fmt::format("{}: no images (png, jpg, bmp, tif, DICOM) in it or below it{}", o.dir,
                            b.ignored_files ? fmt::format("; {} other file(s)", b.ignored_files) : ""));
  if (!o.grade_map.empty() && o.labels.empty())
    throw UsageError("--grade-map maps a labels file's values: give --labels");
  if (o.patient_from.rfind("column:", 0) == 0 && o.labels.empty())
    throw UsageError(fmt::format("--patient-from {}: a column needs a --labels file", o.patient_from));
  b.layout = o.labels.empty() ? grades_from_folders(dir, images, b) : grades_from_labels(o, images, b);
  if (images.empty()) throw Error(fmt::format("{}: no image has a grade ({})", o.dir, b.layout));
  find_patients(o, o.labels.empty(), images);
  const fs::path out_dir = fs::absolute(o.out).lexically_normal().parent_path();
  std::vector<std::string> head = {"path", "score"};
  if (!o.patient_from.empty()) head.push_back("patient");
  const bool binary = !images.empty() && !images[0].source.empty();
  if (binary) head.push_back("label_source");
  for (const auto& c : b.extra_columns) head.push_back(c);
  std::vector<std::pair<std::string, const Image*>> rows;
  for (const auto& im : images) rows.emplace_back(im.file.lexically_relative(out_dir).generic_string(), &im);
  std::sort(rows.begin(), rows.end());
  io::CsvWriter csv(head);
  std::set<std::string> patients;
  for (const auto& [path, im] : rows) {
    std::vector<std::string> r = {path, std::to_string(im->score)};
    if (!o.patient_from.empty()) r.push_back(im->patient);
    if (binary) r.push_back(im->source);
    for (size_t c = 0; c < b.extra_columns.size(); ++c) r.push_back(c < im->extra.size() ? im->extra[c] : "");
    csv.row(r);
    ++b.per_grade[static_cast<size_t>(im->score)];
    patients.insert(im->patient);
  }
  b.csv = csv.str();
  b.rows = static_cast<int>(rows.size());
  b.patients = o.patient_from.empty() ? 0 : static_cast<int>(patients.size());
  if (b.ignored_files)
    b.notes.push_back(fmt::format("{} file(s) that are not images ignored", b.ignored_files));
  return b;
}

}  // namespace oess::data
