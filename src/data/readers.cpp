// Several readers' grades of one manifest and the label a run trains on (data/readers.h).
#include "oess/data/readers.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <map>
#include <numeric>

#include "oess/core/error.h"
#include "oess/io/csv.h"

namespace oess::data {

namespace fs = std::filesystem;

bool parse_consensus(const std::string& s, ConsensusRule& rule) {
  if (s == "majority")
    rule = ConsensusRule::kMajority;
  else if (s == "median")
    rule = ConsensusRule::kMedian;
  else if (s == "mean_rounded")
    rule = ConsensusRule::kMeanRounded;
  else
    return false;
  return true;
}

int consensus(const std::vector<int>& grades, ConsensusRule rule) {
  std::vector<int> v;
  for (int g : grades)
    if (g != kNoGrade) v.push_back(g);
  if (v.empty()) return kNoGrade;
  std::sort(v.begin(), v.end());
  const int median = v[(v.size() - 1) / 2];  // the lower middle grade
  if (rule == ConsensusRule::kMedian) return median;
  if (rule == ConsensusRule::kMeanRounded) {
    const double mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
    return static_cast<int>(std::floor(mean + 0.5));
  }
  std::map<int, int> count;
  for (int g : v) ++count[g];
  int best = kNoGrade, best_count = 0;
  for (const auto& [g, c] : count) {  // ascending: an equal count wins only when nearer the median
    const bool nearer = best != kNoGrade && std::abs(g - median) < std::abs(best - median);
    if (c > best_count || (c == best_count && nearer)) {
      best = g;
      best_count = c;
    }
  }
  return best;
}

namespace {

void missing_column(const Manifest& m, const std::string& what, const std::string& name) {
  throw Error(
      fmt::format("{}:1: no {} column \"{}\" (columns besides path and score: {})", m.file, what, name,
                  m.extra_columns.empty() ? "none" : fmt::format("{}", fmt::join(m.extra_columns, ", "))));
}

// The readers of c.reader_files after the columns', their grades as cells of their own.
void merge_reader_files(Manifest& m, ManifestColumns& c) {
  const GradeColumns files = read_grade_files(m, c.reader_files);
  for (const auto& r : files.readers) {
    if (std::find(c.readers.begin(), c.readers.end(), r) != c.readers.end() ||
        std::find(m.extra_columns.begin(), m.extra_columns.end(), r) != m.extra_columns.end())
      throw Error(fmt::format("reader {} of {} is also a column of {}: rename one", r,
                              fmt::join(c.reader_files, ", "), m.file));
    c.readers.push_back(r);
    m.extra_columns.push_back(r);
  }
  for (size_t i = 0; i < m.samples.size(); ++i)
    for (size_t r = 0; r < files.readers.size(); ++r)
      m.samples[i].extra.emplace_back(files.readers[r],
                                      files.grades[i][r] < 0 ? "" : std::to_string(files.grades[i][r]));
}

}  // namespace

void apply_readers(Manifest& m, const ManifestColumns& columns) {
  ManifestColumns c = columns;
  if (!c.reader_files.empty()) merge_reader_files(m, c);
  for (const auto& r : c.readers)
    if (std::find(m.extra_columns.begin(), m.extra_columns.end(), r) == m.extra_columns.end())
      missing_column(m, "reader", r);
  ConsensusRule rule = ConsensusRule::kMajority;
  const bool by_rule = parse_consensus(c.consensus, rule);
  const bool soft = c.label == "soft";  // trained on the distribution; the consensus labels splits and tests
  const bool consensus_label = c.label == "consensus" || soft,
             score_label = c.label == "score" || c.label == "none";
  if (!consensus_label && !score_label &&
      std::find(c.readers.begin(), c.readers.end(), c.label) == c.readers.end())
    throw UsageError(fmt::format("data.label \"{}\": score, consensus, soft or one of the readers ({})",
                                 c.label, fmt::join(c.readers, ", ")));
  if (consensus_label && !by_rule &&
      std::find(m.extra_columns.begin(), m.extra_columns.end(), c.consensus) == m.extra_columns.end())
    missing_column(m, "adjudicator (data.consensus)", c.consensus);
  m.readers = c.readers;
  m.label = soft ? "soft (the readers' grade distribution; consensus (" + c.consensus + ") to split and test)"
            : consensus_label ? "consensus (" + c.consensus + ")"
                              : c.label;
  std::vector<std::string> problems;
  std::vector<int> given(c.readers.size(), 0);
  for (auto& s : m.samples) {
    s.reader_grades.clear();
    for (size_t r = 0; r < c.readers.size(); ++r) {
      const std::string text = s.value(c.readers[r]);
      int g = kNoGrade;
      if (!text.empty() && (g = parse_grade(text)) < 0) {
        problems.push_back(fmt::format("{}:{}: reader {}: grade \"{}\" is not 0..3 (or empty: not graded)",
                                       m.file, s.line, c.readers[r], text));
        g = kNoGrade;
      }
      given[r] += g != kNoGrade;
      s.reader_grades.push_back(g);
    }
    if (score_label) continue;
    if (!consensus_label) {
      s.score = s.reader_grades[static_cast<size_t>(std::find(c.readers.begin(), c.readers.end(), c.label) -
                                                    c.readers.begin())];
    } else if (by_rule) {
      s.score = consensus(s.reader_grades, rule);
    } else {  // an adjudicator settles disagreements
      std::vector<int> g;
      for (int x : s.reader_grades)
        if (x != kNoGrade) g.push_back(x);
      const bool agree = !g.empty() && std::all_of(g.begin(), g.end(), [&g](int x) { return x == g[0]; });
      s.score = agree ? g[0] : parse_grade(s.value(c.consensus));
      if (!agree && s.score < 0)
        problems.push_back(
            fmt::format("{}:{}: the readers disagree and the adjudicator {} gives no grade 0..3 "
                        "(\"{}\")",
                        m.file, s.line, c.consensus, s.value(c.consensus)));
    }
    if (s.score < 0 && (by_rule || !consensus_label))
      problems.push_back(fmt::format("{}:{}: no grade to label it by ({}: none given)", m.file, s.line,
                                     consensus_label ? "no reader graded it" : "reader " + c.label));
  }
  for (size_t r = 0; r < c.readers.size(); ++r)
    if (given[r] == 0)
      problems.push_back(fmt::format("{}: reader {} gave no grade at all", m.file, c.readers[r]));
  if (!problems.empty()) {
    std::string text = fmt::format(
        "{}", fmt::join(problems.begin(), problems.begin() + std::min<size_t>(problems.size(), 10), "\n"));
    if (problems.size() > 1)
      text += fmt::format("\n{}: {} problem(s) with the readers' grades", m.file, problems.size());
    throw Error(text);
  }
}

std::array<double, 4> grade_distribution(const std::vector<int>& grades) {
  std::array<double, 4> q{0, 0, 0, 0};
  double n = 0;
  for (int g : grades)
    if (g >= 0 && g <= 3) {
      q[static_cast<size_t>(g)] += 1;
      n += 1;
    }
  for (auto& x : q) x = n > 0 ? x / n : 0;
  return q;
}

GradeColumns read_grade_files(const Manifest& m, const std::vector<std::string>& files) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < m.samples.size(); ++i) index[fs::weakly_canonical(m.samples[i].path).string()] = i;
  GradeColumns out;
  std::map<std::string, size_t> reader_index;
  out.grades.assign(m.samples.size(), {});
  for (const auto& file : files) {
    const io::CsvTable t = io::read_csv(file);
    const int c_path = t.find_column("", {"path"}), c_reader = t.find_column("", {"reader"}),
              c_grade = t.find_column("", {"grade"});
    if (c_path < 0 || c_reader < 0 || c_grade < 0)
      throw Error(fmt::format("{}:1: a grades file needs columns path, reader, grade (present: {})", file,
                              fmt::join(t.header, ", ")));
    const fs::path folder = fs::path(file).parent_path();
    for (size_t r = 0; r < t.rows.size(); ++r) {
      const auto& row = t.rows[r];
      const fs::path p(row[static_cast<size_t>(c_path)]);
      const std::string key =
          fs::weakly_canonical(p.is_absolute() || folder.empty() ? p : folder / p).string();
      const auto it = index.find(key);
      if (it == index.end())
        throw Error(fmt::format("{}:{}: {} is not an image of the manifest {}", file, t.lines[r], p.string(),
                                m.file));
      const std::string& reader = row[static_cast<size_t>(c_reader)];
      const int g = parse_grade(row[static_cast<size_t>(c_grade)]);
      if (g < 0)
        throw Error(fmt::format("{}:{}: grade \"{}\" is not 0..3", file, t.lines[r],
                                row[static_cast<size_t>(c_grade)]));
      auto [ri, fresh] = reader_index.emplace(reader, out.readers.size());
      if (fresh) {
        out.readers.push_back(reader);
        for (auto& v : out.grades) v.push_back(kNoGrade);
      }
      int& slot = out.grades[it->second][ri->second];
      if (slot != kNoGrade && slot != g)
        throw Error(fmt::format("{}:{}: reader {} graded {} twice, {} and {}", file, t.lines[r], reader,
                                p.string(), slot, g));
      slot = g;
    }
  }
  return out;
}

}  // namespace oess::data
