#pragma once
// oess/settings/settings.h — what an experiment's stages need, read from its config. Shared by the chain
// (experiment/) and the export of a run (export/), so it sits below both.
//
// settings_from(config) checks what the schema alone cannot: tap names, the crop, the device, the weights
//   file and its flavour, split and classifier options (oess::UsageError "KEY: what is wrong").
// manifest_file(s): the manifest a run reads: data.manifest, or the synthetic dataset's labels.csv.
#include <cstdint>
#include <string>
#include <vector>

#include "oess/config/choices.h"
#include "oess/config/config.h"
#include "oess/core/warning.h"
#include "oess/data/manifest.h"
#include "oess/data/split.h"
#include "oess/data/synth.h"
#include "oess/features/extractor.h"
#include "oess/finetune/options.h"
#include "oess/train/classifier.h"

namespace oess::settings {

struct Settings {
  std::string name, description, out_dir;
  uint64_t seed = 0;
  std::string manifest = "synthetic";
  data::SynthOptions synth;
  data::SplitOptions split;
  config::Balance balance = config::Balance::kOversample;
  bool augment = false;
  features::ExtractOptions extract;  // taps, cache, crop, backbone ...; pooling set per entry of poolings
  std::vector<std::string> poolings{"avg"};
  train::TrainOptions train;
  int train_threads = 2;
  std::string selection = "best";
  int members = 10;
  std::vector<std::string> ensemble_taps{"best"};
  config::Variation variation = config::Variation::kGrid;
  bool report_md = true, report_html = true;
  bool export_onnx = false;  // output.export lists onnx: the export stage also writes model/model.onnx
  int bootstrap = 2000;
  std::vector<std::string> evaluate_by;   // evaluate.by (+ leave_group_out's group column, first)
  bool calibrate = false;                 // calibration.method: temperature or platt
  bool platt = false;                     // calibration.method: platt (binary only)
  int gallery = 12;                       // report.gallery
  std::string report_scale = "OESS";      // report.scale
  std::vector<std::string> binary_names;  // report.binary_names: none or two
  data::ManifestColumns columns;          // data.columns.*
  bool allow_empty_grades =
      false;                  // selection.allow_empty_grades: pick a tap with a grade absent from validation
  bool beside_study = false;  // report.beside_study: the report's "Beside the study" section
  bool check_data = true;     // data.check: decode and fingerprint every image in the data stage
  bool allow_duplicates = false;     // data.allow_duplicates: the same picture in two parts is a warning
  std::vector<RunWarning> warnings;  // what reading the config changed or could not guarantee
  // finetune.*: the finetune stage (off unless enabled). net.head_tap and net.classes are filled at the
  // stage (the selected tap; the task's classes); net.train_from may be "auto" (the tap before the head's).
  bool finetune = false;
  finetune::Options finetune_net;
  finetune::TrainerOptions finetune_trainer;
  int finetune_views = 0;  // augmented views per training item (finetune.views)
};

Settings settings_from(const config::Config& c);

std::string manifest_file(const Settings& s);

}  // namespace oess::settings
