#include "oess/data/manifest.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <filesystem>
#include <unordered_map>

#include "oess/core/error.h"
#include "oess/io/csv.h"

namespace oess::data {

namespace fs = std::filesystem;

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

Manifest read_manifest(const std::string& file, bool check_files) {
  const io::CsvTable t = io::read_csv(file);
  Manifest m;
  m.file = file;
  m.folder = fs::path(file).parent_path().string();
  const int c_path = t.column("path"), c_score = t.column("score");
  if (c_path < 0 || c_score < 0)
    throw Error(fmt::format("{}:1: missing required column(s) {}{}{} (columns present: {})", file,
                            c_path < 0 ? "\"path\"" : "", c_path < 0 && c_score < 0 ? " and " : "",
                            c_score < 0 ? "\"score\"" : "", fmt::join(t.header, ", ")));
  const int c_patient = t.column("patient"), c_joint = t.column("joint"), c_split = t.column("split");
  m.has_patient = c_patient >= 0;
  m.has_joint = c_joint >= 0;
  m.has_split = c_split >= 0;
  std::vector<int> extra_idx;
  for (size_t i = 0; i < t.header.size(); ++i) {
    const auto& h = t.header[i];
    if (h != "path" && h != "score" && h != "patient" && h != "joint" && h != "split") {
      m.extra_columns.push_back(h);
      extra_idx.push_back(static_cast<int>(i));
    }
  }
  if (t.rows.empty()) throw Error(fmt::format("{}: empty manifest (a header but no images)", file));

  std::unordered_map<std::string, int> first_line;
  for (size_t r = 0; r < t.rows.size(); ++r) {
    const auto& row = t.rows[r];
    const int line = t.lines[r];
    Sample s;
    s.line = line;
    s.rel_path = row[static_cast<size_t>(c_path)];
    if (s.rel_path.empty()) throw Error(fmt::format("{}:{}: empty path", file, line));
    const fs::path p(s.rel_path);
    s.path = p.is_absolute() || m.folder.empty() ? p.lexically_normal().string()
                                                 : (fs::path(m.folder) / p).lexically_normal().string();
    const std::string& sc = row[static_cast<size_t>(c_score)];
    if (sc.size() != 1 || sc[0] < '0' || sc[0] > '3')
      throw Error(fmt::format("{}:{}: score \"{}\" is not an integer OESS grade 0..3", file, line, sc));
    s.score = sc[0] - '0';
    if (c_patient >= 0) s.patient = row[static_cast<size_t>(c_patient)];
    if (c_joint >= 0) s.joint = row[static_cast<size_t>(c_joint)];
    if (c_split >= 0) {
      s.split = row[static_cast<size_t>(c_split)];
      if (s.split != "train" && s.split != "val" && s.split != "test" && !s.split.empty())
        throw Error(fmt::format("{}:{}: split \"{}\" is not one of train, val, test", file, line, s.split));
    }
    for (int i : extra_idx)
      s.extra.emplace_back(t.header[static_cast<size_t>(i)], row[static_cast<size_t>(i)]);
    auto [it, inserted] = first_line.emplace(s.path, line);
    if (!inserted)
      throw Error(
          fmt::format("{}:{}: path \"{}\" already listed on line {}", file, line, s.rel_path, it->second));
    if (check_files) {
      std::error_code ec;
      if (!fs::is_regular_file(s.path, ec))
        throw Error(fmt::format("{}:{}: image file {} does not exist", file, line, s.path));
    }
    m.samples.push_back(std::move(s));
  }
  return m;
}

}  // namespace oess::data
