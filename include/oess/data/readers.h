#pragma once
// oess/data/readers.h — several readers' grades of one manifest (issue #34): reader columns, files of
// path,reader,grade rows (what `oess read` writes), and the label a run trains on.
//
// Readers: manifest columns named in data.readers (ManifestColumns::readers), an empty cell a grade not
// given. Label (ManifestColumns::label): `score` (the score column, as without readers), `consensus` (by
// ManifestColumns::consensus), `soft` (trained on the readers' grade distribution, grade_distribution; the
// consensus labels the split and the test), or one reader's column. Consensus rules, on one image's grades
// (missing skipped):
//   majority      the most frequent grade; a tie goes to the tied grade nearest the median of all its
//                 grades (the lower middle grade for an even count), then to the lower one;
//   median        the median grade (even counts: the lower middle grade, a grade a reader gave);
//   mean_rounded  the mean rounded half up (1.5 -> 2);
//   COLUMN        an adjudicator: where the readers disagree, that column's grade; where they agree, theirs.
// An image no reader graded cannot be labelled (an error naming its line).
//
// apply_readers(m, c)   (read_manifest calls it) reads c.reader_files (read_grade_files: their readers follow
//                       the columns', as columns of their own), then fills Manifest::readers, each
//                       Sample::reader_grades and,
//                       for a label other than score, Sample::score. errors (oess::Error, every bad row
//                       listed as FILE:LINE): a reader or adjudicator column not in the manifest (the columns
//                       listed), a grade neither empty nor 0..3, a reader with no grade at all, an image left
//                       without a label; UsageError for a label naming no reader.
// read_grade_files(m, files) the readers of long files (header path,reader,grade; paths as the manifest's,
//                       relative to the grades file's folder or absolute), matched to the manifest's images:
//                       one column per reader, in order of appearance. errors: a path not in the manifest, a
//                       grade outside 0..3, one reader grading an image twice differently (FILE:LINE).
#include <array>
#include <string>
#include <vector>

#include "oess/data/manifest.h"

namespace oess::data {

inline constexpr int kNoGrade = -1;

enum class ConsensusRule { kMajority, kMedian, kMeanRounded };
// majority | median | mean_rounded; anything else: false (an adjudicator column's name).
bool parse_consensus(const std::string& s, ConsensusRule& rule);
int consensus(const std::vector<int>& grades, ConsensusRule rule);

void apply_readers(Manifest& m, const ManifestColumns& c);
// data.label: soft: an image's training target, the share of its readers' grades per grade (missing skipped;
// all zero when none).
std::array<double, 4> grade_distribution(const std::vector<int>& grades);
inline bool soft_label(const Manifest& m) { return m.label.rfind("soft", 0) == 0; }

struct GradeColumns {
  std::vector<std::string> readers;
  std::vector<std::vector<int>> grades;  // [sample][reader], kNoGrade when not given
};
GradeColumns read_grade_files(const Manifest& m, const std::vector<std::string>& files);

}  // namespace oess::data
