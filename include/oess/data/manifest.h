#pragma once
// oess/data/manifest.h — the dataset manifest (contract, see docs/formats.md).
//
// A CSV with a header. Required: `path` (relative to the manifest's folder, or absolute) and `score`
// (integer 0..3, the OESS Doppler grade). Optional: `patient`, `joint`, `split` (train | val | test). Other
// columns are kept (Sample::extra) and otherwise ignored.
//
// read_manifest(file, check_files)
//   ensures: samples in file order, each with its resolved path and the CSV line it came from.
//   errors (oess::Error "FILE:LINE: ..."): a missing required column (the columns present are listed), a
//   score that is not an integer in 0..3, a path given twice (both lines named), a split other than
//   train/val/test, an empty manifest, and — with check_files — an image file that does not exist.
#include <string>
#include <utility>
#include <vector>

namespace oess::data {

constexpr int kNumGrades = 4;  // OESS Doppler 0..3

// Binary label of the study: healthy (0-1) = 0, diseased (2-3) = 1.
inline int binary_of(int score) { return score >= 2 ? 1 : 0; }

struct Sample {
  std::string path;      // resolved: absolute, or relative to the current directory
  std::string rel_path;  // as written in the manifest
  int score = 0;
  std::string patient;  // empty when the manifest has no patient column
  std::string joint;
  std::string split;  // "", train, val or test
  int line = 0;       // CSV line
  std::vector<std::pair<std::string, std::string>> extra;
  std::vector<int> reader_grades;  // one per Manifest::readers, -1 when that reader gave none
  // The value of an extra column (fold, scanner, ...); "" when the manifest has no such column.
  std::string value(const std::string& column) const;
};

// Which CSV columns hold the path, the grade and the patient. Empty: found by name, case-insensitively —
// path, score, and for the patient the first of patient, patient_id, patientid, subject, subject_id, case,
// case_id. A named column that is missing is an error listing the columns present.
struct ManifestColumns {
  std::string path, score, patient;
  // Several readers (data/readers.h): their grade columns, and what the run trains on: `score`, `consensus`
  // (by `consensus`: majority | median | mean_rounded | an adjudicator column) or one reader's column. With
  // a label other than score the score column may be absent.
  std::vector<std::string> readers;
  std::vector<std::string> reader_files;  // more readers: path,reader,grade files (data/readers.h)
  std::string label = "score";
  std::string consensus = "majority";
};

struct Manifest {
  std::string file;
  std::string folder;  // paths are relative to this
  std::vector<Sample> samples;
  bool has_patient = false, has_joint = false, has_split = false;
  std::vector<std::string> extra_columns;
  std::vector<std::string> readers;  // ManifestColumns::readers, when given
  std::string label = "score";       // what Sample::score holds: score, consensus (rule), or a reader
  std::string patient_column;        // the header name used for patients ("" when none)
  std::vector<std::string> unused_id_columns;  // other columns whose names look like identifiers

  std::vector<int> scores() const;
  std::vector<int> counts() const;  // per grade
};

// A grade as written: "2", "2.0", " 2 " -> 2; anything that is not a whole number 0..3 -> -1.
int parse_grade(const std::string& text);

Manifest read_manifest(const std::string& file, bool check_files = true, const ManifestColumns& columns = {});

}  // namespace oess::data
