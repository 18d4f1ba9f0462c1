#pragma once
// oess/data/manifest_builder.h — a manifest from a folder of images (`oess manifest`; docs/data.md).
//
// build_manifest(options)
//   Images: files under `dir` (recursively, hidden names skipped) ending .png .jpg .jpeg .bmp .tif .tiff
//   .dcm .dicom (any case), and files without an extension that are DICOM (the "DICM" marker, as `oess
//   score` recognises them). Other files are counted and ignored.
//   Grades, one of:
//     - grade folders: the folders directly under `dir` named 0..3, grade0..grade3 or oess0..oess3 (any
//       case; "grade_2", "grade-2", "oess 2" too). Images anywhere below a grade folder take its grade;
//       images outside them are listed as ignored. Or the binary layout: folders `healthy` and `diseased`
//       — written as score 0 and 2 with a `label_source` column saying "binary" (train with
//       classifier.task: binary; 4-class figures on such a manifest mean nothing).
//     - a labels file (CSV, TSV or semicolon-separated: the delimiter is the header's most frequent of , ;
//       TAB): one row per image, keyed by its path relative to `dir` or by its file name alone (a name two
//       images share is an error naming both); the grade in `label_column` (default: the first of score,
//       grade, oess, label — any case), written "2" or "2.0", or any values mapped by `grade_map`
//       ("2=0,3=1,4=2,5=3": BI-RADS 2-5 to grades 0-3; a value not in the map is an error naming the line,
//       and the raw column is kept). Images without a row are left out and counted. The file's other
//       columns (scanner, centre, fold ...) are carried into the manifest after the manifest's own, in the
//       file's order (extra_columns; columns named path, score, patient or label_source are left out, noted).
//   Patients (`patient_from`): "" none; "folder": the first folder level below the grade folder (labels
//   file: below `dir`); "dicom": the DICOM PatientID; "regex:RE": the first capture group of RE (else the
//   whole match) searched in the image's path relative to `dir` ('/' separators); "column:COL": the labels
//   file's column COL (an empty cell is an error naming the line).
//   ensures: rows sorted by path, paths relative to the folder of `out` ('/' separators), so the file is
//   stable under version control; columns path, score[, patient][, label_source].
//   errors (oess::Error, everything found at once, at most 20 listed with the count): `dir` missing or
//   holding no image; no grade folders and no labels file; a labels grade outside 0..3 or not a number
//   (FILE:LINE); a labels row naming no image under `dir` (FILE:LINE); an image with no patient (no
//   folder level, a regex that does not match, a DICOM file without PatientID, a non-DICOM file with
//   "dicom"). Nothing is written here: the caller writes `csv`.
#include <array>
#include <string>
#include <vector>

namespace oess::data {

struct ManifestBuildOptions {
  std::string dir, out, labels, label_column, key_column, patient_from;
  std::string grade_map;  // "2=0,3=1,4=2,5=3": the labels' values -> grades (issue #32)
};

struct BuiltManifest {
  std::string csv;     // the manifest's text
  std::string layout;  // "grade folders", "binary folders" or "labels file FILE"
  int rows = 0, patients = 0, ignored_files = 0, unlabelled_images = 0;
  std::array<int, 4> per_grade{};
  std::vector<std::string> notes;          // what was left out, and why
  std::vector<std::string> extra_columns;  // the labels file's columns carried over, in its order
};

BuiltManifest build_manifest(const ManifestBuildOptions& options);

}  // namespace oess::data
