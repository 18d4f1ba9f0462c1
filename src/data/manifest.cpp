#include "oess/data/manifest.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <unordered_map>

#include "oess/core/error.h"
#include "oess/core/text.h"
#include "oess/data/readers.h"
#include "oess/io/csv.h"

namespace oess::data {

namespace fs = std::filesystem;

std::string Sample::value(const std::string& column) const {
  for (const auto& [k, v] : extra)
    if (k == column) return v;
  return {};
}

std::vector<int> Manifest::scores() const {
  std::vector<int> s;
  s.reserve(samples.size());
  for (const auto& x : samples) s.push_back(x.score);
  return s;
}

std::vector<int> Manifest::counts() const {
  std::vector<int> c(kNumGrades, 0);
  for (const auto& x : samples) ++c[static_cast<size_t>(x.score)];
  return c;
}

int parse_grade(const std::string& text) {
  size_t b = text.find_first_not_of(" \t"), e = text.find_last_not_of(" \t");
  if (b == std::string::npos) return -1;
  const std::string t = text.substr(b, e - b + 1);
  char* end = nullptr;
  const double v = std::strtod(t.c_str(), &end);
  if (end != t.c_str() + t.size() || t.find_first_of("xXeEnN") != std::string::npos) return -1;
  if (v != std::floor(v) || v < 0 || v > 3) return -1;
  return static_cast<int>(v);
}

namespace {

bool looks_like_id(const std::string& name) {
  const std::string n = ascii_lower(name);
  for (const char* k : {"patient", "subject", "case", "person"})
    if (n.find(k) != std::string::npos) return true;
  const auto ends = [&](const char* suffix) {
    const std::string x(suffix);
    return n.size() >= x.size() && n.compare(n.size() - x.size(), x.size(), x) == 0;
  };
  return n == "id" || ends("_id") || ends("-id") || ends(" id");
}

constexpr size_t kShownProblems = 20;

[[noreturn]] void throw_problems(const std::string& file, const std::vector<std::string>& problems) {
  std::string text = fmt::format(
      "{}", fmt::join(problems.begin(), problems.begin() + std::min(problems.size(), kShownProblems), "\n"));
  if (problems.size() > 1)
    text += fmt::format(
        "\n{}: {} problem(s) in all{}", file, problems.size(),
        problems.size() > kShownProblems ? fmt::format(", the first {} shown", kShownProblems) : "");
  throw Error(text);
}

[[noreturn]] void missing_columns(const io::CsvTable& t, const ManifestColumns& columns, bool path,
                                  bool score) {
  const std::string p = columns.path.empty() ? "path" : columns.path;
  const std::string sc = columns.score.empty() ? "score" : columns.score;
  throw Error(fmt::format("{}:1: missing required column(s) {}{}{} (columns present: {})", t.path,
                          path ? "\"" + p + "\"" : "", path && score ? " and " : "",
                          score ? "\"" + sc + "\"" : "", fmt::join(t.header, ", ")));
}

}  // namespace

Manifest read_manifest(const std::string& file, bool check_files, const ManifestColumns& columns) {
  const io::CsvTable t = io::read_csv(file);
  Manifest m;
  m.file = file;
  m.folder = fs::path(file).parent_path().string();
  const int c_path = t.find_column(columns.path, {"path"}), c_score = t.find_column(columns.score, {"score"});
  const bool score_needed = columns.label == "score";
  if (c_path < 0 || (c_score < 0 && score_needed)) missing_columns(t, columns, c_path < 0, c_score < 0);
  const int c_patient = t.find_column(
      columns.patient, {"patient", "patient_id", "patientid", "subject", "subject_id", "case", "case_id"});
  if (!columns.patient.empty() && c_patient < 0)
    throw Error(fmt::format("{}:1: no patient column \"{}\" (data.columns.patient; columns present: {})",
                            file, columns.patient, fmt::join(t.header, ", ")));
  const int c_joint = t.find_column("", {"joint"}), c_split = t.find_column("", {"split"});
  m.has_patient = c_patient >= 0;
  if (m.has_patient) m.patient_column = t.header[static_cast<size_t>(c_patient)];
  m.has_joint = c_joint >= 0;
  m.has_split = c_split >= 0;
  std::vector<int> extra_idx;
  for (size_t i = 0; i < t.header.size(); ++i) {
    const int ii = static_cast<int>(i);
    if (ii == c_path || (ii == c_score && score_needed) || ii == c_patient || ii == c_joint || ii == c_split)
      continue;
    m.extra_columns.push_back(t.header[i]);
    extra_idx.push_back(ii);
    if (looks_like_id(t.header[i])) m.unused_id_columns.push_back(t.header[i]);
  }
  if (t.rows.empty()) throw Error(fmt::format("{}: empty manifest (a header but no images)", file));

  // Every bad row is found before failing: the first kShownProblems are listed, then the count.
  std::vector<std::string> problems;
  std::unordered_map<std::string, int> first_line;
  for (size_t r = 0; r < t.rows.size(); ++r) {
    const auto& row = t.rows[r];
    const int line = t.lines[r];
    Sample s;
    s.line = line;
    s.rel_path = row[static_cast<size_t>(c_path)];
    if (s.rel_path.empty()) {
      problems.push_back(fmt::format("{}:{}: empty path", file, line));
      continue;
    }
    const fs::path p(s.rel_path);
    s.path = p.is_absolute() || m.folder.empty() ? p.lexically_normal().string()
                                                 : (fs::path(m.folder) / p).lexically_normal().string();
    if (c_score >= 0 && score_needed) {
      const std::string& sc = row[static_cast<size_t>(c_score)];
      s.score = parse_grade(sc);
      if (s.score < 0)
        problems.push_back(
            fmt::format("{}:{}: score \"{}\" is not an integer OESS grade 0..3", file, line, sc));
    }
    if (c_patient >= 0) s.patient = row[static_cast<size_t>(c_patient)];
    if (c_joint >= 0) s.joint = row[static_cast<size_t>(c_joint)];
    if (c_split >= 0) {
      s.split = row[static_cast<size_t>(c_split)];
      if (s.split != "train" && s.split != "val" && s.split != "test" && !s.split.empty())
        problems.push_back(
            fmt::format("{}:{}: split \"{}\" is not one of train, val, test", file, line, s.split));
    }
    for (int i : extra_idx)
      s.extra.emplace_back(t.header[static_cast<size_t>(i)], row[static_cast<size_t>(i)]);
    auto [it, inserted] = first_line.emplace(s.path, line);
    if (!inserted)
      problems.push_back(
          fmt::format("{}:{}: path \"{}\" already listed on line {}", file, line, s.rel_path, it->second));
    if (check_files) {
      std::error_code ec;
      if (!fs::is_regular_file(s.path, ec))
        problems.push_back(fmt::format("{}:{}: image file {} does not exist", file, line, s.path));
    }
    m.samples.push_back(std::move(s));
  }
  if (!problems.empty()) throw_problems(file, problems);
  if (!columns.readers.empty() || !columns.reader_files.empty() || columns.label != "score")
    apply_readers(m, columns);
  return m;
}

}  // namespace oess::data
