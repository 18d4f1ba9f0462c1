// `oess synth`: the synthetic OESS Doppler dataset.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <memory>

#include "commands.h"
#include "oess/core/error.h"
#include "oess/core/progress.h"
#include "oess/data/image.h"
#include "oess/data/synth.h"

namespace oess::cli {
namespace {

std::array<int, 4> parse_counts(const std::string& s) {
  std::array<int, 4> c{};
  char tail;
  if (std::sscanf(s.c_str(), "%d,%d,%d,%d%c", &c[0], &c[1], &c[2], &c[3], &tail) != 4 || c[0] < 0 ||
      c[1] < 0 || c[2] < 0 || c[3] < 0)
    throw UsageError(fmt::format(
        "--counts \"{}\": expected four non-negative integers, grades 0..3, e.g. 742,425,307,220", s));
  return c;
}

struct SynthArgs {
  data::SynthOptions o;
  std::string counts = "742,425,307,220", size = "384x288", montage;
  int per_grade = 6;
  std::vector<std::string> readers;
};

void run_synth(const SynthArgs& a) {
  if (!a.montage.empty()) {
    if (a.per_grade < 1 || a.per_grade > 20) throw UsageError("--per-grade must be 1..20");
    const cv::Mat m = data::synth_montage(a.per_grade, a.o.seed);
    data::write_image_atomic(a.montage, m);
    fmt::print("wrote {} ({} x {} px, {} images per grade)\n", a.montage, m.cols, m.rows, a.per_grade);
    return;
  }
  data::SynthOptions o = a.o;
  o.counts = parse_counts(a.counts);
  for (const auto& r : a.readers) o.readers.push_back(data::parse_synth_reader(r));
  if (std::sscanf(a.size.c_str(), "%dx%d", &o.width, &o.height) != 2 || o.width < 192 || o.height < 144 ||
      o.width > 4096 || o.height > 4096)
    throw UsageError(fmt::format("--size \"{}\": expected WIDTHxHEIGHT, at least 192x144", a.size));
  const int total = o.counts[0] + o.counts[1] + o.counts[2] + o.counts[3];
  Progress bar("synth", total);
  const auto s = data::generate_dataset(o, [&bar](int done, int) { bar.update(done); });
  bar.finish(fmt::format("label noise moved {} score(s)", s.relabelled));
  fmt::print(
      "wrote {}/labels.csv and {} images: recorded scores {}/{}/{}/{} (true {}/{}/{}/{}), {} patients\n",
      o.out_dir, s.images, s.recorded[0], s.recorded[1], s.recorded[2], s.recorded[3], s.truth[0], s.truth[1],
      s.truth[2], s.truth[3], o.patients);
}

}  // namespace

void add_synth_command(CLI::App& app) {
  auto a = std::make_shared<SynthArgs>();
  auto* sub = app.add_subcommand("synth", "Make a synthetic colour-Doppler dataset with OESS ground truth");
  sub->add_option("--out", a->o.out_dir, "output folder: images/ and labels.csv (the manifest)");
  sub->add_option("--counts", a->counts, "images per grade 0,1,2,3 (default: the study's Table 1)")
      ->capture_default_str();
  sub->add_option("--seed", a->o.seed, "random seed")->capture_default_str();
  sub->add_option(
         "--noise", a->o.label_noise,
         "label noise: probability that a recorded score is moved one grade (true grade kept in true_score)")
      ->capture_default_str();
  sub->add_option("--size", a->size, "image size WIDTHxHEIGHT")->capture_default_str();
  sub->add_option("--patients", a->o.patients, "number of patients")->capture_default_str();
  sub->add_option("--threads", a->o.threads, "worker threads")->capture_default_str();
  sub->add_flag("--force", a->o.force, "replace an existing dataset in --out");
  sub->add_option("--clips", a->o.clip_frames,
                  "instead of stills: clips of N frames (images/*.avi, FFV1, lossless) under a still probe, "
                  "the synovial flow pulsing so that about a quarter of the frames show the clip's grade");
  sub->add_option(
      "--reader", a->readers,
      "add a reader column NAME:BIAS:NOISE[:MISSING]: the true grade + BIAS + NOISE x N(0, 1), rounded "
      "and kept in 0..3, not graded with probability MISSING (e.g. strict:0.6:0.4); repeatable");
  sub->add_option("--montage", a->montage, "instead: write a PNG montage, one row per grade, to this file");
  sub->add_option("--per-grade", a->per_grade, "montage: images per grade")->capture_default_str();
  sub->footer(
      "Grades follow the OESS Doppler definitions (docs/synthetic.md); every image is measured before it is\n"
      "written. labels.csv: path,score,patient,joint,true_score,doppler_fraction, then one column per "
      "--reader.\n"
      "Deterministic per --seed, whatever --threads.");
  sub->callback([a] {
    if (a->montage.empty() && a->o.out_dir.empty())
      throw UsageError("synth: --out DIR (or --montage FILE) is required");
    run_synth(*a);
  });
}

}  // namespace oess::cli
