// `oess agreement`: how much several readers agree on the same images, and the model as one more reader
// (metrics/readers.h; docs/readers.md).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <map>
#include <memory>

#include "commands.h"
#include "oess/core/atomic_file.h"
#include "oess/core/error.h"
#include "oess/data/manifest.h"
#include "oess/data/readers.h"
#include "oess/metrics/evaluate.h"
#include "oess/metrics/readers.h"
#include "options.h"

namespace oess::cli {
namespace {

struct AgreementArgs {
  std::string manifest, json, predictions, consensus = "majority", pair;
  std::vector<std::string> readers, grades;
  int bootstrap = 2000;
  uint64_t seed = 0;
};

std::vector<std::string> split_commas(const std::vector<std::string>& in) {  // --readers a,b --readers c
  std::vector<std::string> out;
  for (const auto& item : in)
    for (auto& x : split_list(item)) out.push_back(x);
  return out;
}

void run_agreement(const AgreementArgs& a) {
  if (a.bootstrap < 1) throw UsageError("--bootstrap must be >= 1");
  data::ConsensusRule rule;
  if (!data::parse_consensus(a.consensus, rule))
    throw UsageError(fmt::format("--consensus \"{}\": majority, median or mean_rounded", a.consensus));
  const auto readers = split_commas(a.readers);
  if (readers.empty() && a.grades.empty())
    throw UsageError(
        "name the readers: --readers COL,COL,... (manifest columns) and/or --grades FILE "
        "(path,reader,grade)");
  data::ManifestColumns cols;
  cols.readers = readers;
  cols.label = "none";
  const auto m = data::read_manifest(a.manifest, /*check_files=*/false, cols);
  metrics::ReaderTable t;
  t.readers = readers;
  for (const auto& s : m.samples)
    t.grades.push_back(s.reader_grades.empty() ? std::vector<int>{} : s.reader_grades);
  if (!a.grades.empty()) {
    const auto g = data::read_grade_files(m, a.grades);
    for (const auto& r : g.readers) {
      if (std::find(t.readers.begin(), t.readers.end(), r) != t.readers.end())
        throw UsageError(fmt::format("reader {} is both a manifest column and in a --grades file", r));
      t.readers.push_back(r);
    }
    for (size_t i = 0; i < t.grades.size(); ++i)
      t.grades[i].insert(t.grades[i].end(), g.grades[i].begin(), g.grades[i].end());
  }
  if (t.readers.size() < 2)
    throw UsageError(fmt::format("agreement needs two readers or more ({} given)", t.readers.size()));
  if (m.has_patient)
    for (const auto& s : m.samples) t.units.push_back(s.patient);
  std::vector<int> model;
  if (!a.predictions.empty()) {
    const auto p = metrics::read_predictions(a.predictions);
    std::map<std::string, int> pred;  // by the path as written (predictions.csv repeats the manifest's)
    for (size_t i = 0; i < p.path.size(); ++i) pred[p.path[i]] = p.pred[i];
    std::vector<size_t> keep;
    for (size_t i = 0; i < m.samples.size(); ++i) {
      auto it = pred.find(m.samples[i].rel_path);
      if (it == pred.end()) it = pred.find(m.samples[i].path);
      if (it == pred.end()) continue;
      keep.push_back(i);
      model.push_back(it->second);
    }
    if (keep.empty())
      throw Error(fmt::format("{}: none of its images are in the manifest {}", a.predictions, a.manifest));
    if (p.binary)
      throw UsageError(fmt::format("{}: binary predictions; the readers grade 0-3", a.predictions));
    t = t.rows(keep);
    fmt::print("the model: {} of the manifest's {} images are in {}\n", keep.size(), m.samples.size(),
               a.predictions);
  }
  std::pair<int, int> pair{-1, -1};
  if (!a.pair.empty()) {
    const auto two = split_commas({a.pair});
    auto at = [&t](const std::string& r) {
      auto it = std::find(t.readers.begin(), t.readers.end(), r);
      if (it == t.readers.end())
        throw UsageError(
            fmt::format("--pair: {} is not one of the readers ({})", r, fmt::join(t.readers, ", ")));
      return static_cast<int>(it - t.readers.begin());
    };
    if (two.size() != 2) throw UsageError("--pair: two readers, A,B");
    pair = {at(two[0]), at(two[1])};
  }
  const auto result = metrics::agreement(t, model, rule, a.bootstrap, a.seed);
  fmt::print("{}", metrics::agreement_text(result, pair));
  if (!a.json.empty()) write_file_atomic(a.json, metrics::agreement_json(result, pair));
}

}  // namespace

void add_agreement_command(CLI::App& app) {
  auto a = std::make_shared<AgreementArgs>();
  auto* sub = app.add_subcommand("agreement",
                                 "How much several readers agree on the same images (Cohen's, Fleiss' kappa, "
                                 "Krippendorff's alpha, ICCs), and the model as one more reader");
  sub->add_option("manifest", a->manifest,
                  "the manifest (CSV with path; patient for the bootstrap by patient)")
      ->required();
  sub->add_option("--readers", a->readers,
                  "reader grade columns of the manifest, COL,COL,... (empty cell: not graded)");
  sub->add_option("--grades", a->grades,
                  "files of path,reader,grade rows (what `oess read` writes); repeatable");
  sub->add_option("--predictions", a->predictions,
                  "a run's predictions.csv: the model as one more reader on the images it predicted");
  sub->add_option("--consensus", a->consensus,
                  "the readers' consensus for the model's comparison: majority, "
                  "median or mean_rounded")
      ->capture_default_str();
  sub->add_option("--pair", a->pair, "A,B: also print the confusion table of two readers");
  sub->add_option("--bootstrap", a->bootstrap,
                  "bootstrap resamples for the 95% intervals (patients when the "
                  "manifest has them)")
      ->capture_default_str();
  sub->add_option("--seed", a->seed, "bootstrap seed")->capture_default_str();
  sub->add_option("--json", a->json, "also write every figure as JSON (docs/readers.md names the keys)");
  sub->footer(
      "Grades are 0-3; an empty cell is a grade not given. docs/readers.md says what each statistic is.");
  sub->callback([a] { run_agreement(*a); });
}

}  // namespace oess::cli
