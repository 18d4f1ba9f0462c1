// `oess manifest`: a manifest from a folder of images; `oess data check`: a look at a dataset before
// training (docs/data.md, "From a folder of images to a first run").
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <memory>

#include "commands.h"
#include "oess/core/atomic_file.h"
#include "oess/core/error.h"
#include "oess/data/folds.h"
#include "oess/data/manifest_builder.h"
#include "oess/experiment/chain.h"
#include "oess/experiment/kfold.h"
#include "options.h"

namespace oess::cli {
namespace {

namespace fs = std::filesystem;

struct ManifestArgs {
  data::ManifestBuildOptions o;
  bool force = false;
};

void run_manifest(const ManifestArgs& a) {
  if (fs::exists(a.o.out) && !a.force)
    throw UsageError(fmt::format("{} exists: give another --out, or --force to replace it", a.o.out));
  const auto b = data::build_manifest(a.o);
  const fs::path parent = fs::absolute(a.o.out).parent_path();
  if (!fs::is_directory(parent))
    throw Error(fmt::format("{}: the folder {} does not exist", a.o.out, parent.string()));
  write_file_atomic(a.o.out, b.csv);
  fmt::print("{}: {} images from {} ({}): grade 0: {}, 1: {}, 2: {}, 3: {}{}\n", a.o.out, b.rows, a.o.dir,
             b.layout, b.per_grade[0], b.per_grade[1], b.per_grade[2], b.per_grade[3],
             b.patients ? fmt::format("; {} patients", b.patients) : "");
  if (!b.extra_columns.empty())
    fmt::print("  columns carried over from {}: {} (e.g. evaluate.by, data.split.group_column)\n", a.o.labels,
               fmt::join(b.extra_columns, ", "));
  for (const auto& n : b.notes) fmt::print("  note: {}\n", n);
  fmt::print("next: oess data check {}{}\n", a.o.out,
             a.o.patient_from.empty() ? "" : " --split-method grouped");
}

struct CheckArgs {
  std::string manifest, pairs;
  data::SplitOptions split;
  bool split_given = false, allow_duplicates = false;
  int threads = 2;
};

void run_check(const CheckArgs& a) {
  experiment::Chain c;
  c.s.extract.threads = a.threads;
  c.s.allow_duplicates = a.allow_duplicates;
  c.s.split = a.split;
  c.manifest = data::read_manifest(a.manifest);
  std::vector<int> part;
  std::vector<std::string> names;
  if (a.split_given && experiment::is_kfold(c.s)) {
    experiment::Kfold k;
    k.folds = data::make_folds(c.manifest, data::fold_options(a.split, a.split.seed));
    part = experiment::fold_parts(k);
    names = experiment::fold_part_names(k);
  } else if (a.split_given) {
    c.split = data::make_split(c.manifest, a.split);
    part = experiment::split_parts(c.split);
    names = {"train", "val", "test"};
    const auto cnt = c.split.counts(c.manifest);
    fmt::print("split {}:\n  {:<6} {:>6} {:>6} {:>6} {:>6}\n", config::name(a.split.method), "", "0", "1",
               "2", "3");
    for (size_t p = 0; p < 3; ++p)
      fmt::print("  {:<6} {:>6} {:>6} {:>6} {:>6}\n", names[p], cnt[p][0], cnt[p][1], cnt[p][2], cnt[p][3]);
  }
  experiment::manifest_warnings(c.manifest, c.warnings);
  experiment::check_data(
      c, part, names, [](const std::string& t) { fmt::print("{}", t); }, a.pairs);
  print_warnings(c.warnings, "");
  fmt::print("{}: no errors\n", a.manifest);
}

}  // namespace

void add_manifest_command(CLI::App& app) {
  auto a = std::make_shared<ManifestArgs>();
  auto* sub = app.add_subcommand(
      "manifest", "Write a manifest CSV from a folder of images (grade folders or a labels file)");
  sub->add_option("dir", a->o.dir,
                  "the image folder: DIR/0..DIR/3 (or grade0.., oess0.., healthy/diseased), "
                  "or any layout with --labels")
      ->required();
  sub->add_option("--out", a->o.out, "the manifest to write; its paths are relative to its folder")
      ->required();
  sub->add_option(
      "--labels", a->o.labels,
      "CSV, TSV or semicolon file with a file column (relative path or file name) and a grade column");
  sub->add_option("--label-column", a->o.label_column,
                  "the labels' grade column (default: score, grade, oess or label)");
  sub->add_option("--key-column", a->o.key_column,
                  "the labels' file column (default: path, file, filename, image or name)");
  sub->add_option(
      "--patient-from", a->o.patient_from,
      "dicom (PatientID) | folder (first level below the grade folder) | regex:RE (first group, on the "
      "path relative to DIR) | column:COL (the --labels file's column COL)");
  sub->add_option(
      "--grade-map", a->o.grade_map,
      "map the labels' values to OESS grades, e.g. BI-RADS 2-5: --grade-map 2=0,3=1,4=2,5=3 (the raw "
      "column is kept)");
  sub->add_flag("--force", a->force, "replace an existing --out");
  sub->footer(
      "Then: oess data check CSV, and set data.manifest: CSV in a copy of "
      "experiments/template_own_images.yaml (docs/data.md).");
  sub->callback([a] { run_manifest(*a); });

  auto* data = app.add_subcommand("data", "Dataset tools: check, mask, frames");
  data->require_subcommand(1);
  auto c = std::make_shared<CheckArgs>();
  auto* check = data->add_subcommand(
      "check",
      "Decode every image of a manifest: unreadable files, sizes, colour modes, colour boxes, duplicates");
  check->add_option("manifest", c->manifest, "manifest CSV")->required();
  add_split_options(*check, c->split);
  check->add_option("--threads", c->threads, "decoding threads")->capture_default_str();
  check->add_option("--pairs", c->pairs,
                    "folder for a side-by-side PNG of each duplicate group's first two images, to look at");
  check->add_flag("--allow-duplicates", c->allow_duplicates,
                  "a duplicate across parts of the split is a warning, not an error");
  check->footer(
      "Without --split-method no split is made (duplicates across grades and patients are still reported).\n"
      "Exit 1 when an image cannot be read, or (with a split) the same picture is in two parts: the\n"
      "conditions that stop `oess run`, which runs this check in its data stage (data.check).");
  check->callback([c, check] {
    c->split_given = check->count("--split-method") > 0;
    run_check(*c);
  });
  add_data_mask_command(*data);
  add_data_frames_command(*data);
}

}  // namespace oess::cli
